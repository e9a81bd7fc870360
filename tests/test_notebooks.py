"""Every notebook in notebooks/ runs from top to bottom without an error.

Each notebook is executed in a fresh kernel with its own directory as the working directory (notebooks
name files relative to themselves, e.g. ``../scenarios/saas_sales_led.yaml``). The executed copy stays in
memory: the notebook files are not modified.
"""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
#: Seconds each cell may run before the test fails.
CELL_TIMEOUT = 300


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path) -> None:
    reason = "executing notebooks needs nbformat, nbclient and ipykernel (pip install nbformat nbclient ipykernel)"
    nbformat = pytest.importorskip("nbformat", reason=reason)
    nbclient = pytest.importorskip("nbclient", reason=reason)
    pytest.importorskip("ipykernel", reason=reason)

    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()


def test_notebooks_are_stored_without_outputs() -> None:
    """Notebooks are committed clean: no outputs and no execution counts (they would go stale)."""
    nbformat = pytest.importorskip("nbformat", reason="reading notebooks needs nbformat (pip install nbformat)")
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code":
                assert not cell.outputs, f"{path.name}: cell {index} has outputs; clear them before committing"
                assert cell.execution_count is None, f"{path.name}: cell {index} has an execution count"
