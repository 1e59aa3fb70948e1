"""The topic classifier's corpus: public labelled sets mapped onto our taxonomy, plus in-domain gold.

Every labelled source in the data folder has one mapping file in `corpora/topics/mappings/`
(its name is the `source` of its rows). Keys of a mapping file:

- `source`: the source's folder in the data folder; `files`: CSV files in it (same columns);
  `licence`, `notes`: free text (what was decided and why).
- `text_column`: a column, or a list of columns joined by a line break (title + summary).
- `label_column`, optional `label_separator` for multi-label cells ("|").
- `lang` (one ISO 639-1 code for every row) or `lang_column` with an optional `lang_map`
  (source code -> ISO 639-1); `languages`: the codes kept (rows in others are dropped).
- The split: `split_column` with `split_values` (every source value -> `train`, `dev`, `drop`
  or `holdout`), or `dev_by_hash: {fraction: F}` (a stable hash of the group puts about F of the
  groups in dev) for sources with no split. `holdout` is for official test splits: their rows
  are not used, and their texts are removed from every source's train and dev, so a model
  trained here can be scored on those test sets.
- `group_column` (optional): rows with the same value are the same content (translations,
  reposts) and always share a split; `group_prefix` (default: the mapping's name) lets two
  mappings of one source share groups.
- `where` (optional): `{column: [values]}`, keep only rows whose column holds one of the values.
- `strip_patterns` (optional): regular expressions removed from the text (label leaks such as
  a news desk's section hashtag).
- `labels`: every source label -> a list of taxonomy labels (`[]`: about none of them, a
  negative for every label), `drop` (the label mixes our categories with others: the row is
  not used), `ignore` (the label says nothing about the topic, e.g. a format tag; a row needs
  at least one label that is not ignored), or `{labels: [...], if_text_matches: REGEX}` (the
  mapping holds only for texts matching REGEX, other rows are dropped).
  A row's labels are the union over its source labels; a row with any `drop` label is dropped.

Whatever the mappings say, the corpus is honest: held-out texts appear nowhere, exact duplicate texts within a source become
one row with the union of their labels (in dev if any copy was), a group never straddles the
two splits (dev wins), and a text in dev is removed from train (across sources too).

The in-domain gold set (`items.csv` and `labels/chunk_*.csv` of the world-leaders annotation)
is added as the source `world_leaders_gold`, with its own split.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import re
import sys
import unicodedata
from pathlib import Path

import pandas as pd
import yaml

from pipeline.errors import UserError

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TAXONOMY = REPO_ROOT / "corpora" / "taxonomy.yaml"
DEFAULT_MAPPINGS = REPO_ROOT / "corpora" / "topics" / "mappings"
DEFAULT_ANNOTATIONS = REPO_ROOT / "corpora" / "annotations" / "world_leaders"
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"

GOLD_SOURCE = "world_leaders_gold"
SPLITS = ("train", "dev")
COLUMNS = ["text", "labels", "lang", "source", "split", "group", "source_labels", "known_labels"]

_LABEL_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
_TAXONOMY_KEYS = {"name", "version", "labels"}
_LABEL_KEYS = {"name", "definition", "examples"}
_MAPPING_KEYS = {
    "source", "files", "licence", "notes", "text_column", "label_column", "label_separator",
    "lang", "lang_column", "lang_map", "languages", "split_column", "split_values", "dev_by_hash",
    "group_column", "group_prefix", "where", "strip_patterns", "labels",
}


def load_taxonomy(path: str | Path | None = None) -> list[str]:
    """The taxonomy's label names, in file order (default: `corpora/taxonomy.yaml`)."""
    path = Path(path) if path is not None else DEFAULT_TAXONOMY
    doc = _read_yaml(path, "taxonomy")
    where = f"taxonomy {path}"
    missing = sorted(_TAXONOMY_KEYS - set(doc))
    if missing:
        raise UserError(f"{where}: missing top-level key(s) {', '.join(missing)}")
    entries = doc["labels"]
    if not isinstance(entries, list) or not entries:
        raise UserError(f"{where}: 'labels' must be a non-empty list of labels")
    names: list[str] = []
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise UserError(f"{where}: label {number} must be a mapping with name, definition and examples")
        name = entry.get("name")
        if not isinstance(name, str) or not _LABEL_NAME.match(name):
            raise UserError(f"{where}: label {number} needs a name of lower-case letters, digits and _ (got {name!r})")
        unknown = sorted(set(entry) - _LABEL_KEYS)
        if unknown:
            raise UserError(f"{where}: label '{name}' has unknown key(s) {', '.join(unknown)} "
                            f"(known: {', '.join(sorted(_LABEL_KEYS))})")
        if name in names:
            raise UserError(f"{where}: label '{name}' is defined twice")
        if not isinstance(entry.get("definition"), str) or not entry["definition"].strip():
            raise UserError(f"{where}: label '{name}' needs a definition (text)")
        examples = entry.get("examples")
        if (not isinstance(examples, list) or not examples
                or not all(isinstance(e, str) and e.strip() for e in examples)):
            raise UserError(f"{where}: label '{name}' needs 'examples', a non-empty list of texts")
        names.append(name)
    return names


