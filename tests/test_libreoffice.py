"""Exported workbooks recalculated by a real spreadsheet, headless LibreOffice Calc.

CI installs LibreOffice (.ci/run) and sets CI=true: there these tests fail,
rather than skip, when it is missing.
"""

import json
import os

import openpyxl
import pytest

from symroof.workbook import export as wx

from .workbook_check import cached_values, compare, expected_values, formula_cells, is_error, recalculate, soffice

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lo(tmp_path_factory):
    if soffice() is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice (soffice) is missing in CI: .ci/run must install libreoffice-calc-nogui")
        pytest.skip("LibreOffice is not installed (apt-get install libreoffice-calc-nogui)")
    profile = tmp_path_factory.mktemp("lo-profile")
    out = tmp_path_factory.mktemp("lo-out")
    return lambda path: recalculate(path, out, profile)


def _no_error_cells(original, recalculated):
    values = cached_values(recalculated)
    cells = formula_cells(original)
    assert cells
    bad = [(cell, values.get(cell)) for cell in cells if is_error(values.get(cell))]
    assert not bad, f"empty or error cells after recalculation: {bad[:10]}"
    return values


@pytest.mark.parametrize("template", ["engineering", "finance"])
def test_recalculated_workbook_equals_symroof(lo, tmp_path, template):
    path = wx.export("llama-3-70b", "tpu-v5e", template, out=tmp_path / f"{template}.xlsx")
    values = _no_error_cells(path, lo(path))
    assert compare(values, expected_values(path)) > 70


def _edit(path, values):
    wb = openpyxl.load_workbook(path)
    for name, value in values.items():
        sheet, cell = next(wb.defined_names[name].destinations)
        wb[sheet][cell.replace("$", "")].value = value
    wb.save(path)


def test_edited_inputs_recalculate_as_symroof_eval(lo, tmp_path):
    path = wx.export("llama-3-70b", "tpu-v5e", out=tmp_path / "edited.xlsx")
    edits = {"batch_size": 64, "chip_price": 2.5, "weight_dtype": "int8"}  # the dtype as the drop-down sets it
    _edit(path, edits)
    values = _no_error_cells(path, lo(path))
    compare(values, expected_values(path, edits))


def test_planner_changes_price_in_finance_workbook(lo, tmp_path, cli):
    path = wx.export("llama-3-70b", "tpu-v5e", "finance", out=tmp_path / "finance.xlsx")
    _edit(path, {"chip_price": 0.9})
    values = _no_error_cells(path, lo(path))
    wb = openpyxl.load_workbook(path)
    sheet, cell = next(wb.defined_names["cost_per_million_tokens"].destinations)
    # the finance page prices one scenario: the slice held at its default, the batch the plan prices
    status, out, _ = cli("eval", "llama-3-70b", "tpu-v5e", "--set", "chip_price=0.9", "--format", "json")
    plan = json.loads(out)["quantities"]
    status, out, _ = cli("eval", "llama-3-70b", "tpu-v5e", "--set", "chip_price=0.9", "--set",
                         f"n_chips={plan['n_chips']['value']}", "--set",
                         f"batch_size={plan['plan_batch_size']['value']}", "--format", "json")
    want = json.loads(out)["quantities"]["cost_per_million_tokens"]["value"]
    assert values[(sheet, cell.replace("$", ""))] == pytest.approx(want, rel=1e-9)


def test_featured_h100_and_405b_recalculate_cleanly(lo):
    from pathlib import Path

    sheets = Path(__file__).resolve().parents[1] / "sheets"
    for name in ("llama-3-70b_h100_engineering.xlsx", "llama-3-405b_tpu-v5e_finance.xlsx",
                 "deepseek-v3_h200_engineering.xlsx", "gpt-oss-120b_h100_finance.xlsx"):  # MoE: LambertW helpers
        path = sheets / name
        compare(_no_error_cells(path, lo(path)), expected_values(path))


def _pdf_pages(path) -> int:
    import re

    return len(re.findall(rb"/Type\s*/Page[^s]", path.read_bytes()))


def test_finance_page_prints_on_one_page(lo_pdf, tmp_path):
    """The committed finance workbooks, rendered to PDF by LibreOffice: the Finance sheet is one page."""
    from pathlib import Path

    sheets = Path(__file__).resolve().parents[1] / "sheets"
    for source in sorted(sheets.glob("*_finance.xlsx")):
        wb = openpyxl.load_workbook(source)
        for ws in wb.worksheets:
            if ws.title != "Finance":
                ws.sheet_state = "hidden"  # hidden sheets are not printed...
                ws.print_area = None  # ...unless they name a print range
        only = tmp_path / source.name
        wb.save(only)
        pdf = lo_pdf(only)
        assert _pdf_pages(pdf) == 1, f"{source.name}: the Finance page prints on {_pdf_pages(pdf)} pages"


@pytest.fixture(scope="module")
def lo_pdf(tmp_path_factory):
    if soffice() is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice (soffice) is missing in CI: .ci/run must install libreoffice-calc-nogui")
        pytest.skip("LibreOffice is not installed (apt-get install libreoffice-calc-nogui)")
    profile = tmp_path_factory.mktemp("lo-profile-pdf")
    out = tmp_path_factory.mktemp("lo-pdf")
    return lambda path: recalculate(path, out, profile, convert_to="pdf")
