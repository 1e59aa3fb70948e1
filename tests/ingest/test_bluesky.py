"""Bluesky: an author feed (feedViewPosts), repo records as JSON lines, getPosts documents."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.ingest import plan_inputs

FIXTURES = Path(__file__).parent / "fixtures"
AUTHOR_FEED = FIXTURES / "bluesky_author_feed.json"  # app.bsky.feed.getAuthorFeed of the ministry
RECORDS = FIXTURES / "bluesky_records.jsonl"  # the embassy's repo records, one per line

MFA_DID, EMBASSY_DID = "did:plc:ujzdegxdncf32epf3dhodzdo", "did:plc:cis2jhtlgmxgedn73u55xtpl"
UN_POST = "at://did:plc:pft7v4seh2kvj72ceuvw75ef/app.bsky.feed.post/3kmpz5a2fdc2h"


def mfa_post(rkey: str) -> str:
    return f"at://{MFA_DID}/app.bsky.feed.post/{rkey}"


def embassy_post(rkey: str) -> str:
    return f"at://{EMBASSY_DID}/app.bsky.feed.post/{rkey}"


PINNED, REPLY, QUOTE, ARABIC = (mfa_post(k) for k in ("3kmn4hrvxqk2a", "3kmq2wjsbxs2o", "3kmuyd4vqgc2p", "3kmxl2ozs3k2d"))
REPOST = f"at://{MFA_DID}/app.bsky.feed.repost/3kmsb5ryzfk2x"


@pytest.fixture(scope="module")
def feed(run_ingest):
    return run_ingest([AUTHOR_FEED], {"batch_size": 4})


@pytest.fixture(scope="module")
def records(run_ingest):
    return run_ingest([RECORDS])


def test_bluesky_files_are_detected_from_their_content():
    planned = {p.path.name: p.reader.name for p in plan_inputs([str(AUTHOR_FEED), str(RECORDS)])}
    assert planned == {AUTHOR_FEED.name: "bluesky", RECORDS.name: "bluesky"}


def test_author_feed_counts_balance_with_the_pinned_post_repeated(feed):
    # getAuthorFeed lists the pinned post first and again at its date: the repeat is a duplicate.
    assert (feed.read, len(feed.posts), len(feed.quarantine), feed.duplicates) == (6, 5, 0, 1)


def test_post_view_maps_author_counts_time_and_url(feed):
    row = feed.post(PINNED)
    assert (row["platform"], row["post_id_origin"]) == ("bluesky", "native")
    assert (row["account_id"], row["account_handle"]) == (MFA_DID, "mfa.atlantis.example")
    assert row["created_at"] == pd.Timestamp("2024-03-04 11:30:00.412", tz="UTC")
    assert (row["likes"], row["reposts"], row["replies"], row["quotes"]) == (25, 12, 3, 1)
    assert row["lang_declared"] == "fr"
    assert row["url"] == "https://bsky.app/profile/mfa.atlantis.example/post/3kmn4hrvxqk2a"
    assert row["media_type"] == "link"  # app.bsky.embed.external
    assert row["text"].startswith("La ministre s’est entretenue avec son homologue malien.")
    assert (row["is_reply"], row["is_repost"], row["is_quote"]) == (False, False, False)


def test_repost_in_a_feed_belongs_to_the_reposting_account(feed):
    row = feed.post(REPOST)
    assert (row["is_reply"], row["is_repost"], row["is_quote"]) == (False, True, False)
    assert row["repost_of_id"] == embassy_post("3kmsaq7l2tk2c")
    assert (row["account_id"], row["account_handle"]) == (MFA_DID, "mfa.atlantis.example")
    assert row["created_at"] == pd.Timestamp("2024-03-06 09:12:10.551", tz="UTC")  # when reposted
    assert row["text"].startswith("L’Ambassade à Paris reste à la disposition")
    assert pd.isna(row["likes"]) and pd.isna(row["reposts"])  # the counts are the original's


def test_reply_points_at_its_parent_post(feed):
    row = feed.post(REPLY)
    assert (row["is_reply"], row["reply_to_id"]) == (True, UN_POST)
    assert row["lang_declared"] == "en"


def test_quote_with_images_points_at_the_quoted_post(feed):
    row = feed.post(QUOTE)
    assert (row["is_quote"], row["quote_of_id"], row["media_type"]) == (True, UN_POST, "photo")


def test_arabic_post_with_images(feed):
    row = feed.post(ARABIC)
    assert row["text"] == "وزير الخارجية يستقبل سفير المملكة المغربية لبحث تعزيز العلاقات الثنائية"
    assert (row["lang_declared"], row["media_type"], row["likes"]) == ("ar", "photo", 88)


def test_records_counts_balance(records):
    assert (records.read, len(records.posts), len(records.quarantine), records.duplicates) == (6, 5, 1, 0)


def test_repo_record_takes_its_account_from_the_at_uri(records):
    row = records.post(embassy_post("3kmqqjvbk2s2a"))
    assert (row["account_id"], row["account_handle"]) == (EMBASSY_DID, None)
    assert row["url"] == f"https://bsky.app/profile/{EMBASSY_DID}/post/3kmqqjvbk2s2a"
    assert row["created_at"] == pd.Timestamp("2024-03-05 10:00:00", tz="UTC")
    assert row["media_type"] == "link"
    assert pd.isna(row["likes"])  # records carry no counts


def test_repo_records_quote_and_reply(records):
    quote = records.post(embassy_post("3kmv3rj7pnc2f"))
    assert (quote["is_quote"], quote["quote_of_id"], quote["media_type"]) == (True, QUOTE, None)
    reply = records.post(embassy_post("3kmvb6cxgtk2e"))
    assert (reply["is_reply"], reply["reply_to_id"]) == (
        True, "at://did:plc:ec6uk3geqfng274loi25phss/app.bsky.feed.post/3kmv7wq2yhs2k")


def test_bare_record_gets_a_content_id(records):
    [row] = records.posts[records.posts["post_id_origin"] == "derived"].to_dict("records")
    assert row["post_id"].startswith("h:")
    assert row["text"] == "عيد مبارك لجميع المسلمين في فرنسا — Aïd Moubarak à tous les musulmans de France"
    assert row["lang_declared"] == "ar"  # the first of its langs
    assert (row["account_id"], row["url"]) == (None, None)


def test_truncated_record_line_is_quarantined_with_its_text(records):
    [row] = records.quarantine.to_dict("records")
    assert (row["source_row"], row["format"]) == (6, "bluesky")
    assert row["reason"].startswith("invalid JSON")
    assert row["raw"] == RECORDS.read_text("utf-8").splitlines()[5]


def test_get_posts_document_and_plain_array_are_read(run_ingest, tmp_path):
    views = [entry["post"] for entry in json.loads(AUTHOR_FEED.read_text("utf-8"))["feed"][1:3]]
    document, array = tmp_path / "getPosts.json", tmp_path / "posts.json"
    document.write_text(json.dumps({"posts": views}, indent=2, ensure_ascii=False), "utf-8")
    array.write_text(json.dumps(views, ensure_ascii=False), "utf-8")
    result = run_ingest([document, array])
    assert result.formats == {"getPosts.json": "bluesky", "posts.json": "bluesky"}
    assert (result.read, len(result.posts), result.duplicates) == (4, 2, 2)
    assert set(result.posts["post_id"]) == {ARABIC, QUOTE}


def test_broken_item_inside_a_feed_document_costs_only_that_item(run_ingest, tmp_path):
    text = AUTHOR_FEED.read_text("utf-8")
    broken = text.replace('"text": "وزير الخارجية', '"text": وزير الخارجية', 1)
    path = tmp_path / "feed.json"
    path.write_text(broken, "utf-8")
    result = run_ingest([path])
    assert (result.read, len(result.posts), len(result.quarantine), result.duplicates) == (6, 4, 1, 1)


def test_generic_json_lines_quoting_an_at_uri_are_not_taken_for_bluesky(tmp_path):
    path = tmp_path / "posts.jsonl"
    post = {"id": "1", "username": "mfa_atlantis", "text": 'Notre compte Bluesky : "at://did:plc:ujzdegxdncf32epf3dhodzdo"'}
    path.write_text(json.dumps(post) + "\n", "utf-8")
    [planned] = plan_inputs([str(path)])
    assert planned.reader.name == "jsonl"
