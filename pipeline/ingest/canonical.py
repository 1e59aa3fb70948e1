"""Raw records of any format -> canonical posts, with every bad row sent to quarantine.

This is the one place where types are checked and coerced (ids to strings, counts to
integers, timestamps to UTC, flags to booleans), so every reader gets the same rules and
the same reasons in the quarantine table.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline import schema
from pipeline.ingest.dates import parse_datetimes
from pipeline.ingest.records import NUL_CHAR, RawRecord

# A numeric id after a spreadsheet: 1.20905948854589E+18 (1,20905948854589E+18 where the decimal
# mark is a comma), or 1209059488545886209.0 from a float.
_MANGLED_ID = re.compile(r"^[+-]?\d+([.,]\d+)?[eE][+-]?\d+$|^\d{16,}[.,]\d+$")
_INVALID_CHARS = re.compile("[\ud800-\udfff]")
_STRING_FIELDS = (
    "post_id", "platform", "account_id", "account_handle", "actor", "actor_type", "country",
    "text", "lang_declared", "reply_to_id", "reply_to_handle", "repost_of_id", "quote_of_id",
    "media_type", "url",
)
_ID_FIELDS = ("post_id", "account_id", "reply_to_id", "repost_of_id", "quote_of_id")
_FLAG_FIELDS = ("is_reply", "is_repost", "is_quote")
_SCALARS = (str, int, float, np.integer, np.floating)
# "1,234", "1 234" (space, no-break space, narrow no-break space): separators are dropped.
_THOUSANDS_SEPARATORS = str.maketrans("", "", ", \u00a0\u202f")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}


@dataclass
class CanonicalBatch:
    posts: pd.DataFrame
    quarantine: pd.DataFrame
    mangled_ids: int = 0  # post ids replaced by a content hash
    warnings: list[str] = field(default_factory=list)


def to_canonical(
    records: list[RawRecord],
    source_file: str,
    format_name: str,
    default_platform: str,
    max_field_chars: int,
    dayfirst: bool,
) -> CanonicalBatch:
    rejected: list[tuple[int, str, str]] = [
        (r.source_row, r.error, r.raw_text()) for r in records if r.error is not None
    ]
    good = [r for r in records if r.error is None]
    # Object columns from the start: pandas would infer Arrow strings, which cannot hold the
    # lone surrogates that mark invalid bytes (those rows must reach the quarantine).
    frame = pd.DataFrame([r.fields for r in good], columns=list(schema.READER_FIELDS), dtype=object)
    frame = frame.where(frame.notna(), None)
    reasons = pd.Series([None] * len(frame), dtype=object)

    def reject(mask: pd.Series, reason) -> None:
        mask = mask & reasons.isna()
        if mask.any():
            reasons[mask] = reason if isinstance(reason, str) else reason[mask]

    for name in _STRING_FIELDS:
        # Plain Python over object columns: pandas' Arrow strings cannot hold the lone
        # surrogates that mark invalid bytes, and those rows must reach the quarantine.
        values = frame[name].tolist()
        if all(v is None or type(v) is str for v in values):  # the usual case: text already
            texts = values
        else:
            wrong_type = [v is not None and (isinstance(v, bool) or not isinstance(v, _SCALARS)) for v in values]
            reject(pd.Series(wrong_type), f"{name} has a wrong type (not text)")
            texts = [None if bad else _as_text(v) for v, bad in zip(values, wrong_type)]
        if name == "text":
            reject(pd.Series([t is None or not t.strip() for t in texts]), "missing text")
        present = [t for t in texts if t is not None]
        # Each check looks at the whole column at once first; row by row only when it fails.
        if _INVALID_CHARS.search("".join(present)):
            reject(pd.Series([t is not None and _INVALID_CHARS.search(t) is not None for t in texts]),
                   f"{name} has invalid bytes (not UTF-8, or NUL)")
        if present and max(map(len, present)) > max_field_chars:
            reject(pd.Series([t is not None and len(t) > max_field_chars for t in texts]),
                   f"{name} longer than {max_field_chars} characters")
        frame[name] = pd.Series(texts, dtype=object)

    for name in (*schema.COUNT_COLUMNS, "created_at", *_FLAG_FIELDS):
        # Text that is about to be parsed: invalid bytes would break the parsers' string types.
        if _INVALID_CHARS.search("".join(v for v in frame[name] if isinstance(v, str))):
            invalid = frame[name].map(lambda v: isinstance(v, str) and _INVALID_CHARS.search(v) is not None)
            reject(invalid, f"{name} has invalid bytes (not UTF-8, or NUL)")
            frame.loc[invalid.to_numpy(), name] = None

    for name in schema.COUNT_COLUMNS:
        counts, bad = _to_counts(frame[name])
        reject(bad, f"{name} is not a non-negative integer")
        frame[name] = counts

    created_at, bad_dates = parse_datetimes(frame["created_at"], dayfirst=dayfirst)
    reject(bad_dates, "unparseable or out-of-range created_at")
    frame["created_at"] = created_at

    for name in _FLAG_FIELDS:
        flags, bad = _to_flags(frame[name])
        reject(bad, f"{name} is not a boolean")
        frame[name] = flags

    keep = reasons.isna()
    for i in np.flatnonzero(~keep.to_numpy()):
        rejected.append((good[i].source_row, reasons.iloc[i], good[i].raw_text()))
    posts = frame[keep.to_numpy()].reset_index(drop=True)
    rows = [r.source_row for r, k in zip(good, keep) if k]
    batch = CanonicalBatch(posts=_finish(posts, rows, source_file, default_platform),
                           quarantine=_quarantine_frame(rejected, source_file, format_name))
    batch.mangled_ids = int((batch.posts["post_id_origin"] == "derived_from_mangled").sum())
    batch.posts["post_id_origin"] = batch.posts["post_id_origin"].replace(
        "derived_from_mangled", "derived")
    return batch


def _finish(posts: pd.DataFrame, rows: list[int], source_file: str, default_platform: str) -> pd.DataFrame:
    posts["source_file"] = source_file
    posts["source_row"] = pd.Series(rows, dtype="int64")
    posts["platform"] = posts["platform"].fillna(default_platform).str.strip().str.lower()
    posts["account_handle"] = posts["account_handle"].str.strip().str.lstrip("@")
    posts["lang_declared"] = posts["lang_declared"].str.strip().str.lower()
    for name in _ID_FIELDS:
        posts[name] = posts[name].str.strip()
    mangled = posts["post_id"].str.match(_MANGLED_ID, na=False)
    missing = posts["post_id"].isna() | (posts["post_id"] == "")
    posts["post_id_origin"] = np.select(
        [mangled, missing], ["derived_from_mangled", "derived"], default="native")
    derive = mangled | missing
    if derive.any():
        posts.loc[derive, "post_id"] = [
            _content_id(row) for row in posts.loc[derive].itertuples(index=False)
        ]
    posts["is_reply"] = posts["is_reply"].fillna(
        posts["reply_to_id"].notna() | posts["reply_to_handle"].fillna("").ne(""))
    posts["is_repost"] = posts["is_repost"].fillna(
        posts["repost_of_id"].notna() | posts["text"].str.startswith("RT @"))
    posts["is_quote"] = posts["is_quote"].fillna(posts["quote_of_id"].notna())
    for name in _FLAG_FIELDS:
        posts[name] = posts[name].astype(bool)
    for name in ("reply_to_id", "repost_of_id", "quote_of_id"):
        # A mangled reference cannot be trusted to point at the right post: drop it, keep the
        # flag (set above, from the reference being there).
        bad = posts[name].str.match(_MANGLED_ID, na=False)
        posts.loc[bad, name] = None
    return posts


def _content_id(row) -> str:
    """A stable id from what the post says, who said it and when (for missing/mangled ids)."""
    key = "\x1f".join(str(v) for v in (row.platform, row.account_handle, row.account_id,
                                        row.created_at, row.text, row.post_id))
    return "h:" + hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()


def _as_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return None
        # 1.209e18 as a float has lost digits: render it so the mangled-id check sees it.
        return repr(float(value)) if not float(value).is_integer() or abs(value) >= 2**53 else str(int(value))
    return str(value)


def _to_counts(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Engagement counts: ints, numeric strings ("1,234", "12"), floats with no fraction."""
    # List comprehensions rather than Series.map: this runs on every row of every batch.
    values = column.tolist()
    present = pd.Series([known and not (isinstance(v, str) and v.strip() == "")
                         for known, v in zip(column.notna().to_numpy(), values)], index=column.index)
    cleaned = [v.strip().translate(_THOUSANDS_SEPARATORS) if isinstance(v, str) else v for v in values]
    numbers = pd.to_numeric(pd.Series(cleaned, index=column.index, dtype=object).where(present), errors="coerce")
    is_bool = pd.Series([isinstance(v, bool) for v in values], index=column.index)
    # Below 2**63 so that the value fits an int64 (a float bound: `numbers` may hold bools).
    valid = numbers.notna() & (numbers >= 0) & (numbers < 2.0**63) & (numbers % 1 == 0) & ~is_bool
    bad = present & ~valid
    counts = numbers.where(valid).astype("Int64")
    return counts, bad


