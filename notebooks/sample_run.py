"""The run the notebooks read: `$DIPLOLENS_OUT`, else `out/` at the repository root (where
`diplolens run --out out/` puts it). When no finished run is there, the embedded sample archive
is run into it first (about 10 s), so every notebook runs top to bottom on a fresh checkout."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def output_folder() -> Path:
    out = Path(os.environ.get("DIPLOLENS_OUT") or REPO_ROOT / "out")
    if not (out / "manifest.json").is_file():
        from pipeline.config import load_config
        from pipeline.runner import run

        run([], out, load_config(overrides={"metrics.period": "year"}), progress=False)
    return out
