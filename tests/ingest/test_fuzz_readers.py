"""Property-based fuzzing of every reader: hostile variants of each format's real fixture.

For every generated input, the real ingest path (`plan_inputs` + `ingest_batches`, then the
normalize stage over what was accepted) must: raise nothing but a UserError for a file that
is not data at all; finish within a time bound; keep memory bounded; account for every row
(read = written + quarantined + duplicates, each source row in exactly one place); and give
every quarantined row its raw content and a reason.

The default run tries a few dozen examples per format; `pytest -m slow` runs 1,000 per
format. With DIPLOLENS_FUZZ_LOG=FILE every example's outcome is appended to FILE (JSON
lines), from which the per-format counts are taken.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import schema
from pipeline.config import load_config
from pipeline.errors import UserError
from pipeline.ingest import ingest_batches, plan_inputs
from pipeline.registry import stages
from pipeline.runner import StageContext

from strategies import FORMATS, Case, hostile_input

# What a UserError may say when the damage left no posts format at all (the run stops with
# one line, as it should for a file the user named that is not data).
NOT_DATA = re.compile(r"unknown format|no text (column|field)|cannot read the CSV header|a zip that is not")
SECONDS_PER_EXAMPLE = 60
MAX_RSS_BYTES = 3 << 30

# Small batches in the default run, so rows cross batch borders; one batch per file in the
# slow run (a batch's fixed cost dominates on inputs this small).
CONFIG = load_config(overrides={"batch_size": 7})
SLOW_CONFIG = load_config(overrides={"batch_size": 1000})


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: int):
    def expire(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def ingest_case(case: Case, config: dict) -> dict:
    """Write the case to a fresh folder, ingest the named file, check every invariant."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "in"
        for name, data in case.files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        before = {p for p in Path(folder).rglob("*")}
        outcome = {"read": 0, "written": 0, "quarantined": 0, "duplicates": 0}
        try:
            files = plan_inputs([str(root / case.target)], "auto")
            for batch in ingest_batches(files, config):
                _check_batch(batch, config)
                outcome["read"] += batch.rows_read
                outcome["written"] += len(batch.posts)
                outcome["quarantined"] += len(batch.quarantine)
                outcome["duplicates"] += batch.duplicates
                outcome.setdefault("rows", []).extend(batch.posts["source_row"].tolist()
                                                      + batch.quarantine["source_row"].tolist())
        except UserError as exc:
            assert NOT_DATA.search(str(exc)), f"unexpected UserError: {exc}"
            outcome["user_error"] = str(exc)
        # Archives are read in place: nothing may be extracted anywhere (../ members included).
        assert {p for p in Path(folder).rglob("*")} == before
    rows = outcome.pop("rows", [])
    assert len(rows) == len(set(rows)), "a source row is both written and quarantined, or twice"
    assert outcome["read"] == outcome["written"] + outcome["quarantined"] + outcome["duplicates"]
    return outcome


def _check_batch(batch, config: dict) -> None:
    assert batch.rows_read == len(batch.posts) + len(batch.quarantine) + batch.duplicates
    schema.to_arrow(batch.posts, schema.POSTS)
    schema.to_arrow(batch.quarantine, schema.QUARANTINE)
    for reason, raw in zip(batch.quarantine["reason"], batch.quarantine["raw"]):
        assert isinstance(reason, str) and reason.strip()
        assert isinstance(raw, str) and raw, f"quarantined without its raw content ({reason})"
    # What ingest accepts, the next stage must take.
    normalized = stages()["normalize"].run(batch.posts, StageContext(config))
    schema.to_arrow(normalized, schema.output_schema(["normalize"]))


def check_format(fmt: str, case: Case, config: dict = CONFIG) -> None:
    log = os.environ.get("DIPLOLENS_FUZZ_LOG")
    started = time.perf_counter()
    entry = {"format": fmt, "steps": case.steps}
    try:
        with time_limit(SECONDS_PER_EXAMPLE):
            entry.update(ingest_case(case, config))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        assert peak < MAX_RSS_BYTES, f"peak memory {peak >> 20} MiB"
        entry["outcome"] = "user_error" if "user_error" in entry else "ok"
    except Hang:
        entry["outcome"] = "hang"
        raise
    except AssertionError as exc:
        entry["outcome"] = "unaccounted"
        entry["error"] = str(exc)[:500]
        raise
    except Exception as exc:
        entry["outcome"] = "crash"
        entry["error"] = f"{type(exc).__name__}: {exc}"[:500]
        raise
    finally:
        entry["seconds"] = round(time.perf_counter() - started, 3)
        if log:
            with open(log, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, ensure_ascii=False) + "\n")


FUZZ_SETTINGS = dict(deadline=None, derandomize=False, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                            HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=15, **FUZZ_SETTINGS)
@given(data=st.data())
def test_hostile_inputs_are_read_or_quarantined_never_crash(fmt, data):
    check_format(fmt, data.draw(hostile_input(fmt)))


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=1000, **FUZZ_SETTINGS)
@given(data=st.data())
def test_a_thousand_hostile_inputs_per_format(fmt, data):
    check_format(fmt, data.draw(hostile_input(fmt)), SLOW_CONFIG)
