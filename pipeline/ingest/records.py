"""What every reader yields, and the small helpers readers share.

A reader turns one file into `RawRecord`s: the row's position, its raw content (kept for
the quarantine table) and its fields already named as canonical columns (values still
raw: strings, numbers, None). Type checks and coercion happen once, for every format,
in `pipeline.ingest.canonical`; a reader only reports rows it cannot parse at all.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import json
import lzma
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterator

# Invalid bytes decode to lone surrogates U+DC00 + byte ("surrogateescape" for UTF-8, which
# only fails on bytes >= 0x80; `UTF16_ERRORS` for UTF-16); NUL bytes are mapped to one too,
# so that one check in canonical.py quarantines all of them.
NUL_CHAR = "\udc00"
UTF16_ERRORS = "diplolens.escape"


def _escape_undecodable(error: UnicodeError):
    """Like "surrogateescape", but for any byte: a UTF-16 file cut after an odd number of
    bytes ends with a lone ASCII-range byte, which surrogateescape refuses. (Python code:
    slower than surrogateescape, but UTF-16 damage is a few bytes, not millions.)"""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start:error.end]
    return "".join(chr(0xDC00 + byte) for byte in bad), error.end


codecs.register_error(UTF16_ERRORS, _escape_undecodable)


class InputTooLarge(Exception):
    """A compressed input or archive member inflates beyond `ingest.max_decompressed_bytes`."""


@dataclass
class RawRecord:
    source_row: int  # 1-based: CSV data row, JSONL line, or position in a JSON array
    raw: str | dict  # a dict (a Parquet row) is written out as JSON only if the row is quarantined
    fields: dict[str, Any] | None = None
    error: str | None = None  # set when the reader could not parse the row at all

    def raw_text(self) -> str:
        return self.raw if isinstance(self.raw, str) else json.dumps(self.raw, default=str, ensure_ascii=False)


@dataclass
class ReadOptions:
    column_map: dict[str, str] = field(default_factory=dict)  # canonical -> source column
    default_platform: str = "unknown"
    max_field_chars: int = 100_000
    max_decompressed_bytes: int = 1 << 30


_COMPRESSED = {
    b"\x1f\x8b": gzip.open,
    b"BZh": bz2.open,
    b"\xfd7zXZ\x00": lzma.open,
}


class _Capped(io.RawIOBase):
    """A decompressing stream that stops with InputTooLarge past `limit` bytes (zip bombs)."""

    def __init__(self, stream: IO[bytes], limit: int, name: str):
        self.stream, self.limit, self.name, self.total = stream, limit, name, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self.stream.readinto(buffer)
        self.total += count
        if self.total > self.limit:
            raise InputTooLarge(f"{self.name} inflates to more than {self.limit:,} bytes "
                                f"(ingest.max_decompressed_bytes)")
        return count

    def close(self) -> None:
        self.stream.close()
        super().close()


def open_binary(path: Path, max_bytes: int = ReadOptions.max_decompressed_bytes) -> IO[bytes]:
    """Open a file for reading, decompressing gzip/bz2/xz transparently (sniffed by magic);
    a compressed file may inflate to `max_bytes` at most."""
    with open(path, "rb") as probe:
        magic = probe.read(6)
    for prefix, opener in _COMPRESSED.items():
        if magic.startswith(prefix):
            return io.BufferedReader(_Capped(opener(path, "rb"), max_bytes, Path(path).name))
    return open(path, "rb")


def open_text(path: Path, max_bytes: int = ReadOptions.max_decompressed_bytes) -> IO[str]:
    """Open as text: UTF-8 (BOM skipped) or UTF-16 with a BOM; bad bytes kept as surrogates."""
    binary = open_binary(path, max_bytes)
    encoding, errors = text_encoding(binary.peek(4)[:4] if hasattr(binary, "peek") else b"")
    return io.TextIOWrapper(binary, encoding=encoding, errors=errors, newline="")


def text_encoding(head: bytes) -> tuple[str, str]:
    """(encoding, error handler) for a file starting with `head`."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", UTF16_ERRORS
    return "utf-8-sig", "surrogateescape"


# What a damaged compressed file raises partway through (a cut download, flipped bytes).
DAMAGED_STREAM = (EOFError, OSError, zlib.error, lzma.LZMAError)


def read_head(path: Path, size: int = 65536) -> bytes:
    """Up to `size` first bytes (decompressed); as many as can be read from a damaged file."""
    head = b""
    with open_binary(path) as handle:
        try:
            while len(head) < size:
                # Small reads: a damaged stream raises on the read that meets the damage,
                # and the bytes read before it are kept.
                chunk = handle.read1(min(4096, size - len(head)))
                if not chunk:
                    break
                head += chunk
        except (*DAMAGED_STREAM, InputTooLarge):
            pass  # the reader meets the damage again and reports it in the quarantine
    return head


