"""Mastodon statuses from the REST API: HTML content, reblogs, handles across servers."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.ingest import plan_inputs

FIXTURES = Path(__file__).parent / "fixtures"
STATUSES = FIXTURES / "mastodon_statuses.json"  # an account's statuses, pretty-printed array
STATUS = FIXTURES / "mastodon_status.json"  # one status, minified as the API sends it

MFA_ACCOUNT = "109371283719537412"
MFA_HANDLE = "mfa_atlantis@social.atlantis.example"
SAHEL, ARABIC, REPLY, REBLOG, WARNING, VIDEO = (
    "109625174423112233", "109630184010938271", "109636201766452811", "109641051930021174",
    "109653722096880412", "109659313502417765")
EMBASSY_STATUS = "109641002213398876"
EMBASSY_TEXT = "L’Ambassade à Paris reste à la disposition de nos ressortissants.\nNuméro d’urgence : +33 1 45 00 00 00"


@pytest.fixture(scope="module")
def statuses(run_ingest):
    return run_ingest([STATUSES], {"batch_size": 4})


def test_mastodon_array_and_single_status_are_detected_from_their_content():
    planned = {p.path.name: (p.reader.name, p.sample.container) for p in plan_inputs([str(STATUSES), str(STATUS)])}
    assert planned == {STATUSES.name: ("mastodon", "json-document"), STATUS.name: ("mastodon", "json-lines")}


def test_mastodon_counts_balance(statuses):
    assert (statuses.read, len(statuses.posts), len(statuses.quarantine), statuses.duplicates) == (7, 6, 1, 0)


def test_status_maps_account_counts_and_time(statuses):
    row = statuses.post(SAHEL)
    assert (row["platform"], row["post_id_origin"]) == ("mastodon", "native")
    assert (row["account_id"], row["account_handle"]) == (MFA_ACCOUNT, MFA_HANDLE)
    assert row["created_at"] == pd.Timestamp("2023-01-03 11:30:00", tz="UTC")
    assert (row["likes"], row["reposts"], row["replies"], row["followers"]) == (25, 12, 3, 8421)
    assert row["lang_declared"] == "fr"
    assert row["url"] == f"https://social.atlantis.example/@mfa_atlantis/{SAHEL}"
    assert (row["is_reply"], row["is_repost"], row["is_quote"]) == (False, False, False)
    assert row["media_type"] == "link"  # a preview card


def test_html_content_becomes_plain_text_with_full_links(statuses):
    # Paragraphs become lines, entities are decoded, and a link keeps the parts Mastodon hides.
    assert statuses.post(SAHEL)["text"] == (
        "La ministre s’est entretenue avec son homologue malien. Coopération sécuritaire & aide humanitaire au menu.\n"
        "Communiqué : https://www.mfa.atlantis.example/fr/communiques/sahel-2023 #Sahel")
    assert statuses.post(ARABIC)["text"] == "وزير الخارجية يستقبل سفير المملكة المغربية\nلبحث تعزيز العلاقات الثنائية"


def test_reply_points_at_the_replied_status(statuses):
    row = statuses.post(REPLY)
    assert (row["is_reply"], row["reply_to_id"]) == (True, "109636118206533402")
    assert row["text"] == ("@UNHumanRights Atlantis welcomes the report & will engage constructively in the "
                           "Universal Periodic Review.")


def test_reblog_takes_the_reblogged_text_and_points_at_it(statuses):
    row = statuses.post(REBLOG)
    assert (row["is_reply"], row["is_repost"], row["is_quote"]) == (False, True, False)
    assert row["repost_of_id"] == EMBASSY_STATUS
    assert row["text"] == EMBASSY_TEXT
    assert row["lang_declared"] == "fr"
    assert row["account_handle"] == MFA_HANDLE  # the account that reblogged
    assert row["created_at"] == pd.Timestamp("2023-01-06 09:12:10", tz="UTC")


def test_content_warning_is_kept_before_the_text(statuses):
    assert statuses.post(WARNING)["text"] == (
        "Conflit au Soudan\nAtlantis appelle à un cessez-le-feu immédiat et à un accès humanitaire sans entrave.")


def test_media_attachment_types_use_the_common_vocabulary(statuses):
    types = {post_id: statuses.post(post_id)["media_type"] for post_id in (ARABIC, WARNING, VIDEO, REPLY)}
    assert types == {ARABIC: "photo", WARNING: "gif", VIDEO: "video", REPLY: None}


def test_malformed_status_is_quarantined_with_reason_and_raw_json(statuses):
    [row] = statuses.quarantine.to_dict("records")
    assert (row["source_row"], row["format"]) == (6, "mastodon")
    assert row["reason"].startswith("invalid JSON: Expecting value")
    assert row["raw"].startswith('{\n    "id": "109656001122334455",') and '"language": fr' in row["raw"]


def test_single_status_from_another_server_gets_a_full_handle(run_ingest):
    row = run_ingest([STATUS]).post(EMBASSY_STATUS)
    # acct is bare on the account's own server: the handle is completed from its profile URL.
    assert (row["account_id"], row["account_handle"]) == ("109371290035561207", "AtlantisEmbParis@mastodon.social")
    assert (row["text"], row["followers"], row["likes"]) == (EMBASSY_TEXT, 1260, 60)


def test_json_lines_of_statuses_are_read(run_ingest, tmp_path):
    status = json.loads(STATUS.read_text("utf-8"))
    later = dict(status, id="109642000000000001", created_at="2023-01-06T12:00:00.000Z",
                 content="<p>Merci à tous pour vos messages&nbsp;!</p>")
    path = tmp_path / "statuses.jsonl"
    path.write_text(f"{json.dumps(status)}\n{json.dumps(later)}\n", "utf-8")
    result = run_ingest([path])
    assert result.formats == {"statuses.jsonl": "mastodon"}
    assert result.posts["post_id"].tolist() == [EMBASSY_STATUS, "109642000000000001"]
    assert result.post("109642000000000001")["text"] == "Merci à tous pour vos messages\u00a0!"
