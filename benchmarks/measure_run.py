"""One timed pipeline run in a process of its own:
`python -m benchmarks.measure_run INPUT OUT [STAGES [PROFILE [WORKERS [ENGINE]]]]` (stages
comma-separated, or `default`; profile auto, accurate or fast; workers as `diplolens run
--workers`; engine `local` or `dask`, the latter on a LocalCluster of WORKERS processes).

Started by the throughput and scale benchmarks, so that the peak RSS read at the end belongs
to this run alone. Prints one JSON line: wall seconds around `runner.run` (model loading
included; the interpreter start and imports, and the cluster's start, are timed apart), the
manifest's counts and stage timings, the CPU seconds and the peak RSS: this process's, plus,
for Dask, each worker process's.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time

tick = time.perf_counter()
from pipeline.config import load_config  # noqa: E402  (imports timed on purpose)
from pipeline.runner import run  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - tick


def measure(input_path: str, out_dir: str, stages: str = "default", profile: str = "auto", workers: str = "1",
            engine: str = "local") -> dict:
    overrides = {"profile": profile} if stages == "default" else {"profile": profile, "stages": stages.split(",")}
    config = load_config(overrides=overrides)
    if engine == "local":
        figures = timed_run(input_path, out_dir, config, workers=int(workers))
        # With --workers: the largest worker process's peak (each loads its own models).
        worker_rss = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1) or None
        return {**figures, "workers": int(workers), "peak_rss_mib": peak_rss_mib(),
                "peak_rss_worker_mib": worker_rss, "cpu_seconds": cpu_seconds()}

    from dask.distributed import Client

    from pipeline.dask_engine import DaskEngine, local_cluster

    tick = time.perf_counter()
    # The cluster `diplolens run --engine dask` starts, but started here, so that the workers'
    # peak RSS and CPU time can be read before it closes.
    with local_cluster(int(workers), silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        cluster_seconds = time.perf_counter() - tick
        figures = timed_run(input_path, out_dir, config, DaskEngine(cluster.scheduler_address))
        worker_rss = sorted(client.run(peak_rss_mib).values())
        worker_cpu = sum(client.run(cpu_seconds).values())
    client_rss = peak_rss_mib()
    return {**figures, "workers": int(workers), "cluster_start_seconds": round(cluster_seconds, 3),
            "client_peak_rss_mib": client_rss, "worker_peak_rss_mib": worker_rss,
            "peak_rss_mib": round(client_rss + sum(worker_rss), 1),
            "cpu_seconds": round(cpu_seconds() + worker_cpu, 1)}


def timed_run(input_path: str, out_dir: str, config: dict, engine=None, workers: int = 1) -> dict:
    started = time.perf_counter()
    manifest = run([input_path], out_dir, config, progress=False, engine=engine, workers=workers)
    wall = time.perf_counter() - started
    rows = manifest["counts"]["rows_read"]
    return {
        "stages": config["stages"],
        "profile": manifest["profile"],
        "engine": manifest["engine"],
        "rows_read": rows,
        "posts_written": manifest["counts"]["posts_written"],
        "duplicates": manifest["counts"]["duplicates"],
        "accounts": manifest["outputs"]["accounts.parquet"],
        "wall_seconds": round(wall, 3),
        "posts_per_second": round(rows / wall, 1),
        "import_seconds": round(IMPORT_SECONDS, 3),
        "stage_seconds": manifest["timings_seconds"],
    }


def cpu_seconds() -> float:
    """User + system CPU time of this process: unlike wall time, barely moved by other work on
    the machine, so growth with size reads from it on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return round(usage.ru_utime + usage.ru_stime, 1)


def peak_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


if __name__ == "__main__":
    print(json.dumps(measure(*sys.argv[1:7])))
