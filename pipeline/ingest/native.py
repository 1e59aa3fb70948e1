"""Helpers shared by the readers of the platforms' own export formats (X archive, Telegram,
Mastodon, Bluesky).

Their items are nested JSON objects; each reader has one `convert(item) -> fields` function
that names the item's values as canonical columns. The values stay raw (canonical.py types
them); a convert only refuses an item that is not a post at all, by raising `NotAPost`.

`media_type` uses one vocabulary across these platforms, so that "formats used" compare:
photo, video, gif, audio, sticker, file, link (a link preview or a shared URL), or None
(text only); a platform's own name passes through when it has no equivalent here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

from pipeline.ingest.records import RawRecord, iter_json_lines
from pipeline.ingest.sniff import Sample
from pipeline.ingest.tabular import iter_json_document_items

JSON_CONTAINERS = ("json-lines", "json-document")


class NotAPost(Exception):
    """The item parses but is not a post (a service message...); the message is the reason."""


def json_items(path: Path, sample: Sample, list_keys: tuple[str, ...], max_bytes: int) -> Iterator[RawRecord]:
    """JSON lines, or a JSON document: an array, a list under one of `list_keys`, one object."""
    if sample.container == "json-lines":
        return iter_json_lines(path, max_bytes)
    return iter_json_document_items(path, list_keys, max_bytes)


def convert_items(records: Iterator[RawRecord], convert: Callable[[dict], dict],
                  platform: str) -> Iterator[RawRecord]:
    """Give every parsed item its canonical fields; unparseable items pass through as errors."""
    for record in records:
        if record.error is None:
            try:
                record.fields = convert(record.fields)
            except NotAPost as exc:
                record.fields, record.error = None, str(exc)
            except (AttributeError, TypeError, ValueError, KeyError) as exc:
                # A shape no export of this platform has: quarantine the item, keep reading.
                record.fields, record.error = None, f"unexpected {platform} item structure ({exc!r})"
        yield record


def as_dict(value: Any) -> dict:
    """`value` when it is an object, else {} (a missing or null nested object)."""
    return value if isinstance(value, dict) else {}


def dicts(value: Any) -> list[dict]:
    """The objects of a JSON list (nothing for null or a scalar)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
