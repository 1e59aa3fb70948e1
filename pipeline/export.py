"""Exports for spreadsheets: `diplolens export DIR --format csv|xlsx [--out FOLDER]`.

Each table of a finished run becomes a CSV file (UTF-8 with a byte-order mark, so that Excel
reads Arabic and every other script correctly) or a sheet of one Excel workbook. A text cell
that starts like a formula (`=`, `+`, `-`, `@`, tab, carriage return) would be evaluated by the
spreadsheet (`=HYPERLINK(...)` in a post can leak data or run commands): it gets a leading
apostrophe, as OWASP's CSV-injection guidance advises, so it shows as text. Lists and maps are
written as readable text (`en; fr`, `political: 120; economic: 31`), times as UTC
`YYYY-MM-DD HH:MM:SS`. Tables stream one row group at a time; output names come from the
code, never from the data.
"""

from __future__ import annotations

import csv
import math
import os
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from pipeline.dictionary import TABLES
from pipeline.errors import UserError
from pipeline.outputs import PARTIAL_SUFFIX, streamed_parquet
from pipeline.report import mapping, read_manifest

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_MAX_ROWS = 1_048_576  # rows of an Excel sheet, header included
XLSX_MAX_CHARS = 32_767  # characters of an Excel cell
BATCH_ROWS = 10_000


def spreadsheet_safe(text: str) -> str:
    """A text cell that a spreadsheet cannot take for a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _plain(value):
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, datetime):  # pandas Timestamps too
        stamp = pd.Timestamp(value)
        return (stamp.tz_convert("UTC") if stamp.tzinfo else stamp).strftime("%Y-%m-%d %H:%M:%S")
    return value


def cell(value):
    """One value as a spreadsheet cell: numbers and booleans as they are, everything else as safe text."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, dict) or (isinstance(value, (list, np.ndarray)) and len(value)
                                   and all(isinstance(v, tuple) and len(v) == 2 for v in value)):
        text = "; ".join(f"{key}: {_plain(v)}" for key, v in mapping(value).items())
    elif isinstance(value, (list, tuple, np.ndarray)):
        text = "; ".join(str(_plain(v)) for v in value)
    else:
        text = str(_plain(value))
    return spreadsheet_safe(text)


def _rows(path: Path):
    """The table's header, then its rows as cells, one row group at a time."""
    source = streamed_parquet(path)
    yield source.schema_arrow.names
    for batch in source.iter_batches(batch_size=BATCH_ROWS):
        for row in batch.to_pandas().itertuples(index=False, name=None):
            yield [cell(value) for value in row]


def _tables(out_dir: Path) -> list[Path]:
    read_manifest(out_dir)  # a finished run, or one clear error
    return [out_dir / table.file for table in TABLES if (out_dir / table.file).is_file()]


def _finish(partial: Path) -> Path:
    final = partial.with_name(partial.name.removesuffix(PARTIAL_SUFFIX))
    os.replace(partial, final)
    return final


def write_csv(table: Path, folder: Path) -> Path:
    partial = folder / (table.stem + ".csv" + PARTIAL_SUFFIX)
    with partial.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        for row in _rows(table):
            writer.writerow(["" if value is None else value for value in row])
    return _finish(partial)


def write_xlsx(tables: list[Path], path: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    for table in tables:
        rows = pq.read_metadata(table).num_rows
        if rows + 1 > XLSX_MAX_ROWS:
            raise UserError(f"{table.name} has {rows:,} rows, more than an Excel sheet holds: use --format csv")

    def excel(value):
        if not isinstance(value, str):
            return value
        # Control characters are not allowed in the file format; a cell holds at most 32,767 characters.
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        return value if len(value) <= XLSX_MAX_CHARS else value[: XLSX_MAX_CHARS - 1] + "…"

    workbook = Workbook(write_only=True)
    for table in tables:
        sheet = workbook.create_sheet(table.stem[:31])
        for row in _rows(table):
            sheet.append([excel(value) for value in row])
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    workbook.save(partial)
    return _finish(partial)


def export_tables(out_dir: str | Path, fmt: str = "csv", folder: str | Path | None = None) -> list[Path]:
    """Export every table of the run in `out_dir` into `folder` (default `out_dir/export`); returns the files."""
    out_dir = Path(out_dir)
    tables = _tables(out_dir)
    folder = Path(folder) if folder is not None else out_dir / "export"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create export folder {folder}: {exc.strerror or exc}")
    if fmt == "csv":
        return [write_csv(table, folder) for table in tables]
    if fmt == "xlsx":
        return [write_xlsx(tables, folder / "diplolens_tables.xlsx")]
    raise UserError(f"export format must be csv or xlsx, got {fmt!r}")
