"""Hypothesis strategies that turn each format's real fixture into hostile variants.

Every example starts from a real export (tests/ingest/fixtures, the embedded sample archive)
and applies what damaged archives really show: structural damage to the records (fields
dropped or added, wrong JSON types, other platforms' dates and garbage, duplicated records,
10,000-level nesting, a 10 MB field), then damage to the bytes (truncation, invalid UTF-8,
NUL, UTF-16 / cp1256 / latin-1 re-encoding, CRLF/LF mixes, stray quotes and delimiters),
then sometimes a gzip, bz2 or zip wrapping (zip members named with `../` or an absolute path).
"""

from __future__ import annotations

import bz2
import codecs
import copy
import csv
import gzip
import io
import json
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import strategies as st

from pipeline.ingest.records import iter_json_array_items, object_members_before, parse_json_object

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE_CSV = Path(__file__).resolve().parents[2] / "corpora" / "sample" / "world_leaders_sample.csv"

# Timestamps as the platforms write them, and garbage.
DATES = (
    "Wed Oct 10 20:19:24 +0000 2018",  # X v1.1 / archive
    "2018-10-10T20:19:24.000Z",  # X v2, Bluesky
    "2018-10-10T20:19:24+03:00",
    "2018-10-10 20:19:24 EST",  # CrowdTangle
    "2018-10-10T20:19:24",  # Telegram `date`
    "1539202764",  # Telegram `date_unixtime`
    "1539202764000",
    "10/10/18 20:19",  # spreadsheets
    "10.10.2018 20:19",
    "20181010",
    "", " ", "yesterday", "0000-00-00", "9999-99-99 99:99", "2018-13-45T25:61:61Z", "NaN", "-1", "1e308",
    "٢٠١٨-١٠-١٠", "9" * 400, "2018-10-10\x00", "Wed Oct 10 20:19:24 +9999 2018",
)
# Values of the wrong JSON type, extreme numbers included.
WRONG_VALUES = ([], {}, ["a", 1], {"nested": {"deeper": [None]}}, True, False, None, 0, -1, 10**30,
                1.5, float("nan"), float("inf"), "", "not a number", "١٢٣")
SPLICES = (b"\x00", b"\xff", b"\xfe\xff", b"\x80", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf", b'"', b",",
           b"\r", b"\n", b"\r\n", b"[", b"{", b"}", b"]", b"\\", b'\\"', b";", b"\t")
ENCODINGS = ("utf-16", "cp1256", "latin-1")
DEEP = "\u0000DEEP\u0000"  # placeholders replaced after serialisation
HUGE = "\u0000HUGE\u0000"
DEPTH = 10_000
HUGE_CHARS = 10 * 1024 * 1024 // 2  # Arabic letters: 2 bytes each in UTF-8, 10 MB


