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
from pipeline.topics.training import MIN_MACRO_SUPPORT, _scores  # noqa: E402


def read_labels(paths) -> pd.DataFrame:
    return pd.concat([pd.read_csv(path, dtype=str, keep_default_na=False) for path in sorted(paths)])


def main() -> None:
    taxonomy = load_taxonomy()
    both = read_labels((HERE / "labels").glob("chunk_*.csv")).merge(
        read_labels((HERE / "second_pass" / "labels").glob("dev_*.csv")), on="item", suffixes=("_first", "_second"))
    first, second = ([[label in cell.split("|") for label in taxonomy] for cell in both[column]]
                     for column in ("labels_first", "labels_second"))
    first, second = np.array(first), np.array(second)
    scores = _scores(first, second, taxonomy)
    print(f"{len(both)} posts labelled twice; identical label sets: {(first == second).all(axis=1).mean():.3f}")
    print(f"second vs first: micro-F1 {scores['micro_f1']:.3f}, macro-F1 {scores['macro_f1']:.3f} (labels with "
          f"support), {scores[f'macro_f1_support_{MIN_MACRO_SUPPORT}']:.3f} (labels with >= {MIN_MACRO_SUPPORT})")
    for label, figures in scores["per_label"].items():
        if figures["support"]:
            print(f"  {label:<20} F1 {figures['f1']:.3f}  first {figures['support']:>3}  "
                  f"second {int(second[:, taxonomy.index(label)].sum()):>3}")


if __name__ == "__main__":
    main()
