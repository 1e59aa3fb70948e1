"""The int8 ONNX Runtime backend of the encoder: set up once per session, it must embed like
the torch encoder, refuse files setup did not verify, and say in one line what is missing."""

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import UserError
from pipeline.normalize import normalize_text
from pipeline.runner import SAMPLE_POSTS

SIB_SAMPLE = Path(__file__).parent / "fixtures" / "sib200_sample.csv"


def linked_copy(source: Path, target: Path) -> Path:
    """The checkpoint's files in another folder (hard links where possible: no 470 MB copy)."""
    target.mkdir(parents=True)
    for file in source.iterdir():
        if file.is_file():
            try:
                os.link(file, target / file.name)
            except OSError:
                shutil.copy2(file, target / file.name)
    return target


@pytest.fixture(scope="session")
def onnx_encoder(converted_encoder, tmp_path_factory) -> Path:
    """The checkpoint with its int8 ONNX export (about 40 s), once per session; an export
    already set up next to it is reused, and never written into the user's own home."""
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed: pip install -e \".[onnx]\"")
    pytest.importorskip("onnx", reason="the onnx extra is not installed: pip install -e \".[onnx]\"")
    from pipeline.models.onnx_backend import RECORD_FILE, onnx_file, setup_onnx

    if (onnx_file(converted_encoder).parent / RECORD_FILE).is_file():
        return converted_encoder
    folder = linked_copy(converted_encoder, tmp_path_factory.mktemp("onnx") / converted_encoder.name)
    setup_onnx(folder, progress=lambda _: None)
    return folder


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Real posts (sample archive, every language in it) and SIB-200 sentences (en, fr, ar)."""
    posts = pd.read_csv(SAMPLE_POSTS, dtype=str, keep_default_na=False).groupby("account_main_lang").head(8)
    sentences = pd.read_csv(SIB_SAMPLE).groupby("iso639_1").head(8)
    return [normalize_text(t) for t in [*posts["text"], *sentences["text"]]]


def test_int8_vectors_agree_with_torch(onnx_encoder, texts):
    from pipeline.models.encoder import Encoder

    torch_vectors = Encoder(onnx_encoder, backend="torch").encode(texts)
    onnx = Encoder(onnx_encoder, backend="onnx")
    onnx_vectors = onnx.encode(texts)
    cosines = np.sum(torch_vectors * onnx_vectors, axis=1)
    assert cosines.min() >= 0.99 and cosines.mean() >= 0.995  # int8 weights move each vector a little
    assert np.allclose(np.linalg.norm(onnx_vectors, axis=1), 1.0, atol=1e-5)
    assert onnx_vectors.dtype == np.float32 and onnx.dimension == 384
    record = json.loads((onnx_encoder / "onnx" / "export.json").read_text("utf-8"))
    assert record["cosine_min"] >= 0.99 and record["quantization"]["weight_type"] == "QInt8"


def test_backends_have_their_own_cache_identity(onnx_encoder):
    from pipeline.models.encoder import Encoder, encoder_identity

    torch_identity = Encoder(onnx_encoder, backend="torch").identity
    onnx_identity = Encoder(onnx_encoder, backend="onnx").identity
    assert torch_identity != onnx_identity and "onnxruntime==" in onnx_identity
    assert encoder_identity(str(onnx_encoder), "onnx", 128) == (onnx_identity, 384)  # known before loading


def test_the_run_uses_the_configured_backend(onnx_encoder, tmp_path):
    from pipeline.config import load_config
    from pipeline.runner import run

    config = load_config(overrides={"profile": "accurate", "stages": ["normalize", "langid", "embed", "topics"],
                                    "models.encoder_dir": str(onnx_encoder), "embed.backend": "onnx",
                                    "embed.cache_dir": str(tmp_path / "cache")})
    frame = pd.read_csv(SAMPLE_POSTS, dtype=str, keep_default_na=False).head(60)
    frame.to_csv(tmp_path / "posts.csv", index=False)
    manifest = run([str(tmp_path / "posts.csv")], tmp_path / "out", config, progress=False)
    assert manifest["models"]["encoder"]["backend"] == "onnx"
    assert manifest["stage_counts"]["embed"]["embedded"] > 50
    assert pd.read_parquet(tmp_path / "out" / "posts.parquet")["topics"].map(len).gt(0).mean() > 0.5


def test_a_changed_onnx_file_is_refused(onnx_encoder, tmp_path):
    from pipeline.models.encoder import Encoder

    folder = linked_copy(onnx_encoder, tmp_path / "encoder")
    (folder / "onnx").mkdir()
    os.link(onnx_encoder / "onnx" / "model-int8.onnx", folder / "onnx" / "model-int8.onnx")
    record = json.loads((onnx_encoder / "onnx" / "export.json").read_text("utf-8"))
    (folder / "onnx" / "export.json").write_text(json.dumps({**record, "sha256": "0" * 64}), "utf-8")
    with pytest.raises(UserError, match="setup --backend onnx --force"):
        Encoder(folder, backend="onnx")


def test_onnx_backend_not_set_up_is_one_clear_error(converted_encoder, tmp_path):
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    from pipeline.models.encoder import Encoder

    folder = linked_copy(converted_encoder, tmp_path / "encoder")
    shutil.rmtree(folder / "onnx", ignore_errors=True)
    with pytest.raises(UserError, match="diplolens models setup --backend onnx"):
        Encoder(folder, backend="onnx")


def test_onnx_backend_without_onnxruntime_is_one_clear_error(converted_encoder, monkeypatch):
    from pipeline.models.encoder import Encoder

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    with pytest.raises(UserError, match=r"pip install -e \"\.\[onnx\]\""):
        Encoder(converted_encoder, backend="onnx")
