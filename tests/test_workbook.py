"""Exported workbooks: computed by the formulas package (Excel semantics) they equal symroof, cell by cell."""

import json
import zipfile
from pathlib import Path

import numpy
import openpyxl
import openpyxl.xml
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symroof.workbook import cells
from symroof.workbook import export as wx
from symroof.workbook.metadata import cell_map

from .workbook_check import compare, expected_values, formula_cells, formulas_values

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def engineering(tmp_path_factory):
    return wx.export("llama-3-70b", "tpu-v5e", out=tmp_path_factory.mktemp("wb") / "e.xlsx")


def test_every_formula_cell_equals_symroof(engineering):
    expected = expected_values(engineering)
    assert compare(formulas_values(engineering), expected) > 400
    kinds = {(c.sheet, c.cell): c.kind for c in cell_map(openpyxl.load_workbook(engineering))}
    # every formula cell of the workbook is one symroof knows the value of (a helper cell holds part of a long
    # formula, such as the engine's step: the cell it feeds is compared)
    assert {cell for cell in formula_cells(engineering) if cell[0] != "Helpers"} <= set(expected)
    assert {"derived", "rule", "elasticity", "sweep", "input"} <= set(kinds.values())


def test_finance_workbook_equals_symroof(tmp_path):
    path = wx.export("llama-3-70b", "tpu-v5p", "finance", out=tmp_path / "f.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[:2] == ["Finance", "Model"]
    page = [row[0] for row in wb["Finance"].iter_rows(values_only=True) if row[0]]
    wanted = {"chip_price", "utilisation", "cost_per_million_tokens", "chips_for_request_rate", "monthly_cost"}
    assert wanted <= set(page)
    assert compare(formulas_values(path), expected_values(path)) > 70


def test_pins_and_dtypes_flow_into_the_workbook(tmp_path):
    overrides = {"param_count": 70e9, "weight_dtype": "int8", "kv_dtype": "int8", "batch_size": 43}
    path = wx.export("llama-3-70b", "tpu-v5e", overrides=overrides, out=tmp_path / "p.xlsx")
    compare(formulas_values(path), expected_values(path, overrides))
    ws = openpyxl.load_workbook(path)["Memory"]
    row = next(r for r in ws.iter_rows() if r[0].value == "param_count")
    assert row[2].value == 70e9 and row[2].data_type == "n"  # a pinned value, not a formula


@pytest.fixture(scope="module")
def compiled(engineering):
    """The workbook compiled once by formulas: random inputs in, every formula cell out."""
    import formulas

    wb = openpyxl.load_workbook(engineering)
    cells = cell_map(wb)
    ref = lambda c: f"'[{engineering.name}]{c.sheet.upper()}'!{c.cell}"  # noqa: E731
    inputs = [c for c in cells if c.kind == "input"]
    outputs = [c for c in cells if c.kind in ("derived", "rule", "elasticity", "sweep")]
    model = formulas.ExcelModel().loads(str(engineering)).finish()
    func = model.compile(inputs=[ref(c) for c in inputs], outputs=[ref(c) for c in outputs])
    defaults = {c.name: wb[c.sheet][c.cell].value for c in inputs}
    return func, inputs, outputs, defaults


RANDOM_INPUTS = st.fixed_dictionaries({
    "batch_size": st.integers(1, 512),
    "context_length": st.integers(128, 65536),
    "chip_price": st.floats(0.1, 20),
    "hbm_bandwidth": st.floats(1e11, 5e12),
    "weight_dtype": st.sampled_from(["bf16", "fp8", "int8", "int4"]),
    "kv_dtype": st.sampled_from(["bf16", "fp8", "int8", "int4"]),
    "compute_dtype": st.sampled_from(["bf16", "int8"]),
    "prefill_mfu": st.floats(0.05, 1),
    "utilisation": st.floats(0.05, 1),
    "target_step_time": st.floats(1, 200),
    "decode_length": st.integers(1, 8192),
})


@pytest.mark.slow  # about 5 minutes of the formulas package (CI runs the slow tier)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(RANDOM_INPUTS)
def test_random_inputs_recompute_as_symroof(compiled, engineering, values):
    func, inputs, outputs, defaults = compiled
    got = func(*[values.get(c.name, defaults[c.name]) for c in inputs])
    actual = {}
    for c, v in zip(outputs, got, strict=True):
        v = v.value[0, 0] if hasattr(v, "value") else v
        actual[(c.sheet, c.cell)] = v.item() if hasattr(v, "item") else v
    expected = expected_values(engineering, values)
    compare(actual, {k: v for k, v in expected.items() if k in actual})


def test_defined_names_are_workbook_scoped_and_in_eval_units(engineering, cli):
    wb = openpyxl.load_workbook(engineering)
    names = set(wb.defined_names)
    assert {"batch_size", "step_time", "critical_batch_size", "chip_price"} <= names
    for ws in wb.worksheets:
        assert not ws.defined_names  # nothing sheet-scoped
    # the cells hold the catalog's values in the units `symroof eval` reports them in
    units = {k: v["unit"] for k, v in json.loads(cli("eval", "llama-3-70b", "tpu-v5e", "--format", "json")[1])
             ["quantities"].items()}
    for name, value, unit in (("hbm_bandwidth", 8.19e11, "byte / chip / second"),
                              ("hbm_capacity", 16, "gigabyte / chip"),
                              ("chip_price", 1.2, "USD / chip / hour"), ("batch_size", 32, "sequence")):
        sheet, cell = next(wb.defined_names[name].destinations)
        assert wb[sheet][cell.replace("$", "")].value == pytest.approx(value) and units[name] == unit


def test_input_cells_validate(engineering):
    wb = openpyxl.load_workbook(engineering)
    ws = wb["Inputs"]
    rules = {}
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            rules[ws.cell(rng.min_row, 1).value] = dv
    assert rules["batch_size"].type == "decimal" and rules["batch_size"].operator == "greaterThan"
    assert rules["n_layers"].type == "whole"
    # no operator attribute means "between", the OOXML default (XlsxWriter leaves it out)
    assert rules["prefill_mfu"].operator in ("between", None) and rules["prefill_mfu"].formula2 == "1"
    assert rules["weight_dtype"].type == "list" and rules["weight_dtype"].formula1 == "dtype_choices"
    assert rules["compute_dtype"].formula1 == "compute_dtype_choices"
    assert all(dv.showErrorMessage for dv in rules.values())
    sheet, cells = next(wb.defined_names["compute_dtype_choices"].destinations)
    compute = [c.value for row in wb[sheet][cells.replace("$", "")] for c in row]
    assert compute == ["bf16", "int8"]  # v5e has no fp8, int4 or fp4 rate


def test_outside_text_never_becomes_a_formula(tmp_path):
    chip = tmp_path / "evil.toml"
    chip.write_text("\n".join([
        'id = "evil"', 'name = "=HYPERLINK(\\"http://x\\")"', 'ici_convention = "@SUM(A1)"',
        'hbm_capacity = { value = "16 GB", source = "=1+1" }',
        'hbm_bandwidth = { value = "819 GB/s", source = "+cmd" }',
        'ici_bandwidth = { value = "9e10 byte/s", source = "-2" }',
        'chip_flops_bf16 = { value = "1.97e14 FLOP/s", source = "@x" }',
    ]))
    path = wx.export("llama-3-70b", str(chip), out=tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(path)["Inputs"]
    sources = {r[0].value: r[6] for r in ws.iter_rows() if r[0].value in ("hbm_capacity", "hbm_bandwidth",
                                                                         "ici_bandwidth", "chip_flops_bf16")}
    assert [c.value for c in sources.values()] == ["=1+1", "+cmd", "-2", "@x"]
    assert all(c.data_type == "s" for c in sources.values())
    assert formula_cells(path)  # and the real formulas are still formulas


def test_reading_back_uses_defusedxml():
    assert openpyxl.xml.DEFUSEDXML


def _set(path, name, value):
    wb = openpyxl.load_workbook(path)
    sheet, cell = next(wb.defined_names[name].destinations)
    wb[sheet][cell.replace("$", "")].value = value
    wb.save(path)


def test_edited_workbook_is_protected(tmp_path):
    path = wx.export("llama-3-70b", "tpu-v5e", out=tmp_path / "w.xlsx")
    wx.export("llama-3-70b", "tpu-v5e", out=path)  # unedited: replaced quietly
    _set(path, "chip_price", 2.5)
    with pytest.raises(wx.WorkbookEdited, match="input cells were edited \\(chip_price\\)"):
        wx.export("llama-3-70b", "tpu-v5e", out=path)
    assert openpyxl.load_workbook(path)["Inputs"]  # still there, still edited
    wx.export("llama-3-70b", "tpu-v5e", out=path, keep_inputs=True)
    wb = openpyxl.load_workbook(path)
    sheet, cell = next(wb.defined_names["chip_price"].destinations)
    assert wb[sheet][cell.replace("$", "")].value == 2.5
    wx.export("llama-3-70b", "tpu-v5e", out=path, force=True)
    wb = openpyxl.load_workbook(path)
    assert wb[sheet][cell.replace("$", "")].value == 1.2


def test_rule_cell_typed_over_counts_as_an_edit(tmp_path):
    path = wx.export("llama-3-70b", "tpu-v5e", out=tmp_path / "w.xlsx")
    _set(path, "n_chips", 32)
    with pytest.raises(wx.WorkbookEdited, match="n_chips"):
        wx.export("llama-3-70b", "tpu-v5e", out=path)


@pytest.mark.parametrize("content", [b"not a zip", None])
def test_foreign_file_is_not_replaced(tmp_path, content):
    path = tmp_path / "x.xlsx"
    if content is None:
        openpyxl.Workbook().save(path)  # a workbook, but not symroof's
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    with pytest.raises(wx.WorkbookEdited, match="use --force"):
        wx.export("llama-3-70b", "tpu-v5e", out=path)
    assert path.read_bytes() == before


def test_crash_while_writing_leaves_the_old_file(tmp_path, monkeypatch):
    path = wx.export("llama-3-70b", "tpu-v5e", out=tmp_path / "w.xlsx")
    before = path.read_bytes()

    import xlsxwriter

    def crash(self):
        Path(self.filename).write_bytes(b"half a workbook")
        raise OSError("disk full")

    monkeypatch.setattr(xlsxwriter.Workbook, "close", crash)
    with pytest.raises(OSError, match="disk full"):
        wx.export("llama-3-70b", "tpu-v5e", out=path, force=True)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.xlsx"]  # no temporary file left


def test_long_formulas_are_split_into_helper_cells(tmp_path, monkeypatch):
    monkeypatch.setattr(cells, "MAX_FORMULA_LENGTH", 300)
    path = wx.export("llama-3-70b", "tpu-v5e", out=tmp_path / "long.xlsx")
    wb = openpyxl.load_workbook(path)
    assert "Helpers" in wb.sheetnames
    assert all(len(c.value) <= 300 for ws in wb.worksheets for row in ws.iter_rows() for c in row
               if c.data_type == "f")
    compare(formulas_values(path), expected_values(path))


@pytest.mark.slow  # about a minute on 2 cores (CI runs the slow tier)
def test_committed_sheets_are_fresh(tmp_path):
    """Regenerate sheets/ and compare every cell (formulas and input values), not zip bytes."""
    wx.export_all(tmp_path)
    committed = sorted(p.name for p in (ROOT / "sheets").glob("*.xlsx"))
    assert committed == sorted(p.name for p in tmp_path.glob("*.xlsx"))
    for name in committed:
        old, new = openpyxl.load_workbook(ROOT / "sheets" / name), openpyxl.load_workbook(tmp_path / name)
        assert old.sheetnames == new.sheetnames, name
        for ws in new.worksheets:
            a = [[c.value for c in row] for row in old[ws.title].iter_rows()]
            b = [[c.value for c in row] for row in ws.iter_rows()]
            assert a == b, f"sheets/{name} [{ws.title}] is stale: run symroof export --all"
        assert set(old.defined_names) == set(new.defined_names), name
    assert (ROOT / "sheets" / "README.md").read_text() == (tmp_path / "README.md").read_text()


def test_every_featured_workbook_has_the_issue_pairs():
    pairs = set(wx.FEATURED)
    assert {("llama-3-70b", c) for c in ("tpu-v5e", "tpu-v5p", "h100", "h200")} <= pairs
    assert {("llama-3-8b", "tpu-v5e"), ("llama-3-405b", "tpu-v5e")} <= pairs


def test_unavailable_quantities_are_left_out(tmp_path):
    path = wx.export("llama-3-70b", "b300", out=tmp_path / "h.xlsx")
    wb = openpyxl.load_workbook(path)
    assert "cost_per_million_tokens" not in wb.defined_names and "chip_price" not in wb.defined_names
    compare(formulas_values(path), expected_values(path))


@pytest.mark.parametrize("argv, message", [
    (["export", "llama-3-70b", "b300", "--template", "finance"], "b300 has no chip_price"),
    (["export", "llama-3-70b", "tpu-v5e", "--template", "fin"], "unknown template 'fin' (did you mean 'finance'?)"),
    (["export", "llama-3-70b"], "give MODEL HARDWARE, or --all"),
    (["export", "--all", "--set", "batch_size=3"], "--all exports the featured pairs"),
    (["export", "llama-3-70b", "tpu-v5e", "-o", "w.txt"], "w.txt: a workbook is written as .xlsx"),
])
def test_export_errors(cli, argv, message):
    status, _, err = cli(*argv)
    assert status == 2 and message in err and err.count("\n") == 1


def test_export_cli_and_edit_refusal(cli, tmp_path):
    out = tmp_path / "c.xlsx"
    assert cli("export", "llama-3-70b", "tpu-v5e", "-o", str(out))[0] == 0
    _set(out, "batch_size", 64)
    status, _, err = cli("export", "llama-3-70b", "tpu-v5e", "-o", str(out))
    assert status == 2 and "batch_size" in err and "--keep-inputs" in err
    assert zipfile.is_zipfile(out)


def test_sweep_rows_go_to_the_largest_batch_that_fits(engineering):
    wb = openpyxl.load_workbook(engineering)
    batches = [c.value for c in wb["Sweep"]["A"][4:] if isinstance(c.value, int | float)]
    from symroof import evaluate

    assert batches == list(numpy.arange(1.0, evaluate("llama-3-70b", "tpu-v5e").magnitude("max_batch_size") + 1))
    assert len(wb["Sweep"]._charts) == 2


@pytest.mark.parametrize("text, message", [
    ('[[sheet]]\nname = "A"\nsection = "x"\n', "sections must be [[sheet.section]] tables"),
    ('sheet = "x"\n', "sheets must be [[sheet]] tables"),
    ('[[sheet]]\nname = "A"\ngroups = ["memry"]\n', "unknown group 'memry' (did you mean 'memory'?)"),
    ('[[sheet]]\nname = "A/B"\n', "not a valid Excel sheet name"),
    ('[[sheet]]\nname = "A"\n[[sheet.section]]\nquantities = ["step_time"]\n', "does not place"),
])
def test_bad_templates(tmp_path, cli, text, message):
    template = tmp_path / "t.toml"
    template.write_text(text)
    status, _, err = cli("export", "llama-3-70b", "tpu-v5e", "--template", str(template), "-o",
                         str(tmp_path / "t.xlsx"))
    assert status == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "t.xlsx").exists()


def test_existing_file_that_is_not_a_workbook_is_refused(tmp_path, cli):
    path = tmp_path / "notes.xlsx"
    path.write_text("my notes")
    status, _, err = cli("export", "llama-3-70b", "tpu-v5e", "-o", str(path))
    assert status == 2 and "use --force" in err and path.read_text() == "my notes"
