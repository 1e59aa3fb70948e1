"""Coercion to the canonical schema, quarantine reasons, spreadsheet-mangled ids, deduplication.

Every format goes through the same coercion, so these tests write small generic files.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest


def write_jsonl(path, records) -> list[str]:
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return lines


@pytest.mark.parametrize(
    "record, reason",
    [
        ({"id": "1", "text": ["a", "list"]}, "text has a wrong type (not text)"),
        ({"id": "1", "text": "ok", "username": {"name": "mfa"}}, "account_handle has a wrong type (not text)"),
        ({"id": True, "text": "ok"}, "post_id has a wrong type (not text)"),
        ({"id": "1", "text": None}, "missing text"),
        ({"id": "1", "text": " \n\t"}, "missing text"),
        ({"id": "1", "text": "x" * 41}, "text longer than 40 characters"),
        ({"id": "1", "text": "ok", "likes": -3}, "likes is not a non-negative integer"),
        ({"id": "1", "text": "ok", "likes": 1.5}, "likes is not a non-negative integer"),
        ({"id": "1", "text": "ok", "likes": True}, "likes is not a non-negative integer"),
        ({"id": "1", "text": "ok", "likes": 10**20}, "likes is not a non-negative integer"),
        ({"id": "1", "text": "ok", "followers": "1.2M"}, "followers is not a non-negative integer"),
        ({"id": "1", "text": "ok", "is_reply": "maybe"}, "is_reply is not a boolean"),
        ({"id": "1", "text": "ok", "is_retweet": 2}, "is_repost is not a boolean"),
        ({"id": "1", "text": "ok", "date": "next tuesday"}, "unparseable or out-of-range created_at"),
        ({"id": "1", "text": "ok", "date": "1970-01-01T00:00:00Z"}, "unparseable or out-of-range created_at"),
        ({"id": "1", "text": "ok", "date": "2101-01-01"}, "unparseable or out-of-range created_at"),
        ({"id": "1", "text": "", "likes": -1}, "missing text"),  # the first problem found is the reason
    ],
)
def test_row_that_cannot_be_typed_is_quarantined_with_reason_and_raw_line(run_ingest, tmp_path, record, reason):
    [line] = write_jsonl(tmp_path / "posts.jsonl", [record])
    result = run_ingest([tmp_path / "posts.jsonl"], {"ingest.max_field_chars": 40})
    assert len(result.posts) == 0
    assert result.quarantine[["source_row", "reason", "raw"]].to_dict("records") == [
        {"source_row": 1, "reason": reason, "raw": line}]


def test_reader_level_failures_are_quarantined_next_to_good_rows(run_ingest, tmp_path):
    path = tmp_path / "posts.jsonl"
    path.write_bytes(b'{"id": "1", "text": "good"}\n[1, 2]\n\n{"id": "3", "text": "caf\xe9"}\n{"id": "4", "text": "good"}\n')
    result = run_ingest([path])
    assert result.posts["post_id"].tolist() == ["1", "4"]
    assert result.posts["source_row"].tolist() == [1, 5]
    assert result.quarantine[["source_row", "reason", "raw"]].to_dict("records") == [
        {"source_row": 2, "reason": "expected a JSON object, got list", "raw": "[1, 2]"},
        {"source_row": 4, "reason": "text has invalid bytes (not UTF-8, or NUL)", "raw": '{"id": "3", "text": "caf\\xe9"}'},
    ]
    assert result.read == 4  # the blank line is not a row


def test_counts_accept_thousands_separators_and_whole_floats(run_ingest, tmp_path):
    write_jsonl(tmp_path / "posts.jsonl", [
        {"id": "1", "text": "a", "likes": "1,204", "retweets": "1\u00a0204", "replies": "1\u202f204", "quotes": 12.0,
         "views": "  98 ", "followers": 0},
        {"id": "2", "text": "b", "likes": "", "retweets": None},
    ])
    result = run_ingest([tmp_path / "posts.jsonl"])
    first = result.post("1")
    assert [first[c] for c in ("likes", "reposts", "replies", "quotes", "views", "followers")] == [
        1204, 1204, 1204, 12, 98, 0]
    assert str(result.posts["likes"].dtype) == "Int64"
    second = result.post("2")
    assert pd.isna(second["likes"]) and pd.isna(second["reposts"])


def test_flags_accept_booleans_words_and_zero_one_and_default_from_references(run_ingest, tmp_path):
    write_jsonl(tmp_path / "posts.jsonl", [
        {"id": "1", "text": "a", "is_reply": "TRUE", "is_retweet": "no", "is_quote": 1},
        {"id": "2", "text": "b", "is_reply": 0, "is_retweet": True, "is_quote": "f"},
        {"id": "3", "text": "c", "is_reply": "", "reply_to_id": "99"},
        {"id": "4", "text": "RT @mfa_atlantis: relayed"},
        {"id": "5", "text": "d", "quote_of_id": "98", "in_reply_to_screen_name": "AtlantisMFA_ar"},
    ])
    result = run_ingest([tmp_path / "posts.jsonl"])
    flags = result.posts.set_index("post_id")[["is_reply", "is_repost", "is_quote"]]
    assert flags.to_dict("index") == {
        "1": {"is_reply": True, "is_repost": False, "is_quote": True},
        "2": {"is_reply": False, "is_repost": True, "is_quote": False},
        "3": {"is_reply": True, "is_repost": False, "is_quote": False},
        "4": {"is_reply": False, "is_repost": True, "is_quote": False},
        "5": {"is_reply": True, "is_repost": False, "is_quote": True},
    }
    assert result.posts["is_reply"].dtype == bool


def test_text_fields_are_trimmed_and_normalised(run_ingest, tmp_path):
    write_jsonl(tmp_path / "posts.jsonl", [
        {"id": 1209059488545886209, "text": "  kept as written  ", "username": " @MFA_Atlantis ",
         "platform": " Twitter", "lang": "FR ", "author_id": 1187329107381612544},
        {"id": " 42 ", "text": "no platform"},
    ])
    result = run_ingest([tmp_path / "posts.jsonl"], {"ingest.default_platform": "facebook"})
    first = result.post("1209059488545886209")
    assert first["text"] == "  kept as written  "
    assert (first["account_handle"], first["platform"], first["lang_declared"]) == ("MFA_Atlantis", "twitter", "fr")
    assert first["account_id"] == "1187329107381612544"
    assert result.post("42")["platform"] == "facebook"


@pytest.mark.parametrize("mangled", ["1.20905948854589E+18", "1,20905948854589E+18", "1.20905948854589e18",
                                     "1209059488545886209.0", 1.2090594885458862e18])
def test_spreadsheet_mangled_id_is_replaced_by_a_derived_content_id(run_ingest, tmp_path, mangled):
    write_jsonl(tmp_path / "posts.jsonl", [{"id": mangled, "text": "Le ministre au Sahel", "date": "11/18/19 20:37"}])
    result = run_ingest([tmp_path / "posts.jsonl"])
    [row] = result.posts.to_dict("records")
    assert row["post_id"].startswith("h:") and len(row["post_id"]) == 22
    assert row["post_id_origin"] == "derived"
    assert result.mangled_ids == 1


def test_derived_ids_are_stable_across_runs_and_differ_by_content(run_ingest, tmp_path):
    write_jsonl(tmp_path / "posts.jsonl", [
        {"id": "1.20905948854589E+18", "text": "first", "username": "mfa_atlantis", "date": "2019-12-23 10:33:39"},
        {"id": "1.20905948854589E+18", "text": "second", "username": "mfa_atlantis", "date": "2019-12-23 10:33:39"},
    ])
    once = run_ingest([tmp_path / "posts.jsonl"])
    again = run_ingest([tmp_path / "posts.jsonl"])
    assert once.posts["post_id"].tolist() == again.posts["post_id"].tolist()
    assert once.posts["post_id"].nunique() == 2


def test_missing_ids_are_derived_but_not_counted_as_mangled(run_ingest, tmp_path):
    write_jsonl(tmp_path / "posts.jsonl", [{"text": "no id"}, {"id": "", "text": "empty id"}])
    result = run_ingest([tmp_path / "posts.jsonl"])
    assert result.posts["post_id_origin"].tolist() == ["derived", "derived"]
    assert result.posts["post_id"].str.startswith("h:").all()
    assert result.mangled_ids == 0


def test_derived_ids_never_count_as_duplicates_even_across_files(run_ingest, tmp_path):
    rows = "id;username;date;text\n1,20905948854589E+18;mfa_atlantis;18/11/2019 20:37;Même texte\n"
    (tmp_path / "a.csv").write_text(rows, "utf-8")
    (tmp_path / "b.csv").write_text(rows + "1,20905948854589E+18;mfa_atlantis;18/11/2019 20:37;Même texte\n", "utf-8")
    result = run_ingest([tmp_path / "a.csv", tmp_path / "b.csv"], {"batch_size": 1})
    assert (result.read, len(result.posts), result.duplicates, result.mangled_ids) == (3, 3, 0, 3)
    assert result.posts["created_at"].tolist() == [pd.Timestamp("2019-11-18 20:37", tz="UTC")] * 3


def test_mangled_reference_is_dropped_but_its_flag_kept(run_ingest, tmp_path):
    path = tmp_path / "posts.csv"
    path.write_text("id,text,reply_to_id,repost_of_id,quote_of_id\n"
                    "11,reply,1.19651724546866E+18,,\n"
                    "12,repost,,1.19651724546866E+18,\n"
                    "13,quote,,,1196517245468663808\n", "utf-8")
    result = run_ingest([path])
    rows = result.posts.set_index("post_id")
    assert rows.loc["11", "is_reply"] and rows.loc["11", "reply_to_id"] is None
    assert rows.loc["12", "is_repost"] and rows.loc["12", "repost_of_id"] is None
    assert rows.loc["13", "is_quote"] and rows.loc["13", "quote_of_id"] == "1196517245468663808"
    assert result.mangled_ids == 0  # only post ids are counted


def test_duplicates_are_dropped_across_batches_keeping_the_first(run_ingest, tmp_path):
    write_jsonl(tmp_path / "posts.jsonl", [{"id": i, "text": f"row {n}"} for n, i in enumerate(["1", "2", "1", "3", "2"], 1)])
    result = run_ingest([tmp_path / "posts.jsonl"], {"batch_size": 2})
    assert result.posts[["post_id", "text", "source_row"]].to_dict("records") == [
        {"post_id": "1", "text": "row 1", "source_row": 1},
        {"post_id": "2", "text": "row 2", "source_row": 2},
        {"post_id": "3", "text": "row 4", "source_row": 4},
    ]
    assert (result.read, result.duplicates) == (5, 2)


def test_duplicates_are_dropped_across_files_of_different_formats(run_ingest, tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"id": "1", "text": "one"}, {"id": "2", "text": "two"}])
    (tmp_path / "b.csv").write_text("id,text\n2,two again\n3,three\n", "utf-8")
    result = run_ingest([tmp_path / "a.jsonl", tmp_path / "b.csv"])
    assert result.posts["post_id"].tolist() == ["1", "2", "3"]
    assert result.post("2")["source_file"] == str(tmp_path / "a.jsonl")
    assert (result.read, result.duplicates) == (4, 1)


def test_same_id_on_two_platforms_is_not_a_duplicate(run_ingest, tmp_path):
    write_jsonl(tmp_path / "posts.jsonl", [{"id": "7", "text": "a", "platform": "twitter"},
                                           {"id": "7", "text": "b", "platform": "mastodon"}])
    result = run_ingest([tmp_path / "posts.jsonl"])
    assert result.posts["platform"].tolist() == ["twitter", "mastodon"]
    assert result.duplicates == 0


def test_a_quarantined_repeat_is_counted_once_as_quarantined(run_ingest, tmp_path):
    write_jsonl(tmp_path / "posts.jsonl", [{"id": "1", "text": "good"}, {"id": "1", "text": "bad", "likes": -1}])
    result = run_ingest([tmp_path / "posts.jsonl"])
    assert (result.read, len(result.posts), len(result.quarantine), result.duplicates) == (2, 1, 1, 0)


def test_batch_whose_rows_are_all_quarantined_keeps_the_schema(run_ingest, tmp_path):
    write_jsonl(tmp_path / "posts.jsonl", [{"id": "1", "text": "ok"}, {"id": "2", "text": ""}, {"id": "3", "text": ""}])
    result = run_ingest([tmp_path / "posts.jsonl"], {"batch_size": 1})  # the helper checks each batch's columns
    assert result.posts["post_id"].tolist() == ["1"]
    assert result.reasons() == {2: "missing text", 3: "missing text"}
