"""Helpers that compare a workbook's computed cells with symroof's own evaluation.

The workbook is computed by a real spreadsheet engine (the ``formulas``
package, or LibreOffice); the expected values come from ``symroof.evaluate``,
the numpy path, never from the printer under test.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy
import openpyxl

import symroof
from symroof.sensitivity import elasticities
from symroof.workbook.writer import cell_map, meta

ERRORS = ("#NAME?", "#REF!", "#DIV/0!", "#VALUE!", "#N/A", "#NUM!", "#NULL!", "Err:")
UNAVAILABLE = object()  # symroof has no finite value here; the spreadsheet must show an error


def is_error(value) -> bool:
    return value is None or str(value).startswith(ERRORS)


def expected_values(path, overrides=None):
    """{(sheet, cell): value} that symroof computes for every generated cell of the workbook at ``path``."""
    wb = openpyxl.load_workbook(path)
    info = meta(wb)
    cells = cell_map(wb)
    ev = symroof.evaluate(info["model"], info["hardware"], overrides or {})
    out = {}
    sens = {}
    sweep_rows = [c for c in cells if c.kind == "sweep_input"]
    batches = numpy.array([float(wb[c.sheet][c.cell].value) for c in sweep_rows])
    # the sweep varies the batch with every other input as the scenario has it (n_chips included)
    fixed = {n: ev.magnitude(n) for n, origin in ev.origin.items() if origin == "default" and n != "batch_size"
             and symroof.formula(n).kind == "input"}
    sweep = symroof.evaluate(info["model"], info["hardware"], {**fixed, **(overrides or {}), "batch_size": batches}) \
        if len(batches) else None
    row_of = {f"$A{c.cell[1:]}": i for i, c in enumerate(sweep_rows)}
    for c in cells:
        key = (c.sheet, c.cell)
        if c.kind in ("input", "rule", "derived"):
            out[key] = UNAVAILABLE if c.name in ev.unavailable else ev.magnitude(c.name)
        elif c.kind == "elasticity":
            if c.name not in sens:
                sens[c.name] = {e.wrt: e.value for e in elasticities(ev, c.name)}
            out[key] = sens[c.name][c.detail]
        elif c.kind == "sweep":
            values = numpy.broadcast_to(sweep.base[c.name], batches.shape) / symroof.formula(c.name).factor
            value = float(values[row_of[c.detail]])
            out[key] = value if math.isfinite(value) else UNAVAILABLE
        elif c.kind == "sweep_fits":
            out[key] = bool(batches[row_of[c.detail]] <= ev.magnitude("max_batch_size"))
        elif c.kind == "sweep_input":
            out[key] = float(wb[c.sheet][c.cell].value)
    return out


def formula_cells(path):
    """(sheet, cell) of every formula cell in the workbook."""
    wb = openpyxl.load_workbook(path)
    return [(ws.title, c.coordinate) for ws in wb.worksheets for row in ws.iter_rows() for c in row
            if c.data_type == "f"]


def compare(actual, expected, rel=1e-9):
    """Assert every expected cell has the expected value; returns how many were compared."""
    for key, want in expected.items():
        have = actual[key]
        if want is UNAVAILABLE:
            assert is_error(have), (key, have)
        elif isinstance(want, str | bool):
            assert have == want, (key, have, want)
        else:
            assert isinstance(have, int | float) and not isinstance(have, bool), (key, have)
            assert math.isclose(have, want, rel_tol=rel, abs_tol=1e-12), (key, have, want)
    return len(expected)


def formulas_values(path):
    """Every cell's value as the ``formulas`` package computes the workbook, by (sheet, cell)."""
    import formulas

    xl = formulas.ExcelModel().loads(str(path)).finish()
    solution = xl.calculate()
    names = {ws.upper(): ws for ws in openpyxl.load_workbook(path, read_only=True).sheetnames}
    out = {}
    for ref, value in solution.items():
        book_sheet, _, cell = ref.rpartition("!")
        sheet = names.get(book_sheet.split("]")[-1].strip("'"))
        if sheet is None or ":" in cell:
            continue
        v = value.value[0, 0] if hasattr(value, "value") else value
        out[(sheet, cell)] = v.item() if hasattr(v, "item") else v
    return out


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def recalculate(path, outdir, profile):
    """Recalculate ``path`` with headless LibreOffice; returns the recalculated copy's path."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [soffice(), f"-env:UserInstallation=file://{profile}", "--headless", "--calc", "--convert-to", "xlsx",
         "--outdir", str(outdir), str(path)],
        capture_output=True, text=True, timeout=180, check=False, env={**os.environ, "HOME": str(profile)})
    result = outdir / Path(path).name
    assert done.returncode == 0 and result.exists(), done.stderr
    return result


def cached_values(path):
    """{(sheet, cell): value} of every cell as last computed (openpyxl data_only)."""
    wb = openpyxl.load_workbook(path, data_only=True)
    return {(ws.title, c.coordinate): c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row}
