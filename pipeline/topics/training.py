"""Train and evaluate topic models: `diplolens train topics` and `diplolens evaluate topics`.

Labelled data is a table with `text` and `labels` (a list, or label names joined by "|";
empty means none applies) and optionally `lang`, `split` and `known_labels` (the labels the
row's source annotates at all, in the same form; empty or absent: every label): CSV, JSON
lines, Parquet, or a folder saved by `datasets` (`DatasetDict.save_to_disk`). Texts pass
through the same `normalize_text` as posts in a run, so training and use see the same form.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import __version__
from pipeline.errors import UserError
from pipeline.langid import detect_languages
from pipeline.models.heads import TEXT_FEATURES, TextClassifier, inputs_from_vectors
from pipeline.normalize import normalize_text


def read_labelled(path: str | Path, split: str | None = None) -> pd.DataFrame:
    """`text`, `labels` (lists), `lang` (detected when absent) from a file or a datasets folder."""
    path = Path(path)
    frame = _read_datasets_folder(path, split) if path.is_dir() else read_table_file(path, "labelled data")
    missing = {"text", "labels"} - set(frame.columns)
    if missing:
        raise UserError(f"{path}: labelled data needs columns text and labels (missing: {', '.join(sorted(missing))})")
    if split is not None and "split" in frame.columns and not path.is_dir():
        splits = sorted(frame["split"].astype(str).unique())
        frame = frame[frame["split"] == split]
        if frame.empty:
            raise UserError(f"{path}: no rows in split {split!r} (splits: {', '.join(splits) or 'none'}; "
                            f"choose one with --split)")
    if frame.empty:
        raise UserError(f"{path}: no labelled rows")
    frame = frame.assign(text=frame["text"].astype(str), labels=frame["labels"].map(_as_label_list))
    if "known_labels" in frame.columns:
        frame["known_labels"] = frame["known_labels"].map(_as_label_list)
    if "lang" not in frame.columns:
        frame["lang"] = detect_languages(frame["text"].tolist(), _langid_settings())["lang"].to_numpy()
    return frame.reset_index(drop=True)


def read_table_file(path: Path, what: str) -> pd.DataFrame:
    """A CSV, JSON (lines) or Parquet file as a frame; a missing or unreadable file is one clear error."""
    if not path.is_file():
        raise UserError(f"{what} not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".jsonl", ".ndjson", ".json"):
            return pd.read_json(path, lines=suffix != ".json")
        return pd.read_csv(path, keep_default_na=False)
    except (ValueError, OSError) as exc:
        raise UserError(f"cannot read {what} {path}: {exc}")


def _read_datasets_folder(path: Path, split: str | None) -> pd.DataFrame:
    try:
        import datasets
    except ImportError:
        raise UserError(f"{path} is a folder: reading a saved `datasets` folder needs `pip install datasets`")
    try:
        loaded = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(f"{path}: not a saved datasets folder ({exc})")
    if isinstance(loaded, datasets.DatasetDict):
        names = [split] if split else list(loaded)
        if split and split not in loaded:
            raise UserError(f"{path}: no split {split!r} (splits: {', '.join(loaded)})")
        return pd.concat([loaded[name].to_pandas().assign(split=name) for name in names], ignore_index=True)
    return loaded.to_pandas()


def _as_label_list(value) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split("|") if part.strip()]
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return [str(part) for part in value]


def _langid_settings() -> dict:
    from pipeline.config import load_config

    return load_config()["langid"]


def check_labels(frame: pd.DataFrame, taxonomy: list[str]) -> None:
    for column in ["labels"] + (["known_labels"] if "known_labels" in frame.columns else []):
        unknown = sorted({label for labels in frame[column] for label in labels} - set(taxonomy))
        if unknown:
            raise UserError(f"{column} not in the taxonomy: {', '.join(unknown)} (taxonomy: {', '.join(taxonomy)})")
    if "known_labels" in frame.columns:
        outside = [i for i, (labels, known) in enumerate(zip(frame["labels"], frame["known_labels"]))
                   if known and not set(labels) <= set(known)]
        if outside:
            raise UserError(f"{len(outside):,} rows have labels outside their known_labels "
                            f"(first: row {outside[0]}); known_labels must include the row's labels")


def label_mask(frame: pd.DataFrame, taxonomy: list[str]) -> np.ndarray | None:
    """(rows, labels) booleans from `known_labels`: whether the row's source annotates each
    label (an empty list: every label). None without the column: every row speaks for every label."""
    if "known_labels" not in frame.columns:
        return None
    everything = np.ones(len(taxonomy), bool)
    return np.array([np.isin(taxonomy, known) if known else everything for known in frame["known_labels"]],
                    dtype=bool).reshape(len(frame), len(taxonomy))


def model_inputs(texts, features: str, encoder=None, cache: Path | None = None):
    """What a classifier reads: normalised texts, their encoder vectors (kept in the vector
    cache `cache`, when given, for the next training or evaluation), or both."""
    normalised = [normalize_text(t) for t in texts]
    if features in TEXT_FEATURES:
        return normalised
    from pipeline.models.encoder import Encoder, VectorCache

    encoder = encoder or Encoder()
    vectors = encoder.encode(normalised) if cache is None else VectorCache(cache).encode(encoder, normalised)
    return inputs_from_vectors(normalised, vectors, features)


def train_topic_model(frame: pd.DataFrame, taxonomy: list[str], features: str, C: float = 1.0,
                      encoder=None, inputs=None, hidden_units: int = 0) -> TextClassifier:
    """Fit a classifier on `frame` (text, labels). `inputs`: precomputed `model_inputs`;
    `hidden_units`: the network beside the linear heads (`TextClassifier`), 0 for none."""
    check_labels(frame, taxonomy)
    if inputs is None:
        inputs = model_inputs(frame["text"], features, encoder)
    model = TextClassifier(features=features, C=C, hidden_units=hidden_units, encoder=encoder)
    return model.fit(inputs, frame["labels"].tolist(), labels=taxonomy, label_mask=label_mask(frame, taxonomy))


def evaluate(model: TextClassifier, frame: pd.DataFrame, inputs=None) -> dict:
    """Precision, recall and F1 per label, and micro/macro F1 overall and per language; with
    `known_labels`, over the labels each row's source annotates only (a prediction of a label the
    source has no category for is neither right nor wrong by that source)."""
    if inputs is None:
        inputs = model_inputs(frame["text"], model.features, model.encoder)
    predicted = model.predict(inputs).astype(bool)
    labels = list(model.classes_)
    truth = np.array([[label in row for label in labels] for row in frame["labels"]], dtype=bool).reshape(-1, len(labels))
    known = label_mask(frame, labels)
    if known is None:
        known = np.ones_like(truth)
    report = {"rows": len(frame), "overall": label_scores(truth, predicted, labels, known)}
    report["per_language"] = {
        lang: label_scores(truth[mask], predicted[mask], labels, known[mask])
        for lang, mask in ((lang, (frame["lang"] == lang).to_numpy()) for lang in sorted(frame["lang"].unique()))
    }
    return report


# The in-domain goal averages F1 over labels with at least this many examples: a
# label with 2 examples swings the macro-F1 by its luck alone.
MIN_MACRO_SUPPORT = 10


def label_scores(truth: np.ndarray, predicted: np.ndarray, labels: list[str], known: np.ndarray | None = None) -> dict:
    """Per-label precision, recall, F1 and support, and micro/macro F1, of boolean label matrices;
    `known` (same shape): the cells that count (default: all)."""
    if known is not None:
        truth, predicted = truth & known, predicted & known
    per_label = {}
    for j, label in enumerate(labels):
        tp = int((truth[:, j] & predicted[:, j]).sum())
        fp = int((~truth[:, j] & predicted[:, j]).sum())
        fn = int((truth[:, j] & ~predicted[:, j]).sum())
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                            "support": tp + fn}
    supported = [s for s in per_label.values() if s["support"]]
    frequent = [s for s in supported if s["support"] >= MIN_MACRO_SUPPORT]
    tp = int((truth & predicted).sum())
    micro_p = tp / max(int(predicted.sum()), 1)
    micro_r = tp / max(int(truth.sum()), 1)
    return {
        "rows": int(len(truth)),
        "micro_f1": round(2 * micro_p * micro_r / (micro_p + micro_r), 4) if micro_p + micro_r else 0.0,
        "macro_f1": round(float(np.mean([s["f1"] for s in supported])), 4) if supported else 0.0,
        f"macro_f1_support_{MIN_MACRO_SUPPORT}": (round(float(np.mean([s["f1"] for s in frequent])), 4)
                                                  if frequent else None),
        "per_label": per_label,
    }


def format_report(report: dict) -> str:
    """The evaluation as plain-text tables (per label, then per language)."""
    overall = report["overall"]
    frequent = overall.get(f"macro_f1_support_{MIN_MACRO_SUPPORT}")
    lines = [f"{report['rows']:,} rows: micro-F1 {overall['micro_f1']:.3f}, "
             f"macro-F1 {overall['macro_f1']:.3f} (labels with support)"
             + (f", {frequent:.3f} (labels with >= {MIN_MACRO_SUPPORT} examples)" if frequent is not None else ""), "",
             f"{'label':<20}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}"]
    for label, s in report["overall"]["per_label"].items():
        lines.append(f"{label:<20}{s['precision']:>10.3f}{s['recall']:>8.3f}{s['f1']:>8.3f}{s['support']:>9}")
    lines += ["", f"{'language':<10}{'rows':>7}{'micro-F1':>10}{'macro-F1':>10}"]
    for lang, s in report["per_language"].items():
        lines.append(f"{lang:<10}{s['rows']:>7}{s['micro_f1']:>10.3f}{s['macro_f1']:>10.3f}")
    return "\n".join(lines)


def model_metadata(name: str, features: str, frame: pd.DataFrame, extra: dict | None = None) -> dict:
    sources = frame["source"].value_counts().to_dict() if "source" in frame.columns else {}
    return {
        "name": name, "task": "topics", "version": __version__, "features": features,
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "training_rows": len(frame), "training_sources": sources,
        "training_languages": frame["lang"].value_counts().to_dict(),
        **(extra or {}),
    }


def write_report(report: dict, path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
