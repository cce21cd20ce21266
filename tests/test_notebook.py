"""The example notebook (issue 21): executes top to bottom, is committed without outputs, renders results richly."""

from __future__ import annotations

import ast
from pathlib import Path

import nbclient
import nbformat

import symroof
from symroof.derive import table

NOTEBOOK = Path(__file__).parent.parent / "examples" / "serving-llama-3-70b.ipynb"


def test_the_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") and not c.get("execution_count") for c in nb.cells if c.cell_type == "code")


def notebook_names(nb) -> tuple[set[str], set[str]]:
    """(modules the notebook's code imports, attributes it reads from ``symroof``)."""
    modules, used = set(), set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Import):
                modules |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                modules.add(node.module or "")
                if node.module == "symroof":
                    used |= {a.name for a in node.names}
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "symroof":
                used.add(node.attr)
    return modules, used


def test_the_notebook_uses_only_names_exported_from_symroof():
    modules, used = notebook_names(nbformat.read(NOTEBOOK, as_version=4))
    assert not {m for m in modules if m.startswith("symroof.")}, modules  # no reaching into submodules
    assert "symroof" in modules and {"evaluate", "serve", "plan"} <= used
    assert used <= set(symroof.__all__), used - set(symroof.__all__)


def test_the_notebook_executes_top_to_bottom():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in shown if o.output_type == "error"]
    assert any("text/html" in o.get("data", {}) for o in shown)  # the evaluation's table
    assert any("text/latex" in o.get("data", {}) for o in shown)  # a formula


def test_rich_display_and_frames():
    ev = symroof.evaluate("llama-3-70b", "tpu-v5e")
    page = ev._repr_html_()
    assert page.startswith("<table>") and "<code>step_time</code>" in page and 'title="' in page
    frame = ev.to_frame()
    assert frame.loc["step_time", "unit"] == "millisecond" and len(frame) == len(ev.names())
    served = symroof.serve("llama-3.1-8b", "h100", 1000, 500, concurrency=8)
    assert "<th>bound</th><th>estimate</th>" in served._repr_html_()
    both = served.to_frame()
    assert {"bound", "estimate", "unit"} <= set(both.columns) and both.attrs["units"]["itl"] == "millisecond"
    assert table().get("critical_batch_size")._repr_latex_().startswith("$$")
