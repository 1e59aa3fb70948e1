"""Model files are data, not code: nothing is unpickled, a changed or foreign file is refused
with one clear line, and the sha256 in model.json is checked at load."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import UserError
from pipeline.models import MODELS_DIR, load
from pipeline.models.heads import TextClassifier
from pipeline.models.store import _sha256


class _Payload:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def model_copy(tmp_path) -> Path:
    folder = tmp_path / "topics-fast"
    shutil.copytree(MODELS_DIR / "topics-fast", folder)
    return folder


def _rewrite_description(folder: Path, **changes) -> None:
    description = json.loads((folder / "model.json").read_text("utf-8"))
    description.update(changes)
    (folder / "model.json").write_text(json.dumps(description), "utf-8")


def test_shipped_model_loads_and_its_sha256_matches(model_copy):
    description = json.loads((model_copy / "model.json").read_text("utf-8"))
    assert description["weights_sha256"] == _sha256(model_copy / "weights.npz")
    assert TextClassifier.load(model_copy).predict_labels(["Le ministre a reçu son homologue."]) is not None


def test_tampered_weights_are_refused(model_copy):
    data = bytearray((model_copy / "weights.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (model_copy / "weights.npz").write_bytes(bytes(data))
    with pytest.raises(UserError, match="does not match the sha256 in model.json"):
        TextClassifier.load(model_copy)


def test_pickled_weights_never_run_even_with_a_matching_sha256(model_copy, tmp_path):
    marker = tmp_path / "code-ran"
    (model_copy / "weights.npz").write_bytes(pickle.dumps({"coef": _Payload(marker)}))
    _rewrite_description(model_copy, weights_sha256=_sha256(model_copy / "weights.npz"))
    with pytest.raises(UserError, match="cannot load model"):
        TextClassifier.load(model_copy)
    assert not marker.exists()


def test_object_arrays_inside_an_npz_are_refused(model_copy, tmp_path):
    marker = tmp_path / "code-ran"
    np.savez(model_copy / "weights.npz", coef=np.array([_Payload(marker)], dtype=object))
    _rewrite_description(model_copy, weights_sha256=_sha256(model_copy / "weights.npz"))
    with pytest.raises(UserError, match="allow_pickle"):
        TextClassifier.load(model_copy)
    assert not marker.exists()


def test_a_folder_holding_only_a_pickle_is_not_a_model(tmp_path):
    marker = tmp_path / "code-ran"
    folder = tmp_path / "foreign"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(UserError, match="not found"):
        load(str(folder))
    assert not marker.exists()


def test_weights_linked_from_outside_the_folder_are_refused(model_copy, tmp_path):
    outside = tmp_path / "elsewhere.npz"
    shutil.move(model_copy / "weights.npz", outside)
    (model_copy / "weights.npz").symlink_to(outside)
    with pytest.raises(UserError, match="points outside the model folder"):
        TextClassifier.load(model_copy)


def test_foreign_model_json_with_matching_weights_is_a_clear_refusal(model_copy):
    description = json.loads((model_copy / "model.json").read_text("utf-8"))
    del description["params"]
    (model_copy / "model.json").write_text(json.dumps(description), "utf-8")
    with pytest.raises(UserError, match="missing or malformed 'params'"):
        TextClassifier.load(model_copy)


def test_model_of_another_kind_is_refused(model_copy):
    _rewrite_description(model_copy, estimator="SomethingElse")
    with pytest.raises(UserError, match="expected TextClassifier"):
        TextClassifier.load(model_copy)


def test_encoder_folder_with_a_pickled_checkpoint_only_is_refused(tmp_path, converted_encoder):
    from pipeline.models.encoder import Encoder

    source = converted_encoder
    folder = tmp_path / "encoder"
    folder.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(source / name, folder / name)
    marker = tmp_path / "code-ran"
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(UserError, match="diplolens models setup --force"):
        Encoder(folder)
    assert not marker.exists()


def test_encoder_weights_changed_after_setup_are_refused(tmp_path, converted_encoder):
    from pipeline.models.encoder import Encoder

    folder = tmp_path / "encoder"
    folder.mkdir()
    for item in converted_encoder.iterdir():
        (folder / item.name).symlink_to(item)
    record = json.loads((converted_encoder / "conversion.json").read_text("utf-8"))
    assert len(record["weights_sha256"]) == 64  # setup records what it verified
    (folder / "conversion.json").unlink()
    (folder / "conversion.json").write_text(json.dumps({**record, "weights_sha256": "0" * 64}), "utf-8")
    with pytest.raises(UserError, match="changed since `diplolens models setup` verified them"):
        Encoder(folder)