def build_topic_corpus(data_dir: Path | None = None, annotations_dir: Path | None = None,
                       taxonomy: list[str] | None = None, *, mappings_dir: Path | None = None,
                       include_gold: bool = True) -> pd.DataFrame:
    """One row per text: `text, labels, lang, source, split, group, source_labels, known_labels`.

    `known_labels`: the taxonomy labels the row's source annotates at all (those its mapping
    can give; every label for the gold posts). A SIB-200 sentence labelled politics says
    nothing about `economic`, which SIB-200 has no category for: training leaves such cells
    out rather than taking them as negatives (`TextClassifier.fit(label_mask=...)`).

    `data_dir` defaults to the shared data folder beside the repository, `annotations_dir` to
    `corpora/annotations/world_leaders`, `taxonomy` to `load_taxonomy()`, `mappings_dir` to
    `corpora/topics/mappings`.
    """
    data_dir = Path(data_dir) if data_dir is not None else DEFAULT_DATA
    mappings_dir = Path(mappings_dir) if mappings_dir is not None else DEFAULT_MAPPINGS
    taxonomy = list(taxonomy) if taxonomy is not None else load_taxonomy()
    mapping_files = sorted(mappings_dir.glob("*.yaml"))
    if not mapping_files:
        raise UserError(f"no mapping files (*.yaml) in {mappings_dir}")
    frames = [_load_source(path.stem, read_mapping(path, taxonomy), data_dir) for path in mapping_files]
    if include_gold:
        frames.append(_load_gold(Path(annotations_dir) if annotations_dir is not None else DEFAULT_ANNOTATIONS,
                                 taxonomy))
    corpus = _make_honest(pd.concat(frames, ignore_index=True), taxonomy)
    log.info("topic corpus: %d rows (train %d, dev %d) from %d sources", len(corpus),
             (corpus["split"] == "train").sum(), (corpus["split"] == "dev").sum(), corpus["source"].nunique())
    return corpus


def save_corpus(df: pd.DataFrame, out_dir: str | Path) -> Path:
    """Write `df` as a `datasets.DatasetDict` (train, dev) with `save_to_disk`."""
    try:
        import datasets
    except ImportError:
        raise UserError("saving the topic corpus needs the `datasets` package: pip install datasets")
    text = datasets.Value("string")
    features = datasets.Features({
        "text": text, "labels": datasets.List(text), "lang": text, "source": text, "split": text,
        "group": text, "source_labels": datasets.List(text), "known_labels": datasets.List(text),
    })
    splits = {
        split: datasets.Dataset.from_pandas(df.loc[df["split"] == split, COLUMNS].reset_index(drop=True),
                                            features=features, preserve_index=False)
        for split in SPLITS
    }
    out_dir = Path(out_dir)
    datasets.DatasetDict(splits).save_to_disk(str(out_dir))
    return out_dir


