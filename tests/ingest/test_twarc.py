"""twarc2 flattened JSON lines and twarc-csv exports (Twitter API v2 field names)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.ingest import plan_inputs

FIXTURES = Path(__file__).parent / "fixtures"
TWARC_CSV = FIXTURES / "twarc_csv.csv"
TWARC_JSONL = FIXTURES / "twarc2_flat.jsonl"

MFA_ID, EMBASSY_ID, ARABIC_DESK_ID = "1187329107381612544", "2950143211", "880412366917234688"
SAHEL_TEXT = ("La ministre s’est entretenue avec son homologue malien.\n"
              "Coopération sécuritaire au Sahel et aide humanitaire au menu. #Sahel")


@pytest.fixture(scope="module")
def twarc_csv(run_ingest):
    return run_ingest([TWARC_CSV], {"batch_size": 2})


@pytest.fixture(scope="module")
def twarc_jsonl(run_ingest):
    return run_ingest([TWARC_JSONL], {"batch_size": 2})


def test_twarc_files_are_detected_from_their_content():
    planned = {p.path.name: p.reader.name for p in plan_inputs([str(TWARC_CSV), str(TWARC_JSONL)])}
    assert planned == {"twarc_csv.csv": "twarc-csv", "twarc2_flat.jsonl": "twarc2-jsonl"}


def test_twarc2_line_longer_than_the_sniffed_head_is_still_detected(tmp_path):
    # Lines carry their expansions (referenced tweets, users): some run past 32 KB.
    first = json.loads(TWARC_JSONL.read_text("utf-8").splitlines()[0])
    first["author"]["description"] = "Ministère des affaires étrangères. " * 2000
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps(first, ensure_ascii=False) + "\n", "utf-8")
    [planned] = plan_inputs([str(path)])
    assert planned.reader.name == "twarc2-jsonl"


# --- twarc-csv --------------------------------------------------------------------------

def test_twarc_csv_counts_balance(twarc_csv):
    assert (twarc_csv.read, len(twarc_csv.posts), len(twarc_csv.quarantine), twarc_csv.duplicates) == (5, 4, 1, 0)


def test_twarc_csv_original_post_maps_ids_author_metrics_and_followers(twarc_csv):
    row = twarc_csv.post("1610231866203078657")
    assert row["post_id_origin"] == "native"
    assert row["platform"] == "twitter"
    assert (row["account_id"], row["account_handle"]) == (MFA_ID, "mfa_atlantis")
    assert row["created_at"] == pd.Timestamp("2023-01-03 11:30:00", tz="UTC")
    assert row["lang_declared"] == "fr"
    assert (row["likes"], row["reposts"], row["replies"], row["quotes"], row["views"]) == (310, 85, 12, 7, 15230)
    assert row["followers"] == 1_234_567
    assert row["url"] == "https://twitter.com/mfa_atlantis/status/1610231866203078657"
    assert (row["is_reply"], row["is_repost"], row["is_quote"]) == (False, False, False)
    assert row["source_row"] == 1


def test_twarc_csv_restores_the_newlines_it_escaped(twarc_csv):
    assert twarc_csv.post("1610231866203078657")["text"] == SAHEL_TEXT


def test_twarc_csv_reply_points_at_the_replied_tweet_and_user(twarc_csv):
    row = twarc_csv.post("1610299142857285632")
    assert (row["is_reply"], row["is_repost"], row["is_quote"]) == (True, False, False)
    assert row["reply_to_id"] == "1610231866203078657"
    assert row["reply_to_handle"] == "mfa_atlantis"
    assert (row["account_id"], row["account_handle"]) == (EMBASSY_ID, "AtlantisEmbParis")
    assert row["text"] == "@mfa_atlantis L’Ambassade à Paris reste à la disposition de nos ressortissants."
    assert row["followers"] == 48_210


def test_twarc_csv_retweet_is_a_repost_of_the_original(twarc_csv):
    row = twarc_csv.post("1610305511221932033")
    assert (row["is_reply"], row["is_repost"], row["is_quote"]) == (False, True, False)
    assert row["repost_of_id"] == "1610231866203078657"
    assert row["text"] == SAHEL_TEXT  # twarc-csv puts the retweeted text in place of "RT @..."
    assert row["account_handle"] == "AtlantisEmbParis"


def test_twarc_csv_quote_keeps_arabic_text(twarc_csv):
    row = twarc_csv.post("1610652093837787136")
    assert (row["is_reply"], row["is_repost"], row["is_quote"]) == (False, False, True)
    assert row["quote_of_id"] == "1610231866203078657"
    assert row["text"] == "وزير الخارجية يستقبل سفير فرنسا لبحث العلاقات الثنائية وسبل تعزيزها https://t.co/Qx3vLm8kPz"
    assert row["lang_declared"] == "ar"
    assert (row["account_id"], row["account_handle"], row["followers"]) == (ARABIC_DESK_ID, "AtlantisMFA_ar", 302_114)
    assert (row["likes"], row["reposts"], row["replies"], row["quotes"], row["views"]) == (1544, 210, 35, 18, 40112)


def test_twarc_csv_non_numeric_like_count_quarantines_the_row(twarc_csv):
    [row] = twarc_csv.quarantine.to_dict("records")
    assert (row["source_row"], row["format"], row["reason"]) == (5, "twarc-csv", "likes is not a non-negative integer")
    assert row["raw"].startswith("1610998512009945088,1610998512009945088,,,,1187329107381612544,")
    assert ",9034,6,41,3,1.2K,everyone," in row["raw"]
    assert row["raw"].endswith(",2.13.0")


# --- twarc2 flattened JSON lines --------------------------------------------------------

def test_twarc2_counts_balance_with_a_broken_line_and_a_repeated_tweet(twarc_jsonl):
    assert (twarc_jsonl.read, len(twarc_jsonl.posts), len(twarc_jsonl.quarantine), twarc_jsonl.duplicates) == (7, 5, 1, 1)
    assert twarc_jsonl.posts["post_id"].is_unique


def test_twarc2_broken_line_is_quarantined_with_its_text(twarc_jsonl):
    [row] = twarc_jsonl.quarantine.to_dict("records")
    assert (row["source_row"], row["format"]) == (4, "twarc2-jsonl")
    assert row["reason"].startswith("invalid JSON: Unterminated string")
    expected = TWARC_JSONL.read_text("utf-8").splitlines()[3]
    assert row["raw"] == expected
    assert row["raw"].startswith('{"edit_history_tweet_ids": ["1611044502287646721"]')


def test_twarc2_original_maps_nested_author_and_public_metrics(twarc_jsonl):
    row = twarc_jsonl.post("1611020745963933696")
    assert (row["account_id"], row["account_handle"]) == (MFA_ID, "mfa_atlantis")
    assert row["platform"] == "twitter"
    assert row["created_at"] == pd.Timestamp("2023-01-05 15:44:43", tz="UTC")
    assert row["text"] == ("The Minister welcomed the renewal of the UN mandate in Mali. Atlantis will keep "
                           "supporting MINUSMA.\n\nFull statement: https://t.co/3nV0pQ2xLb")
    assert (row["likes"], row["reposts"], row["replies"], row["quotes"], row["views"]) == (455, 120, 14, 9, 38211)
    assert row["followers"] == 1_234_567
    assert row["lang_declared"] == "en"
    assert row["url"] == "https://twitter.com/mfa_atlantis/status/1611020745963933696"
    assert (row["is_reply"], row["is_repost"], row["is_quote"]) == (False, False, False)
    assert row["source_row"] == 1  # the repeat on line 7 is the duplicate


def test_twarc2_replies_read_the_referenced_tweets_list(twarc_jsonl):
    question = twarc_jsonl.post("1611033412250374145")
    assert (question["is_reply"], question["reply_to_id"], question["reply_to_handle"]) == (
        True, "1611020745963933696", "mfa_atlantis")
    assert question["text"] == "@mfa_atlantis هل السفارة في باماكو مفتوحة للمواطنين هذا الأسبوع؟"
    assert question["lang_declared"] == "ar"
    assert (question["account_handle"], question["followers"]) == ("sara_k_travels", 214)
    answer = twarc_jsonl.post("1611040118723932160")
    assert (answer["is_reply"], answer["reply_to_id"], answer["reply_to_handle"]) == (
        True, "1611033412250374145", "sara_k_travels")
    assert answer["text"] == "@sara_k_travels Oui, la section consulaire est ouverte du lundi au jeudi, de 9h à 13h."


def test_twarc2_retweet_and_quote_are_flagged_with_their_targets(twarc_jsonl):
    retweet = twarc_jsonl.post("1611051874590179330")
    assert (retweet["is_reply"], retweet["is_repost"], retweet["is_quote"]) == (False, True, False)
    assert retweet["repost_of_id"] == "1611020745963933696"
    assert retweet["text"].startswith("RT @mfa_atlantis: The Minister welcomed")
    assert (retweet["likes"], retweet["reposts"]) == (0, 120)
    quote = twarc_jsonl.post("1611077120154664960")
    assert (quote["is_reply"], quote["is_repost"], quote["is_quote"]) == (False, False, True)
    assert quote["quote_of_id"] == "1611020745963933696"
    assert quote["text"] == "تجديد ولاية بعثة الأمم المتحدة في مالي خطوة مهمة للاستقرار في منطقة الساحل"
    assert (quote["account_id"], quote["account_handle"]) == (ARABIC_DESK_ID, "AtlantisMFA_ar")
