"""What every benchmark shares: where the data and the results live, and how figures are shown."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
# The shared folder sits next to the repository, not inside it.
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# Read by both benchmarks: real posts for langid agreement, a real archive for throughput.
WORLD_LEADERS_FILE = "world-leaders-tweets-2015-2019/world_leaders_tweets.csv"


def fail(message: str) -> None:
    """Stop with one line on stderr, like the `diplolens` command does for user mistakes."""
    sys.exit(f"benchmarks: error: {message}")


def data_file(data_dir: Path, relative: str) -> Path:
    path = data_dir / relative
    if not path.is_file():
        fail(f"{path} not found (data folder {data_dir}; point to another with --data DIR)")
    return path


def machine() -> dict:
    """Enough about the machine to read timings: other processes on it skew them."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


def save_results(name: str, figures: dict) -> Path:
    """Write RESULTS_DIR/<name>.json, stamped with the time and the machine."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    document = {"benchmark": name, "measured_at": datetime.now(timezone.utc).isoformat(),
                "machine": machine(), **figures}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def percent(share: float | None) -> str:
    return "n/a" if share is None else f"{100 * share:5.1f}%"


def print_table(headers: list[str], rows: list[list]) -> None:
    """Columns padded to their widest cell; the first column left-aligned, the rest right."""
    cells = [headers] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        print("  " + "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(row, widths))))
