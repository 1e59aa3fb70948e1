"""Regression tests for what fuzzing the readers found, each with its minimal input, and the
archive attacks: zip and gzip bombs, zip members named with ../ or an absolute path."""

from __future__ import annotations

import codecs
import gzip
import io
import json
import struct
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.errors import UserError

FIXTURES = Path(__file__).parent / "fixtures"
TWEETS_JS = FIXTURES / "x_archive" / "data" / "tweets.js"
ACCOUNT_JS = FIXTURES / "x_archive" / "data" / "account.js"
SAMPLE_CSV = Path(__file__).resolve().parents[2] / "corpora" / "sample" / "world_leaders_sample.csv"


def _sample_csv(rows: int) -> bytes:
    lines = SAMPLE_CSV.read_bytes().split(b"\n")
    return b"\n".join(lines[: rows + 1]) + b"\n"  # the sample's first rows hold no newline in a field


def _balanced(result) -> None:
    assert result.read == len(result.posts) + len(result.quarantine) + result.duplicates
    assert result.quarantine["raw"].map(bool).all() and result.quarantine["reason"].map(bool).all()


# --- found by fuzzing -------------------------------------------------------------------------

def test_cut_gzip_keeps_the_rows_before_the_cut_and_quarantines_the_rest(tmp_path, run_ingest):
    packed = gzip.compress(_sample_csv(200))
    (tmp_path / "posts.csv.gz").write_bytes(packed[: len(packed) // 2])
    result = run_ingest([tmp_path / "posts.csv.gz"])
    _balanced(result)
    assert len(result.posts) > 20
    assert "file unreadable from here on (EOFError" in result.quarantine["reason"].iloc[-1]


def test_gzip_magic_alone_is_skipped_as_empty_not_a_crash(tmp_path, run_ingest):
    (tmp_path / "posts.csv").write_bytes(b"\x1f\x8b")
    result = run_ingest([tmp_path / "posts.csv"])
    assert result.read == 0 and result.formats == {"posts.csv": None}


def test_utf16_file_cut_after_an_odd_byte_quarantines_the_last_row(tmp_path, run_ingest):
    data = _sample_csv(3).decode("utf-8").encode("utf-16")
    (tmp_path / "posts.csv").write_bytes(data[:-1])
    result = run_ingest([tmp_path / "posts.csv"])
    _balanced(result)
    assert len(result.posts) == 2
    # The cut byte was the high half of the last newline, after the last field (the id).
    assert result.reasons() == {3: "post_id has invalid bytes (not UTF-8, or NUL)"}
    assert result.quarantine["raw"].iloc[0].endswith("\\x0a")  # the cut byte, shown, not lost


def test_damaged_parquet_is_one_quarantine_row_not_a_crash(tmp_path, run_ingest):
    out = io.BytesIO()
    pq.write_table(pa.table({"text": ["Bonjour"] * 50, "id": [str(i) for i in range(50)]}), out)
    data = out.getvalue()
    (tmp_path / "posts.parquet").write_bytes(data[:-9] + b"PAR1")  # a footer that lies
    result = run_ingest([tmp_path / "posts.parquet"])
    _balanced(result)
    assert len(result.quarantine) == 1 and "unreadable" in result.quarantine["reason"].iloc[0]


def test_stray_closing_brace_between_items_is_quarantined_with_its_raw_text(tmp_path, run_ingest):
    statuses = json.loads((FIXTURES / "mastodon_status.json").read_text("utf-8"))
    text = json.dumps([statuses, statuses | {"id": "2"}])
    comma = text.index("}, {") + 2
    (tmp_path / "statuses.json").write_text(text[:comma] + " }" + text[comma:], encoding="utf-8")
    result = run_ingest([tmp_path / "statuses.json"])
    _balanced(result)
    assert len(result.posts) == 2
    assert result.quarantine["raw"].tolist() == ["}"]


def test_json_lines_nested_ten_thousand_deep_are_quarantined(tmp_path, run_ingest):
    deep = "[" * 10_000 + "]" * 10_000
    lines = ['{"text": %s, "id": "1"}' % deep, '{"text": "Bonjour à tous", "id": "2"}']
    (tmp_path / "posts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_ingest([tmp_path / "posts.jsonl"])
    _balanced(result)
    assert result.posts["post_id"].tolist() == ["2"]
    assert result.reasons()[1].startswith("invalid JSON")


def test_json_records_without_text_before_the_first_with_text_do_not_refuse_the_file(tmp_path, run_ingest):
    lines = ['{"id": "1", "date": "2019-01-01"}', '{"id": "2", "text": "Bonjour à tous"}']
    (tmp_path / "posts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_ingest([tmp_path / "posts.jsonl"])
    assert result.posts["post_id"].tolist() == ["2"]
    assert result.reasons() == {1: "missing text"}


def test_json_file_with_no_text_field_at_all_names_the_fix(tmp_path, run_ingest):
    (tmp_path / "posts.jsonl").write_text('{"id": "1", "body": "x"}\n{"id": "2", "body": "y"}\n', encoding="utf-8")
    with pytest.raises(UserError, match="--map text=FIELD"):
        run_ingest([tmp_path / "posts.jsonl"])


def test_a_field_of_millions_of_cp1256_bytes_is_quarantined_quickly(tmp_path, run_ingest):
    arabic = ("السفارة ترحب بالزوار " * 200_000).encode("cp1256")  # 4 MB of bytes that are not UTF-8
    head = _sample_csv(400)  # past the 64 KB that format detection reads
    (tmp_path / "posts.csv").write_bytes(head + b"," * head.split(b"\n")[0].count(b",") + arabic + b"\n")
    started = time.perf_counter()
    result = run_ingest([tmp_path / "posts.csv"])
    assert time.perf_counter() - started < 20
    assert len(result.posts) == 400
    assert result.reasons() == {401: "post_id has invalid bytes (not UTF-8, or NUL)"}
    assert "\\xc7\\xe1" in result.quarantine["raw"].iloc[0]


# --- archives -------------------------------------------------------------------------------------

CHUNK = 1 << 24  # 16 MiB of zeros


def _zeros_deflate(total: int) -> tuple[bytes, int]:
    """A raw deflate stream inflating to `total` zero bytes (a multiple of CHUNK), and its CRC.

    A full flush resets the compressor, so every chunk compresses to the same bytes: the
    stream is built by repetition, without compressing gigabytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(CHUNK)) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc, zeros = 0, bytes(CHUNK)
    for _ in range(total // CHUNK):
        crc = zlib.crc32(zeros, crc)
    return block * (total // CHUNK) + compressor.flush(), crc


def _zip_bomb(path: Path, member: str, total: int) -> None:
    """A zip whose one deflated `member` inflates to `total` bytes (ZIP64 sizes)."""
    data, crc = _zeros_deflate(total)
    name = member.encode()
    sizes = struct.pack("<HHQQ", 1, 16, total, len(data))  # the ZIP64 extra field
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 8, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                        len(name), len(sizes)) + name + sizes
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 8, 0, 0x21, crc, 0xFFFFFFFF,
                          0xFFFFFFFF, len(name), len(sizes), 0, 0, 0, 0, 0) + name + sizes
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    path.write_bytes(local + data + central + end)


def _gzip_bomb(path: Path, total: int) -> None:
    """A CSV whose one text field is `total` spaces: gzip members one after another (as
    `cat a.gz b.gz` makes), so a few MB build it."""
    member = gzip.compress(b" " * CHUNK, compresslevel=9)
    path.write_bytes(gzip.compress(b"id,text\n1,") + member * (total // CHUNK))


def _peak_bytes(call) -> tuple[object, int]:
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


CAP = 64 << 20


def test_zip_bomb_in_an_x_archive_is_refused_with_bounded_memory(tmp_path, run_ingest):
    _zip_bomb(tmp_path / "archive.zip", "data/tweets.js", 1 << 30)  # 1 GiB from 1 MB
    assert (tmp_path / "archive.zip").stat().st_size < 2 << 20
    result, peak = _peak_bytes(lambda: run_ingest([tmp_path / "archive.zip"],
                                                  {"ingest.max_decompressed_bytes": CAP}))
    _balanced(result)
    assert peak < 3 * CAP
    assert result.reasons() == {1: f"cannot read data/tweets.js in the zip: data/tweets.js inflates to more "
                                   f"than {CAP:,} bytes (ingest.max_decompressed_bytes)"}


def test_gzip_bomb_is_refused_with_bounded_memory(tmp_path, run_ingest):
    (tmp_path / "posts.csv.gz").write_bytes(gzip.compress(_sample_csv(5)))
    _gzip_bomb(tmp_path / "bomb.csv.gz", 1 << 30)
    result, peak = _peak_bytes(lambda: run_ingest([tmp_path / "posts.csv.gz", tmp_path / "bomb.csv.gz"],
                                                  {"ingest.max_decompressed_bytes": CAP}))
    _balanced(result)
    assert peak < 4 * CAP
    assert len(result.posts) == 5  # the other file is read
    assert result.quarantine["reason"].iloc[-1] == (
        f"refused: bomb.csv.gz inflates to more than {CAP:,} bytes (ingest.max_decompressed_bytes)")


@pytest.mark.slow
def test_ten_gigabyte_zip_member_is_refused_at_the_default_cap(tmp_path, run_ingest):
    _zip_bomb(tmp_path / "archive.zip", "data/tweets.js", 10 << 30)
    assert (tmp_path / "archive.zip").stat().st_size < 12 << 20
    result, peak = _peak_bytes(lambda: run_ingest([tmp_path / "archive.zip"]))
    _balanced(result)
    assert peak < (1 << 30) + (256 << 20)
    assert "inflates to more than 1,073,741,824 bytes" in result.quarantine["reason"].iloc[0]


@pytest.mark.parametrize("folder", ["../data/", "../../../../tmp/evil/data/", "/abs/data/", "twitter-2023/data/"])
def test_zip_members_named_outside_the_archive_are_read_in_memory_never_extracted(tmp_path, run_ingest, folder):
    archive = tmp_path / "in" / "archive.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as packed:
        packed.writestr(zipfile.ZipInfo(folder + "tweets.js"), TWEETS_JS.read_bytes())
        packed.writestr(zipfile.ZipInfo(folder + "account.js"), ACCOUNT_JS.read_bytes())
    before = sorted(tmp_path.rglob("*"))
    result = run_ingest([archive])
    _balanced(result)
    assert len(result.posts) > 0 and set(result.posts["account_handle"]) == {"mfa_atlantis"}
    assert sorted(tmp_path.rglob("*")) == before
    assert not Path("/abs").exists() and not Path("/tmp/evil").exists()


def test_zip_that_is_not_an_x_archive_names_the_fix(tmp_path, run_ingest):
    with zipfile.ZipFile(tmp_path / "posts.zip", "w") as packed:
        packed.writestr("posts.csv", _sample_csv(3))
    with pytest.raises(UserError, match="a zip that is not an X archive; extract it"):
        run_ingest([tmp_path / "posts.zip"])


def test_bom_only_file_is_empty_not_an_error(tmp_path, run_ingest):
    (tmp_path / "posts.csv").write_bytes(codecs.BOM_UTF8)
    assert run_ingest([tmp_path / "posts.csv"]).read == 0


def test_nul_in_a_date_is_quarantined_not_a_crash(tmp_path, run_ingest):
    (tmp_path / "posts.csv").write_bytes(b"id,date,text,likes\n1,2018-10-10\x00,Bonjour,3\n2,2018-10-10,Salut,4\x00\n"
                                         b"3,2018-10-10,Hola,5\n")
    result = run_ingest([tmp_path / "posts.csv"])
    assert result.posts["post_id"].tolist() == ["3"]
    assert result.reasons() == {1: "created_at has invalid bytes (not UTF-8, or NUL)",
                                2: "likes has invalid bytes (not UTF-8, or NUL)"}
    assert result.quarantine["raw"].tolist() == ["1,2018-10-10\\x00,Bonjour,3", "2,2018-10-10,Salut,4\\x00"]


def test_empty_tweets_part_in_an_x_archive_zip_has_no_rows_and_no_error(tmp_path, run_ingest):
    with zipfile.ZipFile(tmp_path / "archive.zip", "w") as packed:
        packed.writestr("data/tweets.js", TWEETS_JS.read_bytes())
        packed.writestr("data/tweets-part1.js", b"")
        packed.writestr("data/account.js", ACCOUNT_JS.read_bytes())
    result = run_ingest([tmp_path / "archive.zip"])
    _balanced(result)
    assert len(result.posts) > 0
    assert not any("window.YTD" in reason for reason in result.quarantine["reason"])
