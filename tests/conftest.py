"""Shared test set-up: no network, and the shared data folder (beside the repo) when present."""

import os
from pathlib import Path

import pytest

# Nothing may reach a model hub at run time; tests prove it by running offline.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
WORLD_LEADERS = SHARED_DATA / "world-leaders-tweets-2015-2019" / "world_leaders_tweets.csv"


@pytest.fixture
def world_leaders_csv() -> Path:
    if not WORLD_LEADERS.is_file():
        pytest.skip(f"shared data not present at {WORLD_LEADERS}")
    return WORLD_LEADERS
