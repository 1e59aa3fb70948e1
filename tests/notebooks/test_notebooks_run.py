"""The analyst notebooks run top to bottom in a fresh kernel on the sample run, as committed."""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
PLOTS = {"01_tour_of_outputs.ipynb": 0, "02_compare_actors.ipynb": 4, "03_retrain_topics.ipynb": 1}


def test_the_three_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == sorted(PLOTS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom_without_errors(path, sample_output, tmp_path, monkeypatch):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    # Committed without outputs: whatever shows comes from this run, not from a past one.
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    monkeypatch.setenv("DIPLOLENS_OUT", str(sample_output))
    monkeypatch.setenv("DIPLOLENS_WORK", str(tmp_path))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend shows the plots
    # The kernel imports `pipeline` from this checkout, like the tests.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(NOTEBOOKS_DIR.parent),
                                                                   os.environ.get("PYTHONPATH")])))
    NotebookClient(notebook, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS_DIR)}}).execute()  # raises on a failing cell
    outputs = [output for cell in code for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    plots = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(plots) >= PLOTS[path.name]
    assert all(cell.execution_count for cell in code)
