"""Look at a file's first bytes to tell its container (CSV, JSON lines, JSON, Parquet...).

Readers' `detect` functions decide on a `Sample`; they never open the file themselves.
"""

from __future__ import annotations

import csv
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.ingest.records import DAMAGED_STREAM, InputTooLarge, open_text, read_head, text_encoding

HEAD_BYTES = 65536
MAX_FIRST_LINE_CHARS = 16 << 20
# NUL bytes and bytes that are not UTF-8 (decoded as lone surrogates, see records.py).
_ODD_CHARS = re.compile("[\x00\udc80-\udcff]")


@dataclass
class Sample:
    path: Path
    container: str  # parquet | zip | x-archive-js | json-lines | json-document | csv | empty | binary
    text: str = ""  # decoded head of the file ("" for binary containers)
    header: list[str] = field(default_factory=list)  # CSV column names
    delimiter: str = ","
    zip_names: list[str] = field(default_factory=list)


def sniff(path: Path) -> Sample:
    head = read_head(path, HEAD_BYTES)
    if head.startswith(b"PAR1"):
        return Sample(path, "parquet")
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            return Sample(path, "binary")
        return Sample(path, "zip", zip_names=names)
    try:
        with open_text(path) as handle:
            text = handle.read(HEAD_BYTES // 2)
            if text.lstrip().startswith("{") and "\n" not in text.lstrip():
                # twarc2 lines carry their expansions: one line can be far longer than the head.
                text += handle.readline(MAX_FIRST_LINE_CHARS)
    except (*DAMAGED_STREAM, InputTooLarge):
        # A damaged compressed file: judge by what could be read (the reader reports the rest).
        text = head.decode(*text_encoding(head))[: HEAD_BYTES // 2]
    stripped = text.lstrip()
    if not stripped:
        return Sample(path, "empty")
    if stripped.startswith("window.YTD."):
        return Sample(path, "x-archive-js", text=text)
    if stripped[0] in "[{":
        return Sample(path, _json_container(stripped), text=text)
    if _looks_binary(text[:4096]):
        return Sample(path, "binary", text=text)
    header_line = text.splitlines()[0] if text.splitlines() else ""
    delimiter = _delimiter(header_line)
    header = next(csv.reader([header_line], delimiter=delimiter), [])
    return Sample(path, "csv", text=text, header=[h.strip() for h in header], delimiter=delimiter)


def _looks_binary(head: str) -> bool:
    """Binary files are full of NUL and non-UTF-8 bytes; a text export may carry a few stray
    ones, and only the rows holding them go to quarantine."""
    return len(_ODD_CHARS.findall(head)) * 10 > len(head)


def _json_container(stripped: str) -> str:
    if stripped[0] == "[":
        return "json-document"
    first_line = stripped.split("\n", 1)[0].strip()
    try:
        json.loads(first_line)
    except (json.JSONDecodeError, RecursionError):
        # Either a pretty-printed document, or JSON lines whose first line is broken.
        lines = [line for line in stripped.splitlines()[:20] if line.strip()]
        complete = sum(1 for line in lines[1:] if _is_json_object(line))
        return "json-lines" if complete >= max(1, (len(lines) - 1) // 2) else "json-document"
    return "json-lines"


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (json.JSONDecodeError, RecursionError):
        return False


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","
