"""Timestamps as the platforms and spreadsheets write them, to UTC.

Vectorised passes for the common layouts (ISO 8601 from APIs, X/Twitter's
"Wed Oct 10 20:19:24 +0000 2018", spreadsheets' "11/18/19 20:37"), then dateutil for
the rest. A time without a zone is taken as UTC (platform exports are UTC unless
they say otherwise). Epoch numbers (also as digit strings, as CSV cells and Telegram's
`date_unixtime` hold them) are seconds, or milliseconds when too large. Datetime objects
(Parquet and Excel cells) are converted as they are.
"""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np
import pandas as pd
from dateutil import parser as dateutil_parser
from dateutil import tz

EARLIEST = pd.Timestamp("1990-01-01", tz="UTC")
LATEST = pd.Timestamp("2100-01-01", tz="UTC")

# Zones that appear as abbreviations in exports (CrowdTangle writes "2021-01-06 17:03:43 EST").
ZONE_ABBREVIATIONS = {
    "UTC": tz.UTC, "GMT": tz.UTC, "Z": tz.UTC,
    "EST": tz.tzoffset("EST", -5 * 3600), "EDT": tz.tzoffset("EDT", -4 * 3600),
    "CST": tz.tzoffset("CST", -6 * 3600), "CDT": tz.tzoffset("CDT", -5 * 3600),
    "MST": tz.tzoffset("MST", -7 * 3600), "MDT": tz.tzoffset("MDT", -6 * 3600),
    "PST": tz.tzoffset("PST", -8 * 3600), "PDT": tz.tzoffset("PDT", -7 * 3600),
    "CET": tz.tzoffset("CET", 3600), "CEST": tz.tzoffset("CEST", 7200),
}

_MONTH_FIRST = ("%m/%d/%y %H:%M", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%m/%d/%y")
_DAY_FIRST = ("%d/%m/%y %H:%M", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y", "%d/%m/%y",
              "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y")
_FIXED_LAYOUTS = ("ISO8601", "%a %b %d %H:%M:%S %z %Y")
_DATE_LIKE = re.compile(r"\d{4}|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2}")
# At least 9 digits (1990 onwards in seconds), so that "20191223" stays a compact date.
_EPOCH_TEXT = re.compile(r"^\s*\d{9,}(\.\d+)?\s*$")


def parse_datetimes(values: pd.Series, dayfirst: bool = False) -> tuple[pd.Series, pd.Series]:
    """Parse a column of raw timestamps.

    Returns the parsed UTC timestamps (NaT where missing or bad) and a boolean mask of
    the values that were present but could not be parsed (or fell outside 1990..2100).
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        # Parsed already (posts read back from Parquet, as the archive-wide pass reads them):
        # only the range check is left to do.
        result = pd.to_datetime(values, utc=True).astype("datetime64[us, UTC]").rename(None)
        return _in_range(result, values.notna())
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
    values = values.astype(object)  # cell by cell below, whatever dtype pandas inferred
    present = values.notna() & values.map(lambda v: not (isinstance(v, str) and not v.strip()))
    if not present.any():
        return result, present
    # Typed cells need no parsing (formatting them as text to parse it again took most of
    # this function's time on Parquet inputs).
    is_stamp = present & values.map(lambda v: isinstance(v, datetime))
    if is_stamp.any():
        result[is_stamp] = pd.to_datetime(values[is_stamp], utc=True, errors="coerce")
    numeric = pd.to_numeric(values.where(present), errors="coerce")
    is_number = numeric.notna() & values.map(_is_epoch)
    if is_number.any():
        numbers = numeric[is_number]
        # Whole microseconds (the column's unit): float seconds would carry binary noise.
        micros = (numbers * np.where(numbers.abs() < 1e11, 1e6, 1e3)).round()
        result[is_number] = pd.to_datetime(micros, unit="us", utc=True, errors="coerce")
    todo = present & ~is_number & ~is_stamp
    text = values[todo].astype(str).str.strip()
    layouts = _FIXED_LAYOUTS + (_DAY_FIRST + _MONTH_FIRST if dayfirst else _MONTH_FIRST + _DAY_FIRST)
    for layout in layouts:
        if text.empty:
            break
        parsed = pd.to_datetime(text, format=layout, utc=True, errors="coerce")
        ok = parsed.notna()
        result[ok[ok].index] = parsed[ok]
        text = text[~ok]
    for index, raw in text.items():
        result[index] = _parse_one(raw, dayfirst)
    return _in_range(result, present)


def _in_range(result: pd.Series, present: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The timestamps with those outside EARLIEST..LATEST made NaT, and which present values failed."""
    result = result.where(result.isna() | ((result >= EARLIEST) & (result < LATEST)))
    return result, present & result.isna()


def _is_epoch(value) -> bool:
    if isinstance(value, str):
        return _EPOCH_TEXT.match(value) is not None
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


def _parse_one(raw: str, dayfirst: bool):
    if not _DATE_LIKE.search(raw) or len(raw) > 64:
        return pd.NaT
    try:
        parsed = dateutil_parser.parse(raw, dayfirst=dayfirst, tzinfos=ZONE_ABBREVIATIONS)
    except (ValueError, OverflowError, TypeError):
        return pd.NaT
    stamp = pd.Timestamp(parsed)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