def _to_flags(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    def parse(value):
        if value is None:
            return None
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if isinstance(value, (int, np.integer)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return None if lowered == "" else False
        return "bad"

    parsed = column.map(parse)
    bad = parsed.map(lambda v: isinstance(v, str))
    return parsed.where(~bad, None).astype(object), bad


def _quarantine_frame(rejected: list[tuple[int, str, str]], source_file: str, format_name: str) -> pd.DataFrame:
    rejected.sort(key=lambda item: item[0])
    return pd.DataFrame(
        {
            "source_file": pd.Series([source_file] * len(rejected), dtype=object),
            "source_row": pd.Series([r[0] for r in rejected], dtype="int64"),
            "format": pd.Series([format_name] * len(rejected), dtype=object),
            "reason": pd.Series([r[1] for r in rejected], dtype=object),
            # Raw bytes that were not UTF-8 are kept visible as \xNN escapes.
            "raw": pd.Series([_printable(r[2]) for r in rejected], dtype=object),
        }
    )


def _printable(raw: str) -> str:
    """Undecodable bytes (lone surrogates U+DC80 + byte) shown as \\xNN, NUL as \\x00."""
    if not _INVALID_CHARS.search(raw):
        return raw
    raw = raw.replace(NUL_CHAR, "\\x00")
    try:
        return raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        # Other lone surrogates: a JSON "\\ud800" escape, a cut UTF-16 file (U+DC00 + byte).
        return _INVALID_CHARS.sub(_escaped, raw)


def _escaped(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC00 <= code <= 0xDCFF else f"\\u{code:04x}"
