"""The comparison workbook (issue 13): chips side by side, live, equal to symroof cell by cell."""

import json

import openpyxl
import pytest

from symroof.workbook.comparison import export_comparison
from symroof.workbook.metadata import cell_map

from .workbook_check import compare, comparison_expected, formulas_values

SETTINGS = {"n_chips": 8, "request_rate": 500, "input_length": 3000, "output_length": 500, "target_step_time": 33}


@pytest.fixture(scope="module")
def workbook(tmp_path_factory):
    return export_comparison("llama-3-70b", ["h200", "h100", "b200"], SETTINGS,
                             out=tmp_path_factory.mktemp("cmp") / "c.xlsx")


def test_every_cell_equals_symroof(workbook):
    assert compare(formulas_values(workbook), comparison_expected(workbook)) > 300


def test_columns_follow_the_plan_cheapest_first(workbook, cli):
    wb = openpyxl.load_workbook(workbook)
    ws = wb["Comparison"]
    chips = [ws.cell(4, c).value for c in range(4, 10)]
    modes = [ws.cell(5, c).value for c in range(4, 10)]
    assert modes == ["bound"] * 3 + ["estimate"] * 3 and chips[:3] == chips[3:]
    status, out, _ = cli("plan", "llama-3-70b", "h200", "--compare", "h100,b200", "--format", "json",
                         *[f"--set={k}={v}" for k, v in SETTINGS.items()])
    assert status == 0
    assert chips[:3] == [r["hardware"] for r in json.loads(out)]  # the plan's ranking
    kinds = {c.kind for c in cell_map(wb)}
    assert {"input", "compare", "compare_input", "elasticity"} <= kinds


def test_tornado_ranks_elasticities(workbook):
    wb = openpyxl.load_workbook(workbook, data_only=True)
    ws = wb["Tornado"]
    values = [ws.cell(r, 2).value for r in range(5, 5 + 12) if ws.cell(r, 2).value is not None]
    assert len(values) >= 4 and [abs(v) for v in values] == sorted((abs(v) for v in values), reverse=True)
    names = [ws.cell(r, 1).value for r in range(5, 5 + len(values))]
    assert "chip_hour_cost" in names and "hbm_bandwidth" in names
    assert values[names.index("chip_hour_cost")] == pytest.approx(1.0)


@pytest.mark.parametrize("argv, message", [
    (["export", "--compare", "llama-3-70b", "h100"], "--compare needs two or more different chips"),
    (["export", "--compare", "llama-3-70b", "h100,nope"], "unknown hardware 'nope'"),
    (["export", "--compare", "llama-3-70b"], "--compare needs MODEL CHIP,CHIP"),
    (["export", "llama-3-70b", "h100", "--template", "comparison"], "the comparison template compares chips"),
    (["export", "--compare", "llama-3-70b", "h100,h200", "--template", "finance"], "--template finance is one chip's"),
    # issue 31: the engineering template was taken for the default and the comparison written without a word
    (["export", "--compare", "llama-3-70b", "h100,h200", "--template", "engineering"],
     "--template engineering is one chip's workbook; --compare writes the comparison template's own layout"),
])
def test_bad_comparison_requests(cli, argv, message, tmp_path):
    status, out, err = cli(*argv, "-o", str(tmp_path / "x.xlsx"))
    assert status == 2 and message in err and not (tmp_path / "x.xlsx").exists()


def test_an_existing_file_is_not_replaced_without_force(cli, tmp_path):
    path = tmp_path / "c.xlsx"
    path.write_bytes(b"a planner's file")
    status, _, err = cli("export", "--compare", "llama-3-70b", "h100,h200", "-o", str(path))
    assert status == 2 and "is not a readable workbook" in err and "use --force" in err
    assert path.read_bytes() == b"a planner's file"


def test_an_unedited_comparison_is_replaced_and_an_edited_one_kept(cli, tmp_path):
    """Issue 31: a second export --compare over its own untouched workbook asked for --force, while the
    one-chip export replaces an unedited workbook (README, Workbooks)."""
    path = tmp_path / "c.xlsx"
    argv = ("export", "--compare", "llama-3-70b", "h100,h200", "--set", "n_chips=8", "-o", str(path))
    status, _, err = cli(*argv)
    assert status == 0, err
    status, out, err = cli(*argv)  # nothing changed: replaced
    assert status == 0 and out.strip() == str(path), err
    wb = openpyxl.load_workbook(path)
    # a chip column's own input cells (its prefill replicas, its batch) are the planner's to edit
    cell = next(c for c in cell_map(wb) if c.kind == "compare_input" and isinstance(c.generated, float))
    wb[cell.sheet][cell.cell] = cell.generated * 2
    wb.save(path)
    edited = path.read_bytes()
    status, _, err = cli(*argv)
    assert status == 2 and f"input {cell.name} ({cell.detail}) was edited" in err and "use --force" in err, err
    assert err.count("\n") == 1 and path.read_bytes() == edited
    status, _, err = cli(*argv, "--force")
    assert status == 0 and path.read_bytes() != edited, err
