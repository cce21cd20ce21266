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
from symroof.workbook import template
from symroof.workbook.metadata import cell_map, meta

ERRORS = ("#NAME?", "#REF!", "#DIV/0!", "#VALUE!", "#N/A", "#NUM!", "#NULL!", "Err:")
UNAVAILABLE = object()  # symroof has no finite value here; the cell must say why in words, not as an error
BLANK = object()  # an input nobody has published for the chip: an empty cell until a planner types one


class StartsWith(str):
    """An expected text cell: it must begin with this."""


def is_error(value) -> bool:
    return value is None or str(value).startswith(ERRORS)


def expected_values(path, overrides=None):
    """{(sheet, cell): value} that symroof computes for every generated cell of the workbook at ``path``."""
    wb = openpyxl.load_workbook(path)
    info = meta(wb)
    cells = cell_map(wb)
    ev = scenario(info, overrides or {})
    est = scenario(info, overrides or {}, estimate=True)
    out = {}
    sens = {}
    sweep_rows = [c for c in cells if c.kind == "sweep_input"]
    batches = numpy.array([float(wb[c.sheet][c.cell].value) for c in sweep_rows])
    # the sweep varies the batch with every other input as the scenario has it (n_chips included)
    fixed = {n: ev.magnitude(n) for n, origin in ev.origin.items() if origin == "default" and n != "batch_size"
             and symroof.formula(n).kind == "input" and symroof.formula(n).neutral is None}
    bound_overrides = {k: v for k, v in (overrides or {}).items() if symroof.formula(k).neutral is None}
    sweep = symroof.evaluate(info["model"], info["hardware"], {**fixed, **bound_overrides, "batch_size": batches}) \
        if len(batches) else None
    row_of = {f"$A{c.cell[1:]}": i for i, c in enumerate(sweep_rows)}
    for c in cells:
        key = (c.sheet, c.cell)
        boolean = c.name in ev.table.specs and ev.table.specs[c.name].boolean
        failed = [r for r in (ev.table.specs[c.name].requires if c.name in ev.table.specs else ())
                  if ev.holds(r) is False]
        failed_est = [r for r in (est.table.specs[c.name].requires if c.name in est.table.specs else ())
                      if est.holds(r) is False]
        if c.kind == "estimate":
            out[key] = "not feasible" if failed_est else (
                UNAVAILABLE if c.name in est.unavailable else est.magnitude(c.name))
            if boolean and not isinstance(out[key], str) and out[key] is not UNAVAILABLE:
                out[key] = bool(out[key])
        elif c.kind in ("estimate_input", "estimate_rule"):
            out[key] = est.magnitude(c.name)
        elif c.kind == "neutral":
            out[key] = float(symroof.formula(c.name).neutral)
        elif c.kind == "derived" and failed:
            out[key] = "not feasible"  # a result whose condition fails says so, never a number or an error
        elif c.kind in ("input", "rule", "derived"):
            out[key] = UNAVAILABLE if c.name in ev.unavailable else ev.magnitude(c.name)
            if boolean and out[key] is not UNAVAILABLE:
                out[key] = bool(out[key])
        elif c.kind == "status":  # the sentence symroof says for the yes/no quantity, rendered live
            out[key] = ev.says(c.name)
        elif c.kind == "elasticity":
            if c.name not in sens:
                sens[c.name] = {e.wrt: e.value for e in elasticities(ev, c.name)}
            out[key] = sens[c.name][c.detail]
        elif c.kind == "sweep" and c.name in sweep.unavailable:
            out[key] = UNAVAILABLE
        elif c.kind == "sweep":
            values = numpy.broadcast_to(sweep.base[c.name], batches.shape) / symroof.formula(c.name).factor
            value = float(values[row_of[c.detail]])
            out[key] = (bool(value) if boolean else value) if math.isfinite(value) else UNAVAILABLE
        elif c.kind == "sweep_fits":
            out[key] = bool(batches[row_of[c.detail]] <= ev.magnitude("max_batch_size"))
        elif c.kind == "sweep_input":
            out[key] = float(wb[c.sheet][c.cell].value)
        elif c.kind == "unpublished" and c.name in (overrides or {}):  # a planner typed a value into the blank
            out[key] = float(overrides[c.name])
        elif c.kind == "unpublished":  # the vendor has not published it: blank until a planner sets it
            assert c.name in ev.unpublished, c.name
            out[key] = BLANK
    return out


def scenario(info, overrides, estimate=False):
    """symroof's evaluation of the workbook's scenario: the template's held inputs and rules applied by hand.

    The bound takes no estimate factor; the estimate takes the workbook's calibration and every override.
    """
    tpl = template.load(info["template"])
    model, hardware = info["model"], info["hardware"]
    calibration = (info.get("calibration") or None) if estimate else None
    engine = (info.get("engine") or None) if estimate else None  # the estimate's engine profile (plan's)
    if not estimate:
        overrides = {k: v for k, v in overrides.items() if symroof.formula(k).neutral is None}
    bound_given = {k: v for k, v in overrides.items() if symroof.formula(k).neutral is None}
    held = {}
    for n in tpl.hold:  # the slice as the bound sizes it; a count after it the larger of the two modes' defaults
        if n in overrides:
            continue
        value = symroof.evaluate(model, hardware, {**bound_given, **held}).magnitude(n)
        if n != "n_chips":
            value = max(value, symroof.evaluate(model, hardware, {**overrides, **held}, estimate=True,
                                                calibration=info.get("calibration") or None,
                                                engine=info.get("engine") or None).magnitude(n))
        held[n] = value
    fixed = {**held, **overrides}
    if tpl.rules:
        step = symroof.evaluate(model, hardware, fixed, estimate=estimate, calibration=calibration, engine=engine)
        fixed.update({n: numpy.asarray(step.magnitude(target)) for n, target in tpl.rules.items()
                      if n not in fixed})
    return symroof.evaluate(model, hardware, fixed, estimate=estimate, calibration=calibration, engine=engine)


