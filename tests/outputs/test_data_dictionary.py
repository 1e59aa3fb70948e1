"""The data dictionary documents every column of every table a run writes, once."""

import json

import pandas as pd
import pyarrow.parquet as pq

from pipeline.dictionary import BY_FILE, DOCS_COPY, TABLES, arrow_type, declared_table, render
from pipeline.outputs import write_table


def test_every_column_of_every_written_table_is_documented(sample_output):
    written = sorted(sample_output.glob("*.parquet"))
    assert {p.name for p in written} == set(BY_FILE)  # the sample run (risk stage, --period) writes them all
    for path in written:
        documented = [c.name for c in BY_FILE[path.name].columns]
        assert set(pq.read_schema(path).names) == set(documented), path.name


def test_metric_tables_are_written_with_the_declared_types(sample_output):
    # One schema for every run: a mapping is a Parquet map, a column with no value keeps its type.
    for name in ("accounts.parquet", "actors.parquet", "accounts_by_period.parquet", "actors_by_period.parquet",
                 "index_sensitivity.parquet"):
        written = pq.read_schema(sample_output / name)
        for column in BY_FILE[name].columns:
            assert written.field(column.name).type == arrow_type(column.kind), (name, column.name)


def test_an_unranked_actor_keeps_the_ranks_integers(tmp_path):
    # An actor with no score has no rank: the column must read back as integers with a gap,
    # not floats (the report would print "#2.00").
    actors = pd.DataFrame({"actor": ["France", "Canada"], "rank": pd.array([1, None], dtype="Int64"),
                           "topic_shares": [{"political": 0.5}, None]})
    write_table(declared_table(actors, "actors.parquet"), tmp_path / "actors.parquet")
    read_back = pd.read_parquet(tmp_path / "actors.parquet")
    assert str(read_back["rank"].dtype) == "Int64" and read_back["rank"].tolist()[0] == 1
    assert dict(read_back["topic_shares"][0]) == {"political": 0.5} and read_back["topic_shares"][1] is None


def test_every_declared_kind_has_an_arrow_type():
    assert str(arrow_type("map label → float 0..1")) == "map<string, double>"
    assert str(arrow_type("list of ISO 639-1")) == "list<item: string>"
    for table in TABLES:
        for column in table.columns:
            arrow_type(column.kind)


def test_no_column_is_documented_twice_in_a_table():
    for table in TABLES:
        names = [c.name for c in table.columns]
        assert len(names) == len(set(names)), table.file


def test_a_run_writes_its_dictionary_with_its_index_weights(sample_output):
    text = (sample_output / "data_dictionary.md").read_text("utf-8")
    manifest = json.loads((sample_output / "manifest.json").read_text("utf-8"))
    assert manifest["outputs"]["data_dictionary.md"] == sum(len(t.columns) for t in TABLES)
    assert "| `posts_per_week_of_span` | float, posts per week | GSMI production: posts / (span_days / 7)" in text
    assert "| presence | 0.25 | `posts_per_week_of_span`, `n_languages`, `n_platforms` |" in text


def test_the_committed_copy_is_the_generated_one():
    # Refresh with: python -m pipeline.dictionary
    assert DOCS_COPY.read_text("utf-8") == render()
