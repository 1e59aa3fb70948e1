"""How every model folder is written and read: `model.json` (description, parameters,
metadata) and `weights.npz` (NumPy arrays), never pickle, so that a model file from
somewhere else is data and cannot run code. `model.json` carries the sha256 of the weights,
checked before they are read: a changed or foreign file is refused with one clear line.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from pipeline.errors import UserError


def save_model_files(folder: Path, description: dict, arrays: dict[str, np.ndarray]) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / "weights.npz", **arrays)
    description = {**description, "weights_sha256": _sha256(folder / "weights.npz")}
    (folder / "model.json").write_text(json.dumps(description, indent=1, ensure_ascii=False) + "\n", "utf-8")


def update_description(folder: Path, **values) -> None:
    """Set keys of a saved model's `model.json` (its metadata: a report's summary, say), leaving
    the weights and their checksum as they are."""
    path = Path(folder) / "model.json"
    description = {**json.loads(path.read_text("utf-8")), **values}
    path.write_text(json.dumps(description, indent=1, ensure_ascii=False) + "\n", "utf-8")


def load_model_files(folder: Path, estimator: str, format_version: int) -> tuple[dict, dict[str, np.ndarray]]:
    """The description and arrays of a model folder holding `estimator` in `format_version`."""
    folder = Path(folder)
    for name in ("model.json", "weights.npz"):
        # A link out of the folder would make its checksum vouch for a file kept elsewhere.
        if (folder / name).is_symlink() and (folder / name).resolve().parent != folder.resolve():
            raise UserError(f"{folder}: {name} points outside the model folder; copy the file in")
    try:
        description = json.loads((folder / "model.json").read_text("utf-8"))
        if not isinstance(description, dict):
            raise ValueError("model.json is not an object")
        if description.get("weights_sha256") != _sha256(folder / "weights.npz"):
            raise UserError(f"{folder}: weights.npz does not match the sha256 in model.json "
                            f"(a changed or foreign file); retrain or restore the model")
        if description.get("estimator") != estimator or description.get("format_version") != format_version:
            raise UserError(f"{folder}: holds {description.get('estimator')} format "
                            f"{description.get('format_version')}, expected {estimator} format {format_version}")
        with np.load(folder / "weights.npz", allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot load model from {folder}: {exc}")
    return description, arrays


def model_estimator(folder: Path) -> str | None:
    """The estimator named in a model folder's description (None when unreadable)."""
    try:
        return json.loads((Path(folder) / "model.json").read_text("utf-8")).get("estimator")
    except (OSError, ValueError, AttributeError):
        return None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