@lru_cache(maxsize=1)
def huge_field() -> str:
    return ("مرحبا بالعالم " * (HUGE_CHARS // 14 + 1))[:HUGE_CHARS]


@dataclass
class Case:
    """One generated input: files to write (relative name -> bytes) and the file to name."""

    files: dict[str, bytes]
    target: str
    steps: list[str]


# --- the real fixtures, as records ------------------------------------------------------------

@lru_cache(maxsize=None)
def sample_rows(n: int = 12) -> tuple[list[str], list[list[str]]]:
    with open(SAMPLE_CSV, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [row for _, row in zip(range(n), reader)]
    return header, rows


def _csv_fixture(name: str) -> tuple[list[str], list[list[str]]]:
    with open(FIXTURES / name, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def csv_source(fmt: str) -> tuple[list[str], list[list[str]]]:
    if fmt == "csv":
        return sample_rows()
    return _csv_fixture({"twarc-csv": "twarc_csv.csv", "crowdtangle": "crowdtangle.csv"}[fmt])


def json_source(fmt: str):
    """(document, how its items are laid out, the file's name, raw texts of broken items).

    Some fixtures hold a deliberately broken item; it stays in as its raw text."""
    if fmt == "jsonl":
        header, rows = sample_rows()
        return [dict(zip(header, row)) for row in rows], "lines", "posts.jsonl", {}
    if fmt == "twarc2-jsonl":
        items, raws = [], {}
        for number, line in enumerate((FIXTURES / "twarc2_flat.jsonl").read_text("utf-8").splitlines()):
            record = parse_json_object(line, number)
            if record.error is None:
                items.append(record.fields)
            else:
                items.append(f"\u0000RAW{len(raws)}\u0000")
                raws[items[-1]] = line
        return items, "lines", "tweets.jsonl", raws
    if fmt == "mastodon":
        items, raws = _items((FIXTURES / "mastodon_statuses.json").read_text("utf-8"))
        return items, "array", "statuses.json", raws
    if fmt == "bluesky":
        return json.loads((FIXTURES / "bluesky_author_feed.json").read_text("utf-8")), "feed", "feed.json", {}
    if fmt == "telegram":
        text = (FIXTURES / "telegram_result.json").read_text("utf-8")
        header, start = object_members_before(text, ("messages",))
        items, raws = _items(text, start)
        return {**header, "messages": items}, "messages", "result.json", raws
    if fmt in ("x-archive", "x-archive-zip"):
        text = (FIXTURES / "x_archive" / "data" / "tweets.js").read_text("utf-8")
        items, raws = _items(text, text.index("["))
        return items, "ytd", "tweets.js", raws
    raise KeyError(fmt)


def _items(text: str, start: int = 0) -> tuple[list, dict[str, str]]:
    items, raws = [], {}
    for record in iter_json_array_items(text, start):
        if record.error is None:
            items.append(record.fields)
        else:
            placeholder = f"\u0000RAW{len(raws)}\u0000"
            raws[placeholder] = record.raw
            items.append(placeholder)
    return items, raws


CSV_FORMATS = ("csv", "twarc-csv", "crowdtangle")
JSON_FORMATS = ("jsonl", "twarc2-jsonl", "mastodon", "bluesky", "telegram", "x-archive", "x-archive-zip")
FORMATS = CSV_FORMATS + JSON_FORMATS + ("parquet",)


# --- structural mutations ---------------------------------------------------------------------

def _items_of(document, layout: str) -> list:
    if layout == "feed":
        return document["feed"]
    if layout == "messages":
        return document["messages"]
    return document


@st.composite
def _json_mutation(draw, items: list, steps: list[str]) -> None:
    """Mutate one record of `items` in place (or the list itself)."""
    # The 10 MB field and the 10,000-level nesting cost seconds each: drawn less often.
    kind = draw(st.sampled_from(("drop", "add", "wrong_type", "date", "duplicate", "remove", "not_object",
                                 "duplicate_id") * 3 + ("deep", "huge")))
    if not items:
        return
    index = draw(st.integers(0, len(items) - 1))
    steps.append(f"{kind}@{index}")
    if kind == "duplicate":
        items.insert(draw(st.integers(0, len(items))), json.loads(json.dumps(items[index])))
        return
    if kind == "remove":
        del items[index]
        return
    if kind == "not_object":
        items[index] = copy.deepcopy(draw(st.sampled_from(WRONG_VALUES[:8] + ("tweet", 42))))
        return
    if kind == "duplicate_id" and len(items) > 1 and isinstance(items[index], dict):
        items[draw(st.integers(0, len(items) - 1))] = json.loads(json.dumps(items[index]))
        return
    # Walk into the record to one of its (possibly nested) objects and change one key there.
    target = items[index]
    for _ in range(draw(st.integers(0, 3))):
        children = [v for v in target.values() if isinstance(v, dict)] if isinstance(target, dict) else []
        if not children:
            break
        target = draw(st.sampled_from(children))
    if not isinstance(target, dict):
        return
    keys = sorted(target)
    key = draw(st.sampled_from(keys)) if keys else "text"
    if kind == "drop" and keys:
        del target[key]
    elif kind == "add":
        target[draw(st.sampled_from(("extra", "text", "id", "created_at", "ünïcødé", "", "a.b")))] = copy.deepcopy(
            draw(st.sampled_from(WRONG_VALUES + DATES[:3])))
    elif kind == "wrong_type":
        target[key] = copy.deepcopy(draw(st.sampled_from(WRONG_VALUES)))
    elif kind == "date":
        date_keys = [k for k in keys if "date" in k.lower() or "created" in k.lower() or "time" in k.lower()]
        target[draw(st.sampled_from(date_keys)) if date_keys else key] = draw(st.sampled_from(DATES))
    elif kind == "deep":
        target[key] = DEEP
    elif kind == "huge":
        target[key] = HUGE


def _serialise_json(document, layout: str, indent: int | None, ascii_only: bool, raws: dict[str, str]) -> str:
    items = _items_of(document, layout)
    if layout == "lines":
        text = "\n".join(json.dumps(item, ensure_ascii=ascii_only) for item in items) + "\n"
    elif layout == "ytd":
        text = "window.YTD.tweets.part0 = " + json.dumps(items, indent=indent or 2, ensure_ascii=ascii_only)
    else:
        text = json.dumps(document, indent=indent, ensure_ascii=ascii_only)
    for placeholder, raw in raws.items():
        text = text.replace(json.dumps(placeholder), raw)
    deep = "[" * DEPTH + "]" * DEPTH
    return text.replace(json.dumps(DEEP), deep).replace(json.dumps(HUGE), json.dumps(huge_field(), ensure_ascii=False))


@st.composite
def _csv_text(draw, fmt: str, steps: list[str]) -> str:
    header, rows = csv_source(fmt)
    header, rows = list(header), [list(r) for r in rows]
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(("cell_date", "cell_count", "cell_quotes", "duplicate", "drop_column",
                                     "add_column", "short_row", "long_row", "cell_newline") * 3 + ("huge",)))
        row = draw(st.integers(0, len(rows) - 1)) if rows else 0
        col = draw(st.integers(0, len(header) - 1))
        steps.append(f"{kind}@{row},{col}")
        if not rows or col >= len(header) or col >= len(rows[row]):
            continue  # an earlier step dropped what this one would change
        if kind == "cell_date":
            date_cols = [i for i, h in enumerate(header) if ("date" in h.lower() or "created" in h.lower())
                         and i < len(rows[row])]
            rows[row][draw(st.sampled_from(date_cols)) if date_cols else col] = draw(st.sampled_from(DATES))
        elif kind == "cell_count":
            rows[row][col] = draw(st.sampled_from(("-3", "1.5", "1,234", "1e9", "many", "NaN", "9" * 40, "true")))
        elif kind == "cell_quotes":
            rows[row][col] = draw(st.sampled_from(('say "hi"', '"', '""', 'a,b,"c"', "a;b\tc", "'quoted'")))
        elif kind == "cell_newline":
            rows[row][col] += draw(st.sampled_from(("\n", "\r\n", "\r", "\nnext,line")))
        elif kind == "duplicate":
            rows.insert(draw(st.integers(0, len(rows))), list(rows[row]))
        elif kind == "drop_column":
            del header[col]
            for r in rows:
                if col < len(r):  # a row an earlier step cut short
                    del r[col]
        elif kind == "add_column":
            header.append(draw(st.sampled_from(("extra", "text", "id", ""))))
            for r in rows:
                r.append("x")
        elif kind == "short_row":
            rows[row] = rows[row][: draw(st.integers(0, len(rows[row])))]
        elif kind == "long_row":
            rows[row] = rows[row] + ["surplus"] * draw(st.integers(1, 3))
        elif kind == "huge":
            rows[row][col] = HUGE
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(("\n", "\r\n"))))
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().replace(HUGE, huge_field())


# --- byte mutations -----------------------------------------------------------------------------

@st.composite
def _damage_bytes(draw, data: bytes, steps: list[str]) -> bytes:
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(("truncate", "splice", "reencode", "crlf", "lf", "mixed_eol")))
        steps.append(kind)
        if kind == "truncate":
            data = data[: draw(st.integers(0, len(data)))]
        elif kind == "splice":
            at = draw(st.integers(0, len(data)))
            data = data[:at] + draw(st.sampled_from(SPLICES)) + data[at:]
        elif kind == "reencode":
            encoding = draw(st.sampled_from(ENCODINGS))
            steps[-1] = f"reencode:{encoding}"
            data = data.decode("utf-8", "surrogateescape").encode(encoding, "replace")
        elif kind == "crlf":
            data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        elif kind == "lf":
            data = data.replace(b"\r\n", b"\n")
        else:
            lines = data.split(b"\n")
            flips = draw(st.lists(st.booleans(), min_size=len(lines), max_size=len(lines)))
            data = b"\n".join(line + b"\r" if flip and i < len(lines) - 1 else line
                              for i, (line, flip) in enumerate(zip(lines, flips)))
    return data


