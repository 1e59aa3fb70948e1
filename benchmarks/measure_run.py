"""One timed pipeline run in a process of its own:
`python -m benchmarks.measure_run INPUT OUT [STAGES [PROFILE [WORKERS]]]` (stages comma-separated,
or `default`; profile auto, accurate or fast; workers as `diplolens run --workers`).

Started by the throughput benchmark, so that the peak RSS read at the end belongs to this run
alone. Prints one JSON line: wall seconds around `runner.run` (model loading included; the
interpreter start and imports are timed apart), the manifest's counts and stage timings, and
the process's peak RSS.
"""

from __future__ import annotations

import json
import resource
import sys
import time

tick = time.perf_counter()
from pipeline.config import load_config  # noqa: E402  (imports timed on purpose)
from pipeline.runner import run  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - tick


def measure(input_path: str, out_dir: str, stages: str = "default", profile: str = "auto", workers: str = "1") -> dict:
    overrides = {"profile": profile} if stages == "default" else {"profile": profile, "stages": stages.split(",")}
    config = load_config(overrides=overrides)
    started = time.perf_counter()
    manifest = run([input_path], out_dir, config, progress=False, workers=int(workers))
    wall = time.perf_counter() - started
    rows = manifest["counts"]["rows_read"]
    return {
        "stages": config["stages"],
        "profile": manifest["profile"],
        "workers": int(workers),
        "rows_read": rows,
        "posts_written": manifest["counts"]["posts_written"],
        "accounts": manifest["outputs"]["accounts.parquet"],
        "wall_seconds": round(wall, 3),
        "posts_per_second": round(rows / wall, 1),
        "import_seconds": round(IMPORT_SECONDS, 3),
        "stage_seconds": manifest["timings_seconds"],
        # Linux reports ru_maxrss in KiB.
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        # With --workers: the largest worker process's peak (each loads its own models).
        "peak_rss_worker_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1) or None,
    }


if __name__ == "__main__":
    print(json.dumps(measure(*sys.argv[1:6])))