def formula_cells(path):
    """(sheet, cell) of every formula cell in the workbook."""
    wb = openpyxl.load_workbook(path)
    return [(ws.title, c.coordinate) for ws in wb.worksheets for row in ws.iter_rows() for c in row
            if c.data_type == "f"]


def compare(actual, expected, rel=1e-9):
    """Assert every expected cell has the expected value; returns how many were compared."""
    for key, want in expected.items():
        have = actual.get(key) if want is BLANK else actual[key]  # a blank nothing reads may not be reported
        if want is UNAVAILABLE:  # a sentence saying why (blanks.py), never a spreadsheet error
            assert isinstance(have, str) and have and not is_error(have), (key, have)
        elif want is BLANK:
            assert have is None, (key, have)
        elif isinstance(want, StartsWith):
            assert isinstance(have, str) and have.startswith(want), (key, have, want)
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
        v = v.item() if hasattr(v, "item") else v
        out[(sheet, cell)] = None if str(v) == "empty" and type(v).__name__ != "str" else v  # formulas' blank
    return out


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


#: LibreOffice keeps the values a workbook stores unless told to recalculate on load ("never" is its default
#: for Excel files); symroof's workbooks store symroof's values, so the tests make it recalculate every cell.
RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">
<value>0</value></prop></item>
</oor:items>
"""


def recalculate(path, outdir, profile, convert_to="xlsx"):
    """Recalculate ``path`` with headless LibreOffice (every formula, whatever it stores); returns the copy's path."""
    return recalculate_all([path], outdir, profile, convert_to)[0]


def recalculate_all(paths, outdir, profile, convert_to="xlsx"):
    """Recalculate every workbook in ``paths`` in one LibreOffice run; returns the copies' paths, in order."""
    settings = Path(profile) / "user" / "registrymodifications.xcu"
    if not settings.exists():
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(RECALC_ALWAYS)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [soffice(), f"-env:UserInstallation=file://{profile}", "--headless", "--calc", "--convert-to", convert_to,
         "--outdir", str(outdir), *map(str, paths)],
        capture_output=True, text=True, timeout=180 * len(paths), check=False, env={**os.environ, "HOME": str(profile)})
    results = [outdir / (Path(p).stem + "." + convert_to.split(":")[0]) for p in paths]
    assert done.returncode == 0 and all(r.exists() for r in results), done.stderr
    return results


def cached_values(path):
    """{(sheet, cell): value} of every cell as last computed (openpyxl data_only)."""
    wb = openpyxl.load_workbook(path, data_only=True)
    return {(ws.title, c.coordinate): c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row}


def comparison_expected(path):
    """{(sheet, cell): value} symroof computes for every generated cell of a comparison workbook, each chip's
    column evaluated with the inputs its cells hold now (shared ones from column C): a planner's edits
    included."""
    from symroof import catalog, profiles
    from symroof.evaluation import Evaluation, load_calibration, parse_overrides
    from symroof.sensitivity import elasticities

    wb = openpyxl.load_workbook(path)
    info = meta(wb)
    cells = cell_map(wb)
    now = lambda c: wb[c.sheet][c.cell].value  # noqa: E731
    shared = {c.name: now(c) for c in cells if c.kind == "input"}
    columns: dict[str, dict] = {}
    for c in cells:
        if c.kind == "compare_input":
            columns.setdefault(c.detail, {})
            if now(c) is not None:  # a blank one (not published for the chip) is left to the catalog
                columns[c.detail][c.name] = now(c)
    evs = {}
    for column, own in columns.items():
        chip, mode = column.split(":")
        h = catalog.load("hardware", chip)
        cal = load_calibration(h, None) if mode == "estimate" else None
        engine = profiles.load(info["engine"], h) if info.get("engine") else None
        evs[column] = Evaluation(catalog.load("model", info["model"]), h, parse_overrides({**shared, **own}),
                                 mode=mode, calibration=cal, engine=engine)
    out = {}
    for c in cells:
        key = (c.sheet, c.cell)
        if c.kind == "input":
            out[key] = shared[c.name]
        elif c.kind in ("compare", "compare_input"):
            ev = evs[c.detail]
            spec = ev.table.specs[c.name]
            if c.kind == "compare_input" and now(c) is None:
                out[key] = BLANK
            elif any(ev.holds(r) is False for r in spec.requires):
                out[key] = "not feasible"
            elif c.name in ev.unavailable:
                out[key] = UNAVAILABLE
            else:
                value = ev.magnitude(c.name)
                out[key] = bool(value) if spec.boolean else value
        elif c.kind == "elasticity":
            first = next(iter(evs.values()))
            out[key] = {e.wrt: e.value for e in elasticities(first, c.name)}[c.detail]
    return out