ZIP_MEMBER_DIRS = ("", "data/", "../data/", "../../../../tmp/data/", "/abs/data/", "twitter-2023/data/", "..\\data/")


@st.composite
def _wrap(draw, name: str, data: bytes, steps: list[str]) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(("none",) * 6 + ("gz", "bz2", "zip", "truncated_gz")))
    if kind == "none":
        return name, data
    steps.append(kind)
    if kind in ("gz", "truncated_gz"):
        packed = gzip.compress(data, compresslevel=1)
        if kind == "truncated_gz":
            packed = packed[: draw(st.integers(0, len(packed)))]
        return name + ".gz", packed
    if kind == "bz2":
        return name + ".bz2", bz2.compress(data)
    member = draw(st.sampled_from(ZIP_MEMBER_DIRS)) + name
    steps[-1] = f"zip:{member}"
    return name + ".zip", _zip({member: data})


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(zipfile.ZipInfo(member), data)
    return out.getvalue()


EMPTY = (b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, b"\n\n\n", b"   \r\n", b"\x00" * 64, b"\x1f\x8b", b"PK\x03\x04")


# --- one strategy per format ---------------------------------------------------------------------

@st.composite
def hostile_input(draw, fmt: str) -> Case:
    steps: list[str] = []
    if draw(st.integers(0, 19)) == 0:
        data = draw(st.sampled_from(EMPTY))
        steps.append(f"empty:{data[:4]!r}")
        name = {"parquet": "posts.parquet", "x-archive": "tweets.js"}.get(fmt, "posts.csv")
        return Case({name: data}, name, steps)
    if fmt == "parquet":
        return draw(_parquet_case(steps))
    if fmt in CSV_FORMATS:
        text = draw(_csv_text(fmt, steps))
        data = draw(_damage_bytes(text.encode("utf-8"), steps))
        name, data = draw(_wrap(f"{fmt}.csv", data, steps))
        return Case({name: data}, name, steps)
    document, layout, name, raws = json_source(fmt)
    items = _items_of(document, layout)
    for _ in range(draw(st.integers(0, 4))):
        draw(_json_mutation(items, steps))
    indent = draw(st.sampled_from((None, 1, 2)))
    text = _serialise_json(document, layout, indent, draw(st.booleans()), raws)
    data = draw(_damage_bytes(text.encode("utf-8", "surrogatepass"), steps))
    account = (FIXTURES / "x_archive" / "data" / "account.js").read_bytes()
    if fmt == "x-archive":
        if draw(st.booleans()):
            account = draw(_damage_bytes(account, steps))
        return Case({"data/tweets.js": data, "data/account.js": account}, "data/tweets.js", steps)
    if fmt == "x-archive-zip":
        top = draw(st.sampled_from(ZIP_MEMBER_DIRS))
        steps.append(f"members:{top}")
        packed = _zip({f"{top}data/tweets.js": data, f"{top}data/account.js": account})
        if draw(st.integers(0, 4)) == 0:
            packed = packed[: draw(st.integers(0, len(packed)))]
            steps.append("truncated_zip")
        return Case({"archive.zip": packed}, "archive.zip", steps)
    name, data = draw(_wrap(name, data, steps))
    return Case({name: data}, name, steps)


@st.composite
def _parquet_case(draw, steps: list[str]) -> Case:
    header, rows = sample_rows()
    records = [dict(zip(header, row)) for row in rows]
    for _ in range(draw(st.integers(0, 4))):
        draw(_json_mutation(records, steps))
    # Parquet columns have one type: every value as text, except a column that is all numbers.
    records = [r if isinstance(r, dict) else {"text": json.dumps(r)} for r in records]
    columns = sorted({key for r in records for key in r})
    table = pa.table({c: [None if r.get(c) is None else
                          (huge_field() if r.get(c) == HUGE else "[" * 100 if r.get(c) == DEEP else str(r[c]))
                          for r in records] for c in columns})
    out = io.BytesIO()
    pq.write_table(table, out)
    data = out.getvalue()
    if draw(st.integers(0, 3)) == 0:
        data = draw(_damage_bytes(data, steps))
    return Case({"posts.parquet": data}, "posts.parquet", steps)
