"""Column-mapped formats: generic CSV/JSONL/JSON/Parquet, twarc2 and twarc-csv, CrowdTangle.

They differ only in their column names, so one `ColumnMap` (canonical column -> source
columns to try, in order) serves all of them; `--map canonical=source` overrides it.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

from pipeline import schema
from pipeline.errors import UserError
from pipeline.ingest.records import (
    RawRecord, ReadOptions, iter_json_array_items, iter_json_lines, nested, object_members_before, open_text,
    without_nul,
)
from pipeline.ingest.sniff import Sample
from pipeline.outputs import streamed_parquet
from pipeline.registry import register_reader

GENERIC_COLUMNS: dict[str, tuple[str, ...]] = {
    "text": ("text", "full_text", "message", "content", "clean_text", "tweet", "sentence"),
    "post_id": ("id", "post_id", "tweet_id", "id_str"),
    "account_handle": ("account_handle", "username", "screen_name", "user_screen_name", "account", "author"),
    "created_at": ("created_at", "date", "timestamp", "time"),
    "account_id": ("account_id", "author_id", "user_id"),
    "platform": ("platform",),
    "actor": ("actor", "country", "country_iso2"),
    "actor_type": ("actor_type",),
    "country": ("country", "country_iso2"),
    "lang_declared": ("lang_declared", "lang", "language"),
    "is_reply": ("is_reply",),
    "is_repost": ("is_repost", "is_retweet"),
    "is_quote": ("is_quote",),
    "reply_to_id": ("reply_to_id", "in_reply_to_status_id_str", "in_reply_to_status_id", "in_reply_to_id"),
    "reply_to_handle": ("reply_to_handle", "to", "in_reply_to_screen_name"),
    "repost_of_id": ("repost_of_id", "retweeted_status_id"),
    "quote_of_id": ("quote_of_id", "quoted_status_id"),
    "media_type": ("media_type",),
    "url": ("url", "permalink"),
    "likes": ("likes", "favorites", "favorite_count", "like_count", "favourites_count"),
    "reposts": ("reposts", "retweets", "retweet_count", "repost_count", "reblogs_count", "shares"),
    "replies": ("replies", "reply_count", "replies_count", "comments"),
    "quotes": ("quotes", "quote_count"),
    "views": ("views", "impressions", "impression_count", "view_count"),
    "followers": ("followers", "followers_count", "user_followers_count"),
}

# twarc2 (`twarc2 flatten`) and twarc-csv name the same fields with dotted paths.
TWARC_COLUMNS: dict[str, tuple[str, ...]] = {
    "post_id": ("id",),
    "text": ("text",),
    "account_id": ("author_id",),
    "account_handle": ("author.username",),
    "created_at": ("created_at",),
    "lang_declared": ("lang",),
    "likes": ("public_metrics.like_count",),
    "reposts": ("public_metrics.retweet_count",),
    "replies": ("public_metrics.reply_count",),
    "quotes": ("public_metrics.quote_count",),
    "views": ("public_metrics.impression_count",),
    "followers": ("author.public_metrics.followers_count",),
    "reply_to_id": ("referenced_tweets.replied_to.id",),
    "repost_of_id": ("referenced_tweets.retweeted.id",),
    "quote_of_id": ("referenced_tweets.quoted.id",),
    "reply_to_handle": ("in_reply_to_user.username", "in_reply_to_username"),
}

CROWDTANGLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "post_id": ("URL",),
    "text": ("Message", "Description"),
    "account_handle": ("User Name", "Page Name"),
    "account_id": ("Facebook Id",),
    "created_at": ("Post Created",),
    "followers": ("Followers at Posting",),
    "replies": ("Comments",),
    "reposts": ("Shares",),
    "views": ("Post Views",),
    "media_type": ("Type",),
    "url": ("URL",),
    "platform": ("Platform",),
}
# CrowdTangle splits Facebook reactions; "likes" is their sum (all reactions).
CROWDTANGLE_REACTIONS = ("Likes", "Love", "Wow", "Haha", "Sad", "Angry", "Care")


class ColumnMap:
    """Canonical column -> the first source column present among its aliases."""

    def __init__(self, aliases: dict[str, tuple[str, ...]], overrides: dict[str, str]):
        unknown = [name for name in overrides if name not in schema.READER_FIELDS]
        if unknown:
            raise UserError(
                f"--map: unknown canonical column {unknown[0]!r} (known: {', '.join(schema.READER_FIELDS)})")
        self.aliases = {name: (overrides[name],) if name in overrides else aliases.get(name, ())
                        for name in schema.READER_FIELDS}
        self.overrides = overrides

    def resolve(self, columns: list[str], path: Path) -> dict[str, str]:
        """For a fixed header: canonical -> column. No text column is a user error."""
        present = set(columns)
        for name, source in self.overrides.items():
            if source not in present:
                raise UserError(f"--map {name}={source}: {path} has no column {source!r}")
        resolved = {}
        for name, candidates in self.aliases.items():
            for candidate in candidates:
                if candidate in present:
                    resolved[name] = candidate
                    break
        if "text" not in resolved:
            raise UserError(
                f"{path}: no text column (looked for {', '.join(self.aliases['text'])}); "
                f"name it with --map text=COLUMN")
        return resolved

    def apply(self, record: dict) -> dict[str, Any]:
        """For records whose keys vary (JSON): look each alias up, nested paths included."""
        fields = {}
        for name, candidates in self.aliases.items():
            for candidate in candidates:
                value = nested(record, candidate)
                if value is not None:
                    fields[name] = value
                    break
        return fields


def _iter_csv(path: Path, delimiter: str, max_bytes: int) -> tuple[list[str], Iterator[tuple[int, list[str] | None, str]]]:
    """The header and (row number, values or None if unparseable, raw text) per data row."""
    csv.field_size_limit(sys.maxsize)  # oversize fields are quarantined, not refused mid-file
    handle = open_text(path, max_bytes)
    reader = csv.reader(without_nul(handle), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        handle.close()
        return [], iter(())
    except csv.Error as exc:
        handle.close()
        raise UserError(f"{path}: cannot read the CSV header ({exc})")

    def rows():
        number = 0
        with handle:
            while True:
                number += 1
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    yield number, None, f"<line {reader.line_num}: {exc}>"
                    continue
                if not values:
                    number -= 1
                    continue
                yield number, values, _csv_line(values, delimiter)

    return header, rows()


def _csv_line(values: list[str], delimiter: str) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="").writerow(values)
    return out.getvalue()


def read_mapped_csv(path: Path, options: ReadOptions, sample: Sample,
                    aliases: dict[str, tuple[str, ...]],
                    post_process: Callable[[dict, dict], None] | None = None) -> Iterator[RawRecord]:
    header, rows = _iter_csv(path, sample.delimiter, options.max_decompressed_bytes)
    if not header:
        return
    column_map = ColumnMap(aliases, options.column_map)
    resolved = column_map.resolve(header, path)
    index = {}
    for position, name in enumerate(header):
        index.setdefault(name, position)  # a repeated column name: the first one wins
    picks = [(name, index[column]) for name, column in resolved.items()]
    width = len(header)
    for number, values, raw in rows:
        if values is None:
            yield RawRecord(number, raw, error="unparseable CSV row")
            continue
        if len(values) != width:
            yield RawRecord(number, raw, error=f"row has {len(values)} fields, header has {width}")
            continue
        fields = {name: (values[i] if values[i] != "" else None) for name, i in picks}
        if post_process is not None:
            post_process(fields, dict(zip(header, values)))
        yield RawRecord(number, raw, fields=fields)


# Records read before deciding that a JSON file has no text field at all.
TEXT_FIELD_LOOKAHEAD = 1000


def read_mapped_json(records: Iterator[RawRecord], options: ReadOptions, path: Path,
                     aliases: dict[str, tuple[str, ...]],
                     prepare: Callable[[dict], dict] | None = None) -> Iterator[RawRecord]:
    column_map = ColumnMap(aliases, options.column_map)
    seen_text = False
    held: list[RawRecord] = []  # good records read before the first one with a text field
    for record in records:
        if record.error is None:
            source = prepare(record.fields) if prepare else record.fields
            record.fields = column_map.apply(source)
            if not seen_text:
                if "text" not in record.fields and not _has_any(source, column_map.aliases["text"]):
                    held.append(record)
                    if len(held) >= TEXT_FIELD_LOOKAHEAD:
                        break
                    continue
                seen_text = True
                yield from held
        yield record
    if not seen_text and held:
        # Records, and none with a text field: a mapping problem, not bad rows.
        raise UserError(f"{path}: no text field (looked for {', '.join(column_map.aliases['text'])}); "
                        f"name it with --map text=FIELD")


def _has_any(record: dict, names: tuple[str, ...]) -> bool:
    return any(name in record for name in names)


def _json_records(path: Path, sample: Sample, max_bytes: int) -> Iterator[RawRecord]:
    if sample.container == "json-lines":
        return iter_json_lines(path, max_bytes)
    return iter_json_document_items(path, (), max_bytes)


def iter_json_document_items(path: Path, list_keys: tuple[str, ...] = (),
                             max_bytes: int = ReadOptions.max_decompressed_bytes) -> Iterator[RawRecord]:
    """Items of a JSON document: a top-level array, or the array under one of `list_keys`,
    or the document itself when it is a single object."""
    with open_text(path, max_bytes) as handle:
        text = handle.read()
    stripped = text.lstrip()
    offset = len(text) - len(stripped)
    if stripped.startswith("["):
        yield from iter_json_array_items(text, offset)
        return
    found = object_members_before(text, list_keys) if list_keys else None
    if found is not None:
        yield from iter_json_array_items(text, found[1])
        return
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        yield RawRecord(1, text, error=f"invalid JSON document: {exc}")
        return
    if isinstance(value, dict):
        yield RawRecord(1, text, fields=value)
    else:
        yield RawRecord(1, text, error=f"expected a JSON object or array, got {type(value).__name__}")


# --- generic --------------------------------------------------------------------------

def _looks_generic_csv(sample: Sample) -> bool:
    return sample.container == "csv" and len(sample.header) > 0


@register_reader("csv", "Generic CSV/TSV; columns mapped by name (see --map)", _looks_generic_csv, priority=90)
def read_generic_csv(path: Path, options: ReadOptions, sample: Sample) -> Iterator[RawRecord]:
    return read_mapped_csv(path, options, sample, GENERIC_COLUMNS)


@register_reader("jsonl", "Generic JSON lines or JSON array of objects; fields mapped by name",
                 lambda s: s.container in ("json-lines", "json-document"), priority=90)
def read_generic_json(path: Path, options: ReadOptions, sample: Sample) -> Iterator[RawRecord]:
    return read_mapped_json(_json_records(path, sample, options.max_decompressed_bytes), options, path,
                            GENERIC_COLUMNS)


@register_reader("parquet", "Generic Parquet; columns mapped by name", lambda s: s.container == "parquet", priority=90)
def read_generic_parquet(path: Path, options: ReadOptions, sample: Sample) -> Iterator[RawRecord]:
    parquet = streamed_parquet(path)
    column_map = ColumnMap(GENERIC_COLUMNS, options.column_map)
    resolved = column_map.resolve(parquet.schema_arrow.names, path)
    number = 0
    for batch in parquet.iter_batches(batch_size=10_000):
        for row in batch.to_pylist():
            number += 1
            fields = {name: row[column] for name, column in resolved.items()}
            yield RawRecord(number, row, fields=fields)


# --- twarc ----------------------------------------------------------------------------

def twitter_post_process(fields: dict, _row: dict | None = None) -> None:
    fields["platform"] = "twitter"
    if fields.get("url") is None and fields.get("post_id") and fields.get("account_handle"):
        fields["url"] = f"https://twitter.com/{fields['account_handle']}/status/{fields['post_id']}"


def _twarc_csv_post_process(fields: dict, _row: dict) -> None:
    # twarc-csv writes every newline of a text as the two characters "\n".
    if fields.get("text") is not None:
        fields["text"] = fields["text"].replace("\\n", "\n")
    twitter_post_process(fields)


def _twarc_prepare(record: dict) -> dict:
    """twarc2 keeps referenced tweets as a list of {type, id}; name them like twarc-csv."""
    for reference in record.get("referenced_tweets") or []:
        if isinstance(reference, dict) and "type" in reference:
            record[f"referenced_tweets.{reference['type']}.id"] = reference.get("id")
    return record


def _looks_twarc_json(sample: Sample) -> bool:
    return sample.container == "json-lines" and '"author_id"' in sample.text and (
        '"public_metrics"' in sample.text or '"__twarc"' in sample.text)


def _looks_twarc_csv(sample: Sample) -> bool:
    return sample.container == "csv" and "author.username" in sample.header and "public_metrics.like_count" in sample.header


@register_reader("twarc2-jsonl", "twarc2 flattened JSON lines (Twitter API v2)", _looks_twarc_json, priority=20)
def read_twarc_json(path: Path, options: ReadOptions, sample: Sample) -> Iterator[RawRecord]:
    records = iter_json_lines(path, options.max_decompressed_bytes)
    for record in read_mapped_json(records, options, path, TWARC_COLUMNS, _twarc_prepare):
        if record.fields is not None:
            twitter_post_process(record.fields)
        yield record


@register_reader("twarc-csv", "twarc-csv export of twarc2 data", _looks_twarc_csv, priority=20)
def read_twarc_csv(path: Path, options: ReadOptions, sample: Sample) -> Iterator[RawRecord]:
    return read_mapped_csv(path, options, sample, TWARC_COLUMNS, _twarc_csv_post_process)


# --- CrowdTangle ----------------------------------------------------------------------

def _crowdtangle_post_process(fields: dict, row: dict) -> None:
    fields["platform"] = (fields.get("platform") or "facebook").lower()
    reactions = [row[name] for name in CROWDTANGLE_REACTIONS if row.get(name) not in (None, "")]
    try:
        fields["likes"] = sum(int(value.replace(",", "")) for value in reactions) if reactions else None
    except ValueError:
        fields["likes"] = "; ".join(reactions)  # not numbers: canonical.py quarantines the row


def _looks_crowdtangle(sample: Sample) -> bool:
    return sample.container == "csv" and {"Post Created", "Followers at Posting"} <= set(sample.header)


@register_reader("crowdtangle", "CrowdTangle CSV export (Facebook pages, Instagram)", _looks_crowdtangle, priority=20)
def read_crowdtangle(path: Path, options: ReadOptions, sample: Sample) -> Iterator[RawRecord]:
    return read_mapped_csv(path, options, sample, CROWDTANGLE_COLUMNS, _crowdtangle_post_process)
