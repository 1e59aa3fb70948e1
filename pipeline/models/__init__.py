"""Trained models: where they live, how they load, and which profile a run uses.

A model is a folder (`model.json`, `weights.npz`, a model card `README.md`). `load(name)`
takes a path, or the name of a folder under the repository's `models/` (the shipped
defaults). Every model follows the scikit-learn estimator contract over texts.

Profiles: `accurate` reads the multilingual encoder's vectors (needs `diplolens models
setup` and the `[transformers]` extra); `fast` needs neither; `auto` is `accurate` when the
encoder is set up, else `fast`.
"""

from __future__ import annotations

import importlib
import importlib.util
from functools import lru_cache
from pathlib import Path

from pipeline.errors import UserError

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
PROFILES = ("auto", "accurate", "fast")


def model_dir(name: str) -> Path:
    path = Path(name)
    if (path / "model.json").is_file():
        return path
    shipped = MODELS_DIR / name
    if (shipped / "model.json").is_file():
        return shipped
    known = sorted(p.name for p in MODELS_DIR.iterdir() if (p / "model.json").is_file()) if MODELS_DIR.is_dir() else []
    raise UserError(f"model {name!r} not found (not a model folder; shipped models: {', '.join(known) or 'none'})")


# Estimator named in model.json -> the class that reads it (imported only when used).
ESTIMATORS = {
    "TextClassifier": ("pipeline.models.heads", "TextClassifier"),
    "BotLikeClassifier": ("pipeline.risk.bots", "BotLikeClassifier"),
}


@lru_cache(maxsize=8)
def _load_cached(path: str):
    from pipeline.models.store import model_estimator

    estimator = model_estimator(Path(path))
    if estimator not in ESTIMATORS:
        raise UserError(f"{path}: unknown model kind {estimator!r} (known: {', '.join(ESTIMATORS)})")
    module, name = ESTIMATORS[estimator]
    return getattr(importlib.import_module(module), name).load(Path(path))


def load(name: str):
    """The model named `name` (a path or a shipped model), loaded once per process."""
    return _load_cached(str(model_dir(name).resolve()))


def score_posts(model, posts) -> "np.ndarray":
    """A text model's per-label scores (each label's threshold, its language's where the model
    has one, at 0.5) for a batch: from the batch's encoder vectors (the `embed` stage) or from
    its normalised text."""
    import numpy as np

    from pipeline.models.heads import TEXT_FEATURES, inputs_from_vectors

    if posts.empty:
        return np.zeros((0, len(model.classes_)))
    languages = posts["lang"].tolist() if "lang" in posts else None  # the langid stage's
    if model.features in TEXT_FEATURES:
        return model.decision_scores(posts["text_norm"].tolist(), languages)
    from pipeline.embed import EMBEDDING

    if EMBEDDING not in posts:
        raise UserError(f"model {model.metadata_.get('name')} reads encoder vectors: add the `embed` stage "
                        f"before it and use the accurate profile")
    vectors = np.stack(posts[EMBEDDING].to_numpy())
    return model.decision_scores(inputs_from_vectors(posts["text_norm"], vectors, model.features), languages)


def encoder_available(config: dict) -> bool:
    from pipeline.models.encoder import encoder_dir

    return (importlib.util.find_spec("torch") is not None and importlib.util.find_spec("transformers") is not None
            and (encoder_dir(config) / "config.json").is_file())


def resolve_profile(config: dict) -> str:
    """The profile a run really uses; `accurate` without the encoder is a clear error."""
    profile = config["profile"]
    if profile not in PROFILES:
        raise UserError(f"config: profile must be one of {', '.join(PROFILES)}, not {profile!r}")
    if profile == "fast":
        return "fast"
    if encoder_available(config):
        return "accurate"
    if profile == "accurate":
        raise UserError("profile 'accurate' needs the multilingual encoder: pip install -e \".[transformers]\" "
                        "and run `diplolens models setup` (or use --profile fast)")
    return "fast"


def topic_model_name(config: dict, profile: str) -> str:
    """`models.topics` when set (`--model topics=NAME`), else the shipped default of the profile."""
    return config["models"]["topics"] or config["models"]["topics_default"][profile]
