"""Agreement between the two independent labellings of the dev split (see DATASHEET.md).

The first labels are `labels/chunk_*.csv`, the second `second_pass/labels/dev_*.csv`; the
second pass is scored against the first with the same figures as `diplolens evaluate topics`.

    python corpora/annotations/world_leaders/agreement.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[2]))

from pipeline.topics.corpus import load_taxonomy  # noqa: E402
from pipeline.topics.training import MIN_MACRO_SUPPORT, label_scores  # noqa: E402


def read_labels(paths) -> pd.DataFrame:
    return pd.concat([pd.read_csv(path, dtype=str, keep_default_na=False) for path in sorted(paths)])


def main() -> None:
    taxonomy = load_taxonomy()
    items = pd.read_csv(HERE / "items.csv", dtype=str, keep_default_na=False)
    first = read_labels((HERE / "labels").glob("chunk_*.csv"))
    second = read_labels((HERE / "second_pass" / "labels").glob("dev_*.csv"))
    dev = set(items.loc[items["split"] == "dev", "item"])
    if set(second["item"]) != dev or not dev <= set(first["item"]):
        sys.exit("agreement: the second pass must cover exactly the dev items, and the first labels all of them")
    both = first.merge(second, on="item", suffixes=("_first", "_second"))
    first_labels, second_labels = (np.array([[label in cell.split("|") for label in taxonomy] for cell in both[column]])
                                   for column in ("labels_first", "labels_second"))
    scores = label_scores(first_labels, second_labels, taxonomy)
    frequent = scores[f"macro_f1_support_{MIN_MACRO_SUPPORT}"]
    print(f"{len(both)} posts labelled twice; identical label sets: "
          f"{(first_labels == second_labels).all(axis=1).mean():.3f}")
    print(f"second vs first: micro-F1 {scores['micro_f1']:.3f}, macro-F1 {scores['macro_f1']:.3f} (labels with "
          f"support)" + (f", {frequent:.3f} (labels with >= {MIN_MACRO_SUPPORT})" if frequent is not None else ""))
    for label, figures in scores["per_label"].items():
        if figures["support"]:
            print(f"  {label:<20} F1 {figures['f1']:.3f}  first {figures['support']:>3}  "
                  f"second {int(second_labels[:, taxonomy.index(label)].sum()):>3}")


if __name__ == "__main__":
    main()
