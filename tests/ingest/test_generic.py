"""Generic CSV / JSON lines / JSON / Parquet: automatic column mapping, --map, file detection."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.errors import UserError
from pipeline.ingest import plan_inputs

ARABIC = "وزير الخارجية يستقبل سفير فرنسا"

# A CSV saved by a spreadsheet: BOM, CRLF, ids in scientific notation, US dates, and the
# row-level accidents that must each cost one row, never the file.
SPREADSHEET_ROWS = [
    b"id,username,date,text,likes,retweets,lang",
    b'1.19651724546866E+18,mfa_atlantis,11/18/19 20:37,Press briefing on the Sahel at 3 pm.,"1,204",310,en',
    b"1.19651724546866E+18,mfa_atlantis,11/18/19 21:02,Le ministre a re\xc3\xa7u l'ambassadeur du Mali.,88,12,fr",
    b"1196591190123847680,AtlantisMFA_ar,11/19/19 8:05," + ARABIC.encode() + b",40,9,ar",
    b"1196601230988881920,mfa_atlantis,11/19/19 8:45,,3,0,en",
    b"1196612011311771649,mfa_atlantis,11/19/19 9:28,Too many fields,1,0,en,extra",
    b"1196591190123847680,AtlantisMFA_ar,11/19/19 8:05," + ARABIC.encode() + b",40,9,ar",
    b"1196623387744387072,mfa_atlantis,11/19/19 10:13,Bad\x00byte,5,1,en",
    b"1196634412002312192,mfa_atlantis,11/19/19 10:57,Fran\xe7ais en Latin-1,7,2,fr",
    b"1196645519178350593,mfa_atlantis,11/19/19 11:41,Sommet UA-UE : la d\xc3\xa9claration finale,9,3,fr",
]


@pytest.fixture
def spreadsheet_csv(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(SPREADSHEET_ROWS) + b"\r\n")
    return path


def test_spreadsheet_csv_with_bom_nul_and_bad_bytes_is_detected_as_generic_csv(spreadsheet_csv):
    [planned] = plan_inputs([str(spreadsheet_csv)])
    assert planned.reader.name == "csv"
    assert planned.sample.header == ["id", "username", "date", "text", "likes", "retweets", "lang"]


def test_spreadsheet_csv_counts_balance(run_ingest, spreadsheet_csv):
    result = run_ingest([spreadsheet_csv], {"batch_size": 2})
    assert (result.read, len(result.posts), len(result.quarantine), result.duplicates) == (9, 4, 4, 1)


def test_spreadsheet_csv_bad_rows_are_quarantined_with_reason_and_raw_content(run_ingest, spreadsheet_csv):
    result = run_ingest([spreadsheet_csv], {"batch_size": 2})
    rows = result.quarantine[["source_row", "reason", "raw"]].to_dict("records")
    assert rows == [
        {"source_row": 4, "reason": "missing text",
         "raw": "1196601230988881920,mfa_atlantis,11/19/19 8:45,,3,0,en"},
        {"source_row": 5, "reason": "row has 8 fields, header has 7",
         "raw": "1196612011311771649,mfa_atlantis,11/19/19 9:28,Too many fields,1,0,en,extra"},
        {"source_row": 7, "reason": "text has invalid bytes (not UTF-8, or NUL)",
         "raw": "1196623387744387072,mfa_atlantis,11/19/19 10:13,Bad\\x00byte,5,1,en"},
        {"source_row": 8, "reason": "text has invalid bytes (not UTF-8, or NUL)",
         "raw": "1196634412002312192,mfa_atlantis,11/19/19 10:57,Fran\\xe7ais en Latin-1,7,2,fr"},
    ]
    assert set(result.quarantine["format"]) == {"csv"}
    assert set(result.quarantine["source_file"]) == {str(spreadsheet_csv)}


def test_spreadsheet_csv_values_are_typed(run_ingest, spreadsheet_csv):
    result = run_ingest([spreadsheet_csv])
    arabic = result.post("1196591190123847680")
    assert arabic["post_id_origin"] == "native"
    assert arabic["account_handle"] == "AtlantisMFA_ar"
    assert arabic["text"] == ARABIC
    assert arabic["created_at"] == pd.Timestamp("2019-11-19 08:05", tz="UTC")
    assert (arabic["likes"], arabic["reposts"]) == (40, 9)
    assert pd.isna(arabic["replies"])
    assert arabic["lang_declared"] == "ar"
    assert arabic["platform"] == "unknown"
    assert arabic["source_row"] == 3
    last = result.post("1196645519178350593")
    assert last["text"] == "Sommet UA-UE : la déclaration finale"
    assert last["created_at"] == pd.Timestamp("2019-11-19 11:41", tz="UTC")


def test_spreadsheet_csv_mangled_ids_become_distinct_derived_ids(run_ingest, spreadsheet_csv):
    result = run_ingest([spreadsheet_csv])
    derived = result.posts[result.posts["post_id_origin"] == "derived"].sort_values("source_row")
    assert derived["source_row"].tolist() == [1, 2]
    assert derived["post_id"].str.fullmatch(r"h:[0-9a-f]{20}").all()
    assert derived["post_id"].nunique() == 2  # same mangled id, two posts: both kept
    assert derived["text"].tolist() == ["Press briefing on the Sahel at 3 pm.",
                                        "Le ministre a reçu l'ambassadeur du Mali."]
    assert derived["likes"].tolist() == [1204, 88]
    assert derived["created_at"].tolist() == [pd.Timestamp("2019-11-18 20:37", tz="UTC"),
                                              pd.Timestamp("2019-11-18 21:02", tz="UTC")]
    assert result.mangled_ids == 2
    assert result.duplicates == 1  # only the repeated native id 1196591190123847680


def test_generic_jsonl_maps_known_field_names(run_ingest, tmp_path):
    path = tmp_path / "timeline.jsonl"
    lines = [
        {"id_str": "1209059488545886209", "user_screen_name": "@mfa_atlantis", "created_at": 1577095019,
         "full_text": "La France et l'Atlantis signent un accord culturel.", "favorite_count": 877,
         "retweet_count": "1,204", "reply_count": 248, "lang": "FR", "is_retweet": False,
         "in_reply_to_status_id_str": None},
        {"id_str": "1209059487098843137", "user_screen_name": "mfa_atlantis", "created_at": "2019-12-23T10:33:38Z",
         "full_text": ARABIC, "favorite_count": 0, "lang": "ar", "in_reply_to_status_id_str": "1209059484456366081",
         "in_reply_to_screen_name": "AtlantisMFA_ar"},
    ]
    path.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n", "utf-8")
    result = run_ingest([path])
    assert result.formats == {"timeline.jsonl": "jsonl"}
    first = result.post("1209059488545886209")
    assert first["account_handle"] == "mfa_atlantis"
    assert first["created_at"] == pd.Timestamp("2019-12-23 09:56:59", tz="UTC")
    assert (first["likes"], first["reposts"], first["replies"]) == (877, 1204, 248)
    assert first["lang_declared"] == "fr"
    assert (first["is_reply"], first["is_repost"]) == (False, False)
    reply = result.post("1209059487098843137")
    assert reply["reply_to_id"] == "1209059484456366081"
    assert reply["reply_to_handle"] == "AtlantisMFA_ar"
    assert reply["is_reply"]
    assert reply["text"] == ARABIC


def test_generic_json_array_keeps_the_items_around_a_broken_one(run_ingest, tmp_path):
    path = tmp_path / "posts.json"
    path.write_text(
        '[\n  {"id": "11", "text": "first"},\n  {"id": "12", "text": "broken\n  {"id": "13", "text": "third"}\n]\n',
        "utf-8")
    result = run_ingest([path])
    assert result.formats == {"posts.json": "jsonl"}
    assert result.posts["post_id"].tolist() == ["11", "13"]
    [row] = result.quarantine.to_dict("records")
    assert row["source_row"] == 2
    assert row["reason"].startswith("invalid JSON: ")
    assert row["raw"] == '{"id": "12", "text": "broken'


def test_generic_parquet_maps_columns_and_keeps_types(run_ingest, tmp_path):
    path = tmp_path / "posts.parquet"
    table = pa.table({
        "tweet_id": pa.array([1209059488545886209, 1209059487098843137, 1209059484456366081], pa.int64()),
        "screen_name": ["mfa_atlantis", "AtlantisMFA_ar", "mfa_atlantis"],
        "timestamp": pa.array([dt.datetime(2019, 12, 23, 10, 33, 39), dt.datetime(2019, 12, 23, 10, 33, 40), None],
                              pa.timestamp("us", tz="UTC")),
        "content": ["Hello from the ministry", ARABIC, None],
        "likes": pa.array([877, None, 3], pa.int64()),
        "is_reply": pa.array([False, True, None], pa.bool_()),
        "language": ["en", "ar", "en"],
    })
    pq.write_table(table, path)
    result = run_ingest([path])
    assert result.formats == {"posts.parquet": "parquet"}
    assert (result.read, len(result.posts), len(result.quarantine)) == (3, 2, 1)
    first = result.post("1209059488545886209")
    assert first["account_handle"] == "mfa_atlantis"
    assert first["created_at"] == pd.Timestamp("2019-12-23 10:33:39", tz="UTC")
    assert first["text"] == "Hello from the ministry"
    assert first["likes"] == 877
    assert not first["is_reply"]
    second = result.post("1209059487098843137")
    assert pd.isna(second["likes"])
    assert second["is_reply"]
    assert second["lang_declared"] == "ar"
    [row] = result.quarantine.to_dict("records")
    assert (row["source_row"], row["reason"]) == (3, "missing text")
    assert json.loads(row["raw"]) == {"tweet_id": 1209059484456366081, "screen_name": "mfa_atlantis",
                                      "timestamp": None, "content": None, "likes": 3, "is_reply": None,
                                      "language": "en"}


def test_parquet_float_ids_count_as_mangled(run_ingest, tmp_path):
    path = tmp_path / "floats.parquet"
    pq.write_table(pa.table({"id": pa.array([1.2090594885458862e18, 42.0]), "text": ["lost digits", "small"]}), path)
    result = run_ingest([path])
    assert result.posts["post_id_origin"].tolist() == ["derived", "native"]
    assert result.posts["post_id"].iloc[1] == "42"
    assert result.mangled_ids == 1


def test_csv_without_text_column_is_a_user_error_naming_map(run_ingest, tmp_path):
    path = tmp_path / "no_text.csv"
    path.write_text("id,username,body\n1,mfa_atlantis,hello\n", "utf-8")
    with pytest.raises(UserError, match=r"no text column .* --map text=COLUMN") as error:
        run_ingest([path])
    assert str(path) in str(error.value)


def test_jsonl_without_text_field_is_a_user_error_naming_map(run_ingest, tmp_path):
    path = tmp_path / "no_text.jsonl"
    path.write_text('{"id": "1", "body": "hello"}\n', "utf-8")
    with pytest.raises(UserError, match=r"no text field .* --map text=FIELD"):
        run_ingest([path])


def test_column_map_names_the_text_and_other_columns(run_ingest, tmp_path):
    path = tmp_path / "mapped.csv"
    path.write_text("post,handle,body,posted\n"
                    "1209059488545886209,mfa_atlantis,Communiqué conjoint,2019-12-23 10:33:39\n", "utf-8")
    result = run_ingest([path], {"ingest.column_map": {"text": "body", "account_handle": "handle",
                                                      "post_id": "post", "created_at": "posted"}})
    row = result.post("1209059488545886209")
    assert (row["text"], row["account_handle"]) == ("Communiqué conjoint", "mfa_atlantis")
    assert row["created_at"] == pd.Timestamp("2019-12-23 10:33:39", tz="UTC")


def test_column_map_overrides_an_automatic_match(run_ingest, tmp_path):
    path = tmp_path / "two_texts.csv"
    path.write_text("id,text,clean\n7,RAW TEXT https://t.co/x,cleaned text\n", "utf-8")
    result = run_ingest([path], {"ingest.column_map": {"text": "clean"}})
    assert result.post("7")["text"] == "cleaned text"


def test_column_map_applies_to_json_lines(run_ingest, tmp_path):
    path = tmp_path / "mapped.jsonl"
    path.write_text('{"uid": "5", "body": "Déclaration", "meta": {"who": "mfa_atlantis"}}\n', "utf-8")
    result = run_ingest([path], {"ingest.column_map": {"text": "body", "post_id": "uid",
                                                      "account_handle": "meta.who"}})
    row = result.post("5")
    assert (row["text"], row["account_handle"]) == ("Déclaration", "mfa_atlantis")


def test_column_map_to_a_missing_column_is_a_user_error(run_ingest, tmp_path):
    path = tmp_path / "posts.csv"
    path.write_text("id,text\n1,hello\n", "utf-8")
    with pytest.raises(UserError, match=r"--map text=body: .* has no column 'body'"):
        run_ingest([path], {"ingest.column_map": {"text": "body"}})


def test_column_map_to_an_unknown_canonical_column_is_a_user_error(run_ingest, tmp_path):
    path = tmp_path / "posts.csv"
    path.write_text("id,text\n1,hello\n", "utf-8")
    with pytest.raises(UserError, match=r"--map: unknown canonical column 'txt'"):
        run_ingest([path], {"ingest.column_map": {"txt": "text"}})


def test_utf16_tab_separated_spreadsheet_export_is_read(run_ingest, tmp_path):
    path = tmp_path / "unicode_text.txt"
    path.write_bytes(f"id\ttext\tdate\r\n1196591190123847680\t{ARABIC}\t11/19/19 8:05\r\n".encode("utf-16"))
    result = run_ingest([path])
    assert result.formats == {"unicode_text.txt": "csv"}
    row = result.post("1196591190123847680")
    assert row["text"] == ARABIC
    assert row["created_at"] == pd.Timestamp("2019-11-19 08:05", tz="UTC")


def test_gzipped_csv_is_read_like_the_plain_one(run_ingest, tmp_path):
    path = tmp_path / "export.csv.gz"
    path.write_bytes(gzip.compress(b"id,text\n1196591190123847680,compressed\n"))
    result = run_ingest([path])
    assert result.formats == {"export.csv.gz": "csv"}
    assert result.post("1196591190123847680")["text"] == "compressed"


def test_folder_input_skips_files_that_are_not_posts(tmp_path):
    (tmp_path / "a.csv").write_text("id,text\n1,hello\n", "utf-8")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "b.jsonl").write_text('{"id": "2", "text": "hi"}\n', "utf-8")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / ".hidden.csv").write_text("id,text\n3,hidden\n", "utf-8")
    planned = {p.path.name: (p.reader.name if p.reader else None, p.explicit) for p in plan_inputs([str(tmp_path)])}
    assert planned == {"a.csv": ("csv", False), "b.jsonl": ("jsonl", False),
                       "logo.png": (None, False), "empty.csv": (None, False)}


def test_named_binary_file_is_a_user_error(tmp_path):
    path = tmp_path / "logo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    with pytest.raises(UserError, match=r"unknown format \(binary\); choose one with --format"):
        plan_inputs([str(path)])


def test_missing_input_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="input not found"):
        plan_inputs([str(tmp_path / "nope.csv")])


def test_glob_input_names_each_matching_file(tmp_path):
    for name in ("b.csv", "a.csv", "c.txt"):
        (tmp_path / name).write_text("id,text\n1,hello\n", "utf-8")
    planned = plan_inputs([str(tmp_path / "*.csv")])
    assert [(p.path.name, p.explicit) for p in planned] == [("a.csv", True), ("b.csv", True)]


def test_forced_format_overrides_detection(tmp_path):
    path = tmp_path / "twarc_like.csv"
    path.write_text("id,text\n1,hello\n", "utf-8")
    [planned] = plan_inputs([str(path)], "twarc-csv")
    assert planned.reader.name == "twarc-csv"


def test_world_leaders_archive_is_read_as_generic_csv(run_ingest, world_leaders_csv):
    [planned] = plan_inputs([str(world_leaders_csv)])
    assert planned.reader.name == "csv"
    result = run_ingest([world_leaders_csv])
    assert result.read == 58_697
    assert result.read == len(result.posts) + len(result.quarantine) + result.duplicates
    assert (len(result.posts), len(result.quarantine), result.duplicates) == (58_584, 113, 0)
    assert set(result.quarantine["reason"]) == {"missing text"}
    first = result.post("1209059488545886209")
    assert first["source_row"] == 1
    assert first["account_handle"] == "EmmanuelMacron"
    assert first["created_at"] == pd.Timestamp("2019-12-23 10:33:39", tz="UTC")
    assert first["text"].startswith("Le Sommet que nous tiendrons à Pau le 13 janvier prochain")
    assert (first["replies"], first["reposts"], first["likes"]) == (248, 195, 877)
    assert (first["actor"], first["country"]) == ("FR", "FR")
    assert (result.posts["post_id_origin"] == "native").all()
    assert result.posts["created_at"].notna().all()


def test_folder_walk_reads_data_files_and_skips_documentation(run_ingest, tmp_path):
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "posts.csv").write_text("id,username,text\n1,mfa_atlantis,Bonjour\n", "utf-8")
    (tmp_path / "SOURCE.md").write_text("# Source\nCollected by hand, licence CC BY 4.0\n", "utf-8")
    (tmp_path / "LICENSE").write_text("Creative Commons Attribution 4.0\n", "utf-8")
    planned = {p.path.name: (p.reader.name if p.reader else None, p.skip_reason) for p in plan_inputs([str(tmp_path)])}
    assert planned == {
        "posts.csv": ("csv", None),
        "SOURCE.md": (None, "not a data file (.md)"),
        "LICENSE": (None, "not a data file (no suffix)"),
    }
    result = run_ingest([tmp_path])
    assert (result.read, len(result.posts)) == (1, 1)