def without_nul(lines: Iterator[str]) -> Iterator[str]:
    """Mark NUL bytes as invalid characters (the csv module refuses lines with NUL)."""
    for line in lines:
        yield line.replace("\x00", NUL_CHAR) if "\x00" in line else line


def iter_json_lines(path: Path, max_bytes: int = ReadOptions.max_decompressed_bytes) -> Iterator[RawRecord]:
    """One record per non-empty line; a line that is not a JSON object is an error record."""
    with open_text(path, max_bytes) as handle:
        for number, line in enumerate(without_nul(handle), start=1):
            if not line.strip():
                continue
            yield parse_json_object(line.rstrip("\r\n"), number)


def parse_json_object(text: str, number: int) -> RawRecord:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        return RawRecord(number, text, error=f"invalid JSON: {exc}")
    if not isinstance(value, dict):
        return RawRecord(number, text, error=f"expected a JSON object, got {type(value).__name__}")
    return RawRecord(number, text, fields=value)


def iter_json_array_items(text: str, start: int) -> Iterator[RawRecord]:
    """Yield the items of the JSON array that opens at `text[start]`, one by one.

    An item that does not parse becomes an error record and reading resumes at the next
    item, so one broken post in a large export does not lose the others.
    """
    decoder = json.JSONDecoder()
    position = start + 1
    number = 0
    length = len(text)
    while True:
        while position < length and text[position] in " \t\r\n,":
            position += 1
        if position >= length or text[position] == "]":
            return
        number += 1
        try:
            value, end = decoder.raw_decode(text, position)
        except (json.JSONDecodeError, RecursionError) as exc:
            # At least one character: a stray "}" would otherwise be met again and again.
            end = max(_next_item_start(text, position), position + 1)
            yield RawRecord(number, text[position:end].rstrip(" \t\r\n,"), error=f"invalid JSON: {exc}")
            position = end
            continue
        raw = text[position:end]
        if isinstance(value, dict):
            yield RawRecord(number, raw, fields=value)
        else:
            yield RawRecord(number, raw, error=f"expected a JSON object, got {type(value).__name__}")
        position = end


def _next_item_start(text: str, position: int) -> int:
    """Index just past the broken item that starts at `text[position]`.

    Walks forward keeping track of strings and bracket depth, so a broken item inside a
    nested or minified array costs only itself. A syntax error that leaves quotes and
    brackets balanced (an unquoted value, a missing comma) resynchronises exactly. When the
    walk loses track (an unterminated string), the next line indented like the broken
    item's opening brace is taken instead, the shape of pretty-printed exports.
    """
    depth = 0
    in_string = False
    index = position
    length = len(text)
    while index < length:
        char = text[index]
        if in_string:
            if char == "\\":
                index += 1
            elif char == '"':
                in_string = False
            elif char == "\n":
                break  # JSON strings never span lines: a quote is missing, depth is lost
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth < 0:
                return index  # the enclosing array closes: the item ran to here
            if depth == 0:
                return index + 1
        elif char == "," and depth == 0:
            return index
        index += 1
    line_start = text.rfind("\n", 0, position) + 1
    indent = text[line_start:position]
    if indent.strip() == "" and indent:
        found = text.find("\n" + indent + "{", position + 1)
        if found >= 0:
            return found + 1
    return length


_BETWEEN_TOKENS = re.compile(r"[\s,:]*")


def object_members_before(text: str, list_keys: tuple[str, ...]) -> tuple[dict, int] | None:
    """Read the top-level JSON object in `text` member by member, up to the first member
    named in `list_keys` whose value is an array.

    Returns the members read before it and the index of the array's "[", or None when the
    text is not such an object. Only top-level members count (a nested "messages" key is
    not the list), and the large list itself is left for `iter_json_array_items`.
    """
    start = text.find("{")
    if start < 0 or text[:start].strip():
        return None
    decoder = json.JSONDecoder()
    members: dict = {}
    position = start + 1
    while True:
        position = _BETWEEN_TOKENS.match(text, position).end()
        try:
            key, position = decoder.raw_decode(text, position)
            position = _BETWEEN_TOKENS.match(text, position).end()
            if key in list_keys and text.startswith("[", position):
                return members, position
            members[key], position = decoder.raw_decode(text, position)
        except (json.JSONDecodeError, RecursionError, TypeError):
            return None


def nested(record: dict, dotted: str) -> Any:
    """`record["a"]["b"]` for "a.b", also when the record is already flat ("a.b" as a key)."""
    if dotted in record:
        return record[dotted]
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value
