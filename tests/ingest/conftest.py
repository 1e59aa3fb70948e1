"""Ingest test helpers: run the public entry points over files and check every run's invariants."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import pytest

from pipeline import schema
from pipeline.config import load_config
from pipeline.ingest import AccountsRegistry, ingest_batches, plan_inputs


@dataclass
class Ingested:
    posts: pd.DataFrame
    quarantine: pd.DataFrame
    read: int
    duplicates: int
    mangled_ids: int
    formats: dict[str, str | None] = field(default_factory=dict)  # file name -> reader name

    def post(self, post_id: str) -> pd.Series:
        """The one post with this id (fails when there is none or several)."""
        rows = self.posts[self.posts["post_id"] == post_id]
        assert len(rows) == 1, f"{len(rows)} posts with id {post_id}"
        return rows.iloc[0]

    def reasons(self) -> dict[int, str]:
        """Quarantine reasons by source row."""
        return dict(zip(self.quarantine["source_row"], self.quarantine["reason"]))


def ingest(inputs: list, overrides: dict | None = None, accounts: AccountsRegistry | None = None) -> Ingested:
    """`plan_inputs` + `ingest_batches` with `load_config(overrides=...)`, batches gathered.

    Every batch must balance (read = written + quarantined + duplicates) and convert to the
    declared Arrow schemas, whatever the test is about.
    """
    config = load_config(overrides=overrides)
    files = plan_inputs([str(path) for path in inputs], config["ingest"]["format"])
    posts, quarantine = [], []
    read = duplicates = mangled_ids = 0
    for batch in ingest_batches(files, config, accounts):
        assert batch.rows_read == len(batch.posts) + len(batch.quarantine) + batch.duplicates
        schema.check_columns(batch.posts, schema.POSTS, "ingest")
        schema.to_arrow(batch.posts, schema.POSTS)
        schema.to_arrow(batch.quarantine, schema.QUARANTINE)
        posts.append(batch.posts)
        quarantine.append(batch.quarantine)
        read += batch.rows_read
        duplicates += batch.duplicates
        mangled_ids += batch.mangled_ids
    return Ingested(
        posts=pd.concat(posts, ignore_index=True) if posts else schema.empty_frame(schema.POSTS),
        quarantine=pd.concat(quarantine, ignore_index=True) if quarantine else schema.empty_frame(schema.QUARANTINE),
        read=read,
        duplicates=duplicates,
        mangled_ids=mangled_ids,
        formats={f.path.name: f.reader.name if f.reader else None for f in files},
    )


@pytest.fixture(scope="session")
def run_ingest():
    return ingest