def corpus_summary(df: pd.DataFrame, taxonomy: list[str] | None = None) -> pd.DataFrame:
    """Rows per source x split x lang, with the number of rows carrying each label (and none)."""
    labels = list(taxonomy) if taxonomy is not None else sorted({l for ls in df["labels"] for l in ls})
    flags = pd.DataFrame({label: df["labels"].map(lambda ls, label=label: label in ls) for label in labels},
                         index=df.index)
    flags.insert(0, "none", df["labels"].map(len) == 0)
    flags.insert(0, "rows", 1)
    keys = df[["source", "split", "lang"]]
    return (pd.concat([keys, flags.astype(int)], axis=1)
            .groupby(["source", "split", "lang"], sort=True).sum().reset_index())


# --- mapping files ---------------------------------------------------------------------------

def _read_yaml(path: Path, what: str) -> dict:
    if not path.is_file():
        raise UserError(f"{what} file not found: {path}")
    try:
        doc = yaml.safe_load(path.read_text("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"{what} file {path} is not valid YAML: {str(exc).splitlines()[0]}")
    if not isinstance(doc, dict):
        raise UserError(f"{what} file {path} must hold a mapping of keys, not {type(doc).__name__}")
    return doc


def read_mapping(path: Path, taxonomy: list[str]) -> dict:
    """The mapping file, checked, with regexes compiled and label rules normalised."""
    m = _read_yaml(path, "mapping")
    where = f"mapping {path}"
    unknown = sorted(set(m) - _MAPPING_KEYS)
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(unknown)}")
    required = ["source", "files", "text_column", "label_column", "languages", "labels"]
    missing = [key for key in required if key not in m]
    if missing:
        raise UserError(f"{where}: missing key(s) {', '.join(missing)}")
    if ("lang" in m) == ("lang_column" in m):
        raise UserError(f"{where}: give either 'lang' (one code) or 'lang_column'")
    if ("split_column" in m) == ("dev_by_hash" in m):
        raise UserError(f"{where}: give either 'split_column' (with 'split_values') or 'dev_by_hash'")
    if "split_column" in m:
        values = m.get("split_values")
        if not isinstance(values, dict) or not set(map(str, values.values())) <= {*SPLITS, "drop", "holdout"}:
            raise UserError(f"{where}: 'split_values' must map each source split to train, dev, drop or holdout")
        m["split_values"] = {str(k): str(v) for k, v in values.items()}
    else:
        fraction = m["dev_by_hash"].get("fraction") if isinstance(m["dev_by_hash"], dict) else None
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
            raise UserError(f"{where}: 'dev_by_hash' must be {{fraction: F}} with 0 < F < 1")
    if isinstance(m["files"], str):
        m["files"] = [m["files"]]
    if isinstance(m["text_column"], str):
        m["text_column"] = [m["text_column"]]
    m["where"] = {str(col): [str(v) for v in (vals if isinstance(vals, list) else [vals])]
                  for col, vals in (m.get("where") or {}).items()}
    m["strip_patterns"] = [_compile(p, where) for p in m.get("strip_patterns") or []]
    m["languages"] = [str(code) for code in m["languages"]]
    if not isinstance(m["labels"], dict) or not m["labels"]:
        raise UserError(f"{where}: 'labels' must map every source label to taxonomy labels")
    known = set(taxonomy)
    rules = {}
    for source_label, rule in m["labels"].items():
        condition = None
        if isinstance(rule, dict):
            if set(rule) != {"labels", "if_text_matches"}:
                raise UserError(f"{where}: source label '{source_label}': a conditional rule has exactly "
                                f"the keys labels and if_text_matches")
            condition = _compile(rule["if_text_matches"], where)
            rule = rule["labels"]
        if rule in ("drop", "ignore") and condition is None:
            rules[str(source_label)] = (rule, frozenset(), None)
            continue
        if not isinstance(rule, list) or not all(isinstance(label, str) for label in rule):
            raise UserError(f"{where}: source label '{source_label}' must map to a list of labels, "
                            f"'drop' or 'ignore' (got {rule!r})")
        outside = sorted(set(rule) - known)
        if outside:
            raise UserError(f"{where}: source label '{source_label}' maps to {', '.join(outside)}, "
                            f"not in the taxonomy")
        rules[str(source_label)] = ("map", frozenset(rule), condition)
    m["labels"] = rules
    m["taxonomy"] = list(taxonomy)
    return m


def _compile(pattern, where: str) -> re.Pattern:
    try:
        return re.compile(str(pattern))
    except re.error as exc:
        raise UserError(f"{where}: bad regular expression {pattern!r}: {exc}")


def _load_source(name: str, m: dict, data_dir: Path) -> pd.DataFrame:
    """The rows of one mapped source, with our labels; dropped rows counted in the log.

    Held-out rows stay in the result (split `holdout`) until `_make_honest` has used their texts.
    """
    folder = data_dir / m["source"]
    frames = []
    for file in m["files"]:
        path = folder / file
        if not path.is_file():
            raise UserError(f"mapping {name}: data file not found: {path}")
        frames.append(pd.read_csv(path, dtype=str, keep_default_na=False))
    raw = pd.concat(frames, ignore_index=True)
    columns = set(m["text_column"]) | {m["label_column"]} | set(m["where"])
    columns |= {m[key] for key in ("lang_column", "split_column", "group_column") if key in m}
    absent = sorted(columns - set(raw.columns))
    if absent:
        raise UserError(f"mapping {name}: column(s) {', '.join(absent)} not in {folder} "
                        f"(columns: {', '.join(raw.columns)})")
    counts = {"read": len(raw)}

    prefix = str(m.get("group_prefix", name))
    if "group_column" in m:
        raw["_group"] = prefix + ":" + raw[m["group_column"]]
    else:
        raw["_group"] = [f"{prefix}:{i}" for i in range(len(raw))]
    for column, values in m["where"].items():
        raw = raw[raw[column].isin(values)]
    counts["not selected by 'where'"] = counts["read"] - len(raw)

    text = raw[m["text_column"]].apply(lambda row: "\n".join(v.strip() for v in row if v.strip()), axis=1) \
        if len(raw) else pd.Series([], dtype=str)
    for pattern in m["strip_patterns"]:
        text = text.str.replace(pattern, "", regex=True)
    lang = (pd.Series(m["lang"], index=raw.index) if "lang" in m
            else raw[m["lang_column"]].map(lambda code: (m.get("lang_map") or {}).get(code, code)))
    if "split_column" in m:
        unmapped = sorted(set(raw[m["split_column"]]) - set(m["split_values"]))
        if unmapped:
            raise UserError(f"mapping {name}: split value(s) {', '.join(map(repr, unmapped))} "
                            f"missing from split_values")
        split = raw[m["split_column"]].map(m["split_values"])
    else:
        split = raw["_group"].map(lambda group: "dev" if _hash_fraction(group) < m["dev_by_hash"]["fraction"]
                                  else "train")
    labels, source_labels, keep = _apply_labels(name, m, raw[m["label_column"]], text)
    known = mapped_labels(m)
    frame = pd.DataFrame({"text": text.str.strip(), "labels": labels, "lang": lang, "source": name,
                          "split": split, "group": raw["_group"], "source_labels": source_labels,
                          "known_labels": [known] * len(raw), "_keep": keep}, index=raw.index)

    # Applied one after the other, so each dropped row is counted once, under its first reason.
    # Held-out rows are kept whatever their label or language: their texts must leave every split.
    for reason, dropped in (
        ("in dropped splits", lambda f: f["split"] == "drop"),
        ("dropped by label mapping", lambda f: ~f["_keep"] & (f["split"] != "holdout")),
        ("in other languages", lambda f: ~f["lang"].isin(m["languages"]) & (f["split"] != "holdout")),
        ("empty text", lambda f: f["text"] == ""),
    ):
        mask = dropped(frame)
        counts[reason] = int(mask.sum())
        frame = frame[~mask]
    frame = frame.drop(columns="_keep")
    counts["held out (official test)"] = int((frame["split"] == "holdout").sum())
    log.info("%s: %s; %d kept", name, ", ".join(f"{n} {reason}" for reason, n in counts.items()),
             len(frame) - counts["held out (official test)"])
    return frame


def mapped_labels(m: dict) -> list[str]:
    """The taxonomy labels a checked mapping (`read_mapping`) can give, in taxonomy order."""
    given = set().union(*(mapped for action, mapped, _ in m["labels"].values() if action == "map"))
    return [label for label in m["taxonomy"] if label in given]


def _apply_labels(name: str, m: dict, cells: pd.Series, texts: pd.Series):
    separator = m.get("label_separator")
    rules = m["labels"]
    unknown: set[str] = set()
    labels, source_labels, keep = [], [], []
    for cell, text in zip(cells, texts):
        parts = [p.strip() for p in (cell.split(separator) if separator else [cell])]
        parts = [p for p in parts if p]
        row: set[str] = set()
        usable, informative = bool(parts), False
        for part in parts:
            if part not in rules:
                unknown.add(part)
                continue
            action, mapped, condition = rules[part]
            if action == "ignore":
                continue
            informative = True
            if action == "drop" or (condition is not None and not condition.search(text)):
                usable = False
            row |= mapped
        labels.append(sorted(row))
        source_labels.append(parts)
        keep.append(usable and informative)
    if unknown:
        shown = ", ".join(map(repr, sorted(unknown)[:10]))
        raise UserError(f"mapping {name}: source label(s) {shown} have no rule in 'labels' "
                        f"({len(unknown)} in all)")
    index = cells.index
    return (pd.Series(labels, index=index, dtype=object), pd.Series(source_labels, index=index, dtype=object),
            pd.Series(keep, index=index, dtype=bool))


def _hash_fraction(value: str) -> float:
    """A stable number in [0, 1) for a value: the same group lands in the same split on every build."""
    return int.from_bytes(hashlib.sha1(value.encode("utf-8")).digest()[:8], "big") / 2**64


# --- gold annotations ------------------------------------------------------------------------

def _load_gold(annotations_dir: Path, taxonomy: list[str]) -> pd.DataFrame:
    """Annotated world-leader posts; items not yet labelled are skipped."""
    items_path = annotations_dir / "items.csv"
    if not items_path.is_file():
        raise UserError(f"gold annotations: {items_path} not found")
    items = pd.read_csv(items_path, dtype=str, keep_default_na=False)
    absent = sorted({"item", "post_id", "lang", "split", "text"} - set(items.columns))
    if absent:
        raise UserError(f"gold annotations: {items_path} lacks column(s) {', '.join(absent)}")
    chunks = []
    for path in sorted((annotations_dir / "labels").glob("chunk_*.csv")):
        chunk = pd.read_csv(path, dtype=str, keep_default_na=False)
        if not {"item", "labels"} <= set(chunk.columns):
            raise UserError(f"gold annotations: {path} needs the columns item,labels")
        chunks.append(chunk)
    if not chunks:
        log.info("%s: no label files in %s yet", GOLD_SOURCE, annotations_dir / "labels")
        return pd.DataFrame(columns=COLUMNS)
    answers = pd.concat(chunks, ignore_index=True)
    repeated = answers["item"].duplicated(keep="last")
    if repeated.any():
        log.warning("%s: %d items labelled twice, the later file wins", GOLD_SOURCE, repeated.sum())
    answers = answers[~repeated]
    gold = items.merge(answers[["item", "labels"]], on="item", how="inner")
    parsed = gold["labels"].map(lambda cell: sorted({p.strip() for p in cell.split("|") if p.strip()}))
    outside = sorted({label for labels in parsed for label in labels} - set(taxonomy))
    if outside:
        raise UserError(f"gold annotations: label(s) {', '.join(outside)} are not in the taxonomy")
    bad_splits = sorted(set(gold["split"]) - set(SPLITS))
    if bad_splits:
        raise UserError(f"gold annotations: split must be train or dev (found {', '.join(bad_splits)})")
    log.info("%s: %d of %d items labelled", GOLD_SOURCE, len(gold), len(items))
    return pd.DataFrame({
        "text": gold["text"].str.strip(), "labels": parsed, "lang": gold["lang"], "source": GOLD_SOURCE,
        "split": gold["split"], "group": GOLD_SOURCE + ":" + gold["post_id"], "source_labels": parsed,
        "known_labels": [list(taxonomy)] * len(gold),
    })


# --- honesty rules ---------------------------------------------------------------------------

def _text_key(text: str) -> str:
    return unicodedata.normalize("NFC", " ".join(text.split()))


def _make_honest(frame: pd.DataFrame, taxonomy: list[str]) -> pd.DataFrame:
    order = {label: i for i, label in enumerate(taxonomy)}
    frame = frame.assign(_key=frame["text"].map(_text_key), _order=range(len(frame)),
                         _dev=frame["split"] == "dev")

    # Official test texts are used by no split of any source.
    held_out = frame["split"] == "holdout"
    touched = ~held_out & frame["_key"].isin(set(frame.loc[held_out, "_key"]))
    for source, n in frame.loc[touched, "source"].value_counts().items():
        log.info("%s: %d texts removed, also in an official test split", source, n)
    frame = frame[~held_out & ~touched]

    # Duplicates within a source: one row, all labels; a dev copy (and its group) wins.
    frame = frame.sort_values(["source", "_key", "_dev"], ascending=[True, True, False], kind="stable")
    merged = frame.groupby(["source", "_key"], sort=False).agg(
        text=("text", "first"), lang=("lang", "first"), split=("split", "first"), group=("group", "first"),
        labels=("labels", lambda s: sorted(set().union(*s), key=order.__getitem__)),
        source_labels=("source_labels", lambda s: list(dict.fromkeys(p for parts in s for p in parts))),
        known_labels=("known_labels", "first"),  # one source: one coverage
        _order=("_order", "min"),
    ).reset_index()
    for source, n in (frame.groupby("source").size() - merged.groupby("source").size()).items():
        if n:
            log.info("%s: %d duplicate texts merged (labels united)", source, n)

    # A group never straddles the splits: if any of its rows is in dev, all are.
    dev_groups = set(merged.loc[merged["split"] == "dev", "group"])
    moved = (merged["split"] == "train") & merged["group"].isin(dev_groups)
    if moved.any():
        log.warning("%d train rows moved to dev: their group also has dev rows", moved.sum())
        merged.loc[moved, "split"] = "dev"

    # A text in dev is never also trained on, whichever source carries it.
    dev_keys = set(merged.loc[merged["split"] == "dev", "_key"])
    leaked = (merged["split"] == "train") & merged["_key"].isin(dev_keys)
    for source, n in merged.loc[leaked, "source"].value_counts().items():
        log.info("%s: %d train texts removed, also in dev", source, n)
    merged = merged[~leaked]
    return merged.sort_values("_order")[COLUMNS].reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.topics.corpus",
                                     description="Build the topic corpus and save it as a datasets folder.")
    parser.add_argument("--out", required=True, type=Path, help="folder to write (DatasetDict train/dev)")
    parser.add_argument("--data-dir", type=Path, default=None, help=f"default: {DEFAULT_DATA}")
    parser.add_argument("--annotations", type=Path, default=None, help=f"default: {DEFAULT_ANNOTATIONS}")
    parser.add_argument("--taxonomy", type=Path, default=None, help=f"default: {DEFAULT_TAXONOMY}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        taxonomy = load_taxonomy(args.taxonomy)
        corpus = build_topic_corpus(args.data_dir, args.annotations, taxonomy)
        save_corpus(corpus, args.out)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with pd.option_context("display.max_rows", None, "display.width", 200):
        print(corpus_summary(corpus, taxonomy).groupby(["source", "split"])[["rows"]].sum())
    return 0


if __name__ == "__main__":
    sys.exit(main())
