"""Correct by default (issue 8): no silently wrong number with catalog defaults, no lost edit.

Each test names the item of issue 8 it covers; each failed before the fix.
Expected values are computed here by hand from the catalog's datasheet
figures (cited in the catalog files), never read from symroof's output.
"""

import io
import json
import re
import zipfile
from pathlib import Path

import openpyxl
import pandas
import pytest

import symroof
from symroof.cli.sweeps import inclusive_range
from symroof.core.errors import CatalogError
from symroof.sweep import pareto, sweep
from symroof.workbook import export as wx

from .conftest import value

ROOT = Path(__file__).resolve().parents[1]


# --- 1. a slice is at least one chip, and on TPUs a real slice shape ---
def test_small_model_gets_one_whole_chip_not_half(cli):
    # LLaMA 3-8B (8.03e9 parameters, 16.1 GB in bf16) plus 32 x 8k of KV (34.4 GB) fits in one 141 GB H200.
    status, out, _ = cli("eval", "llama-3-8b", "h200", "--format", "json")
    q = json.loads(out)["quantities"]
    assert status == 0 and q["n_chips"]["value"] == 1  # was 0.5
    params = 8_030_261_248 * 2
    kv = 2 * 8 * 128 * 32 * 2 * 8192 * 32
    assert q["step_time"]["value"] == pytest.approx((params + kv) / 4.8e12 * 1e3, rel=1e-9)
    assert q["max_batch_size"]["value"] == (141e9 - params) // (2 * 8 * 128 * 32 * 2 * 8192)


def test_llama_8b_on_h100_at_batch_1_is_one_chip():
    r = symroof.evaluate("llama-3-8b", "h100", batch_size=1)
    assert value(r, "n_chips", "chip") == 1  # was 0.25: latency 4x too high, largest batch 20x too small
    assert value(r, "max_batch_size", "sequence") == (80e9 - 8_030_261_248 * 2) // (2 * 8 * 128 * 32 * 2 * 8192)


def test_v5e_has_no_two_chip_slice():
    # 1.5 chips' worth of HBM: v5e slices are 1x1, 2x2, 2x4, ... so the smallest slice is 4 chips, not 2.
    r = symroof.evaluate("llama-3-8b", "tpu-v5e", batch_size=1, context_length=16384)
    need = value(r, "memory_chips", "chip")
    assert 1 < need <= 2
    assert value(r, "n_chips", "chip") == 4
    assert value(symroof.evaluate("llama-3-8b", "h100", batch_size=1, context_length=16384, hbm_capacity="16 GB"),
                 "n_chips", "chip") == 2  # a GPU node has 2-GPU groups


# --- 2. figures use the chip they name; no price needed ---
def test_figure_for_a_named_chip_uses_its_catalog_values():
    from symroof.plot import figure_data, title

    frame, critical, scenario = figure_data("llama-3-70b", "h100", contexts=(8192,))
    # H100: 3.35e12 byte/s, bf16 weights and KV (the catalog default), slice held at 4 chips.
    assert scenario["n_chips"] == 4 and not scenario["seed"]
    row = frame[frame["batch_size"] == 1].iloc[0]
    params, kv = 70_553_706_496 * 2, 2 * 8 * 128 * 80 * 2 * 8192
    assert row["step_time"] == pytest.approx((params + kv) / (4 * 3.35e12) * 1e3, rel=1e-9)
    assert critical == pytest.approx(9.89e14 * 2 / (2 * 3.35e12), rel=1e-9)
    assert "H100" in title("frontier", scenario) and "seed" not in title("frontier", scenario)
    _, _, seed = figure_data(contexts=(8192,))
    assert seed["seed"] and "The seed's figure" in title("frontier", seed)


def test_figures_need_no_price(cli, tmp_path):
    for chip in ("b300", "mi355x"):  # no list price in the catalog
        status, _, err = cli("plot", "frontier", "llama-3-70b", chip, "--contexts", "8192",
                             "-o", str(tmp_path / f"{chip}.png"))
        assert status == 0, err


# --- 3. sweeps hold the slice ---
def test_sweep_holds_the_slice_and_fits_means_what_it_says(cli):
    frame = sweep("llama-3-70b", "tpu-v5e", {"batch_size": [1, 32, 64, 128, 256]})
    assert set(frame["n_chips"]) == {16}  # the smallest slice at the scenario's batch of 32, bf16, 8k
    # 16 x 16 GB less 141 GB of bf16 weights holds 42 sequences of 8k (2.68 GB each): 64 no longer fits
    assert list(frame["fits"]) == [True, True, False, False, False]
    assert frame["step_time"].is_monotonic_increasing
    assert "n_chips held at 16" in frame.attrs["held_note"]
    status, out, err = cli("sweep", "llama-3-70b", "tpu-v5e", "--vary", "batch_size=1,64", "--quiet")
    assert status == 0 and "n_chips held at 16" in err and "n_chips" in out.splitlines()[0]


def test_pareto_compares_one_slice():
    frame = sweep("llama-3-70b", "tpu-v5e", {"batch_size": list(range(1, 60, 4))})
    front = pareto(frame)
    assert set(front["n_chips"]) == {16} and front["fits"].all()


# --- 4. inclusive ranges never pass their end ---
@pytest.mark.parametrize("spec, last", [((1, 512, 64), 449), ((1, 512, 1), 512), ((0.5, 2, 0.5), 2),
                                        ((1, 10, 3), 10), ((1, 3, 5), 1)])
def test_ranges_stop_at_their_end(spec, last):
    values = inclusive_range(*spec)
    assert values[-1] == pytest.approx(last) and max(values) <= spec[1]


def test_cli_range_1_512_64(cli):
    status, out, _ = cli("sweep", "llama-3-70b", "tpu-v5e", "--vary", "batch_size=1:512:64", "--quiet",
                         "--set", "n_chips=64")
    frame = pandas.read_csv(io.StringIO(out))
    assert status == 0 and frame["batch_size"].max() == 449 and len(frame) == 8  # was 513


# --- 5. infeasible points say so ---
def test_405b_on_one_h100_is_infeasible_everywhere(cli, tmp_path):
    status, out, _ = cli("eval", "llama-3-405b", "h100", "--set", "n_chips=1", "--format", "json")
    data = json.loads(out)
    assert data["quantities"]["fits_in_hbm"]["value"] == 0.0 and data["feasible"] is False
    # 405.85e9 parameters in bf16 (811.7 GB) plus 32 x 8k of KV (135.3 GB) = 947 GB; one H100 has 80 GB.
    assert "needs 947 GB" in data["infeasible"] and "has 80 GB" in data["infeasible"]
    assert {"step_time", "tokens_per_second_per_chip", "cost_per_million_tokens"} <= set(
        data["infeasible_quantities"])
    status, out, err = cli("eval", "llama-3-405b", "h100", "--set", "n_chips=1", "--all")
    assert "NOT FEASIBLE" in next(line for line in out.splitlines() if line.split()[:1] == ["cost_per_million_tokens"])
    status, out, err = cli("eval", "llama-3-405b", "h100", "--set", "n_chips=1")  # the short view marks it too
    assert "NOT FEASIBLE" in next(line for line in out.splitlines() if "cost_per_million_tokens" in line)
    for argv in (["sensitivity", "step_time", "llama-3-405b", "h100", "--set", "n_chips=1"],
                 ["export", "llama-3-405b", "h100", "--set", "n_chips=1", "-o", str(tmp_path / "x.xlsx")]):
        status, _, err = cli(*argv)
        assert status == 0 and "DOES NOT FIT" in err, argv


def test_infeasible_workbook_says_not_feasible(tmp_path):
    path = wx.export("llama-3-405b", "h100", overrides={"n_chips": 1}, out=tmp_path / "x.xlsx")
    wb = openpyxl.load_workbook(path, data_only=True)
    assert wb["Inputs"]["A3"].value.startswith("DOES NOT FIT")
    sheet, cell = next(wb.defined_names["step_time"].destinations)
    assert wb[sheet][cell.replace("$", "")].value == "not feasible"


# --- 6. catalog values carry units and real magnitudes ---
@pytest.mark.parametrize("line, message", [
    ('hbm_capacity = { value = 80e9, source = "x" }', "hbm_capacity = 80000000000.0 has no unit"),
    ('hbm_capacity = { value = "80e9 GB", source = "x" }', "hbm_capacity = 8e+10 GB/chip is far outside"),
    ('hbm_bandwidth = { value = "3.35 GB/s", source = "x" }', "far outside any real chip"),
])
def test_catalog_values_need_units_and_sane_magnitudes(tmp_path, line, message):
    base = {"hbm_capacity": '{ value = "80 GB", source = "x" }',
            "hbm_bandwidth": '{ value = "3.35 TB/s", source = "x" }',
            "ici_bandwidth": '{ value = "900 GB/s", source = "x" }',
            "chip_flops_bf16": '{ value = "9.89e14 FLOP/s", source = "x" }'}
    key = line.split(" = ", 1)[0]
    base[key] = line.split(" = ", 1)[1]
    chip = tmp_path / "chip.toml"
    chip.write_text('id = "c"\nname = "C"\n' + "\n".join(f"{k} = {v}" for k, v in base.items()))
    with pytest.raises(CatalogError, match=message.replace("+", r"\+").replace("(", r"\(")) as err:
        symroof.evaluate("llama-3-70b", str(chip))
    assert str(chip) in str(err.value)


# --- 7 and 8. edits are never lost ---
def _set(path, name, value):
    wb = openpyxl.load_workbook(path)
    sheet, cell = next(wb.defined_names[name].destinations)
    wb[sheet][cell.replace("$", "")].value = value
    wb.save(path)


def _input(path, name):
    wb = openpyxl.load_workbook(path)
    sheet, cell = next(wb.defined_names[name].destinations)
    return wb[sheet][cell.replace("$", "")].value


def test_keep_inputs_keeps_protecting(tmp_path):
    path = wx.export("llama-3-70b", "tpu-v5e", out=tmp_path / "w.xlsx")
    _set(path, "chip_price", 2.5)
    wx.export("llama-3-70b", "tpu-v5e", out=path, keep_inputs=True)
    assert _input(path, "chip_price") == 2.5
    with pytest.raises(wx.WorkbookEdited, match="carried over earlier \\(chip_price\\)"):
        wx.export("llama-3-70b", "tpu-v5e", out=path)  # was: silently reset to 1.2
    wx.export("llama-3-70b", "tpu-v5e", out=path, keep_inputs=True)
    assert _input(path, "chip_price") == 2.5


def test_added_sheets_notes_and_overwritten_formulas_are_protected(tmp_path, cli):
    path = wx.export("llama-3-70b", "tpu-v5e", out=tmp_path / "w.xlsx")
    wb = openpyxl.load_workbook(path)
    wb.create_sheet("My notes")["A1"] = "ask finance about reserved pricing"
    wb["Decode"]["H20"] = "check this"
    wb.save(path)
    before = path.read_bytes()
    for argv in ([], ["--keep-inputs"]):
        status, _, err = cli("export", "llama-3-70b", "tpu-v5e", "-o", str(path), *argv)
        assert status == 2 and "sheet 'My notes' was added" in err and "sheet 'Decode' row 20 changed" in err
        assert "--force" in err and path.read_bytes() == before
    assert cli("export", "llama-3-70b", "tpu-v5e", "-o", str(path), "--force")[0] == 0
    assert "My notes" not in openpyxl.load_workbook(path).sheetnames


def test_a_workbook_saved_again_unchanged_is_not_an_edit(tmp_path):
    path = wx.export("llama-3-70b", "tpu-v5e", "finance", out=tmp_path / "f.xlsx")
    openpyxl.load_workbook(path).save(path)  # read and written back by another program, nothing changed
    wx.export("llama-3-70b", "tpu-v5e", "finance", out=path)


# --- 9 to 14. a finance page a planner reads ---
@pytest.fixture(scope="module")
def finance(tmp_path_factory):
    return wx.export("llama-3-70b", "tpu-v5e", "finance", out=tmp_path_factory.mktemp("f") / "f.xlsx")


def _row(ws, name):
    return next(r for r in ws.iter_rows() if r[0].value == name)


def test_finance_number_formats_and_words(finance):
    ws = openpyxl.load_workbook(finance)["Finance"]
    assert '"$"#,##0' in _row(ws, "monthly_cost")[2].number_format
    assert '"$"' in _row(ws, "cost_per_million_tokens")[2].number_format
    assert _row(ws, "utilisation")[2].number_format == "0.0%"
    assert _row(ws, "chip_price")[4].value == "USD per chip-hour"  # E: the unit, beside bound (C) and estimate (D)
    assert _row(ws, "tokens_per_second_per_chip")[4].value == "tokens/s per chip"


def test_finance_labels_are_plain_english(finance):
    wb = openpyxl.load_workbook(finance)
    ws = wb["Finance"]
    assert ws.column_dimensions["A"].hidden  # the public names, kept for scripts
    assert _row(ws, "cost_per_million_tokens_at_utilisation")[1].value == \
        "Cost per million output tokens at the utilisation"
    text = " ".join(str(c.value) for row in ws.iter_rows() for c in row[1:] if c.value)
    assert "$_" not in text and "^U" not in text and "\\text" not in text


def test_finance_prints_one_page_wide_on_readable_pages(finance):
    """Issue 31: all of the finance page's rows on one letter page were unreadable; it prints one page wide, over
    as many pages as its rows need, the header rows repeated on each."""
    ws = openpyxl.load_workbook(finance)["Finance"]
    assert ws.page_setup.orientation == "landscape"
    # fit to 1 page wide (1 is the OOXML default, so the attribute may be left out), any number tall (0)
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (1, None)
    assert ws.page_setup.fitToHeight == 0 and ws.print_title_rows
    engineering = openpyxl.load_workbook(ROOT / "sheets" / "llama-3-70b_tpu-v5e_engineering.xlsx")["Decode"]
    assert engineering.sheet_properties.pageSetUpPr.fitToPage and engineering.page_setup.fitToHeight == 0


def test_finance_page_is_one_scenario(finance):
    wb = openpyxl.load_workbook(finance, data_only=True)
    ws = wb["Finance"]
    batch, plan = _row(ws, "batch_size")[2].value, _row(ws, "latency_batch_size")[2].value
    step, target = _row(ws, "step_time")[2].value, _row(ws, "target_step_time")[2].value
    assert batch == plan == 20 and step <= target  # was batch 32 at 17 ms beside a plan at batch 22
    notes = " ".join(str(c.value) for row in ws.iter_rows() for c in row if isinstance(c.value, str))
    assert "Decode servers only" in notes


def test_cached_values_are_visible_without_a_spreadsheet(finance):
    wb = openpyxl.load_workbook(finance, data_only=True)
    formulas = openpyxl.load_workbook(finance)
    empty = [(ws.title, c.coordinate) for ws in formulas.worksheets for row in ws.iter_rows() for c in row
             if c.data_type == "f" and wb[ws.title][c.coordinate].value is None]
    assert not empty
    frame = pandas.read_excel(finance, sheet_name="Finance", header=None)
    assert (frame[0] == "monthly_cost").any()
    cost = frame.loc[frame[0] == "monthly_cost", 2].iloc[0]
    assert isinstance(cost, float | int) and cost > 0


def test_workbook_charts_have_colours_and_axis_titles():
    with zipfile.ZipFile(ROOT / "sheets" / "llama-3-70b_tpu-v5e_engineering.xlsx") as z:
        charts = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")]
    breakdown = next(c for c in charts if "Decode latency breakdown" in c)
    colours = set(re.findall(r'<a:srgbClr val="([0-9A-F]{6})"', breakdown))
    assert len(colours) >= 3
    assert "Batch size (sequences)" in breakdown and 'legendPos val="r"' in breakdown


def test_png_legends_sit_outside_the_curves():
    from symroof.plot import BREAKDOWN, breakdown_png, figure_data, frontier_png

    frame, critical, _ = figure_data(contexts=(2048, 8192))
    fig = frontier_png(frame, "t")
    ax = fig.axes[0]
    assert ax.get_legend().get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1
    fig = breakdown_png(frame, critical, "t")
    assert fig.legends and len({c for _, _, c in BREAKDOWN}) == 3
    assert fig.axes[0].get_xlabel() == "batch size (sequences)"


# --- 15. big sweeps and empty results ---
def test_too_large_a_sweep_is_refused_before_any_work(cli):
    status, _, err = cli("sweep", "llama-3-70b", "tpu-v5e", "--vary", "batch_size=1:100000",
                         "--vary", "context_length=1:10000")
    assert status == 2 and "1,000,000,000 points" in err and "over the limit of 1,000,000 points" in err
    assert err.count("\n") == 1


def test_large_csv_streams_in_chunks(cli, tmp_path, monkeypatch):
    import importlib

    sw = importlib.import_module("symroof.sweep")  # the module: symroof.sweep is the function (issue 29)

    monkeypatch.setattr(sw, "CHUNK", 1000)
    monkeypatch.setattr(sw, "MAX_CELLS", 10)  # too large to hold, small enough to stream
    out = tmp_path / "big.csv"
    status, text, err = cli("sweep", "llama-3-70b", "tpu-v5e", "--vary", "batch_size=1:5000", "-o", str(out),
                            "--quiet")
    assert status == 0, err
    frame = pandas.read_csv(out)
    assert len(frame) == 5000 and list(frame["batch_size"][:2]) == [1, 2] and "5,000 rows written" in text


def test_drop_unfit_that_leaves_nothing_says_so(cli):
    status, out, err = cli("sweep", "llama-3-405b", "tpu-v5e", "--vary", "batch_size=1,2", "--set", "n_chips=4",
                           "--drop-unfit", "--quiet")
    assert status == 0 and "--drop-unfit left no rows" in err


# --- 16. pins that contradict their inputs ---
def test_contradicting_pins_warn_in_words():
    r = symroof.evaluate("llama-3-70b", "tpu-v5e", step_time="1 ms", max_batch_size=100000)
    text = " ".join(r.warnings())
    assert "step_time is pinned to 1 ms, but its formula gives 17.3" in text
    assert "max_batch_size is pinned to 100000 seq, but its formula gives 42 seq" in text
    assert "positive roots in regime" not in text


# --- 17. one name once; fractional batches allowed everywhere ---
@pytest.mark.parametrize("argv, message", [
    (["eval", "llama-3-70b", "tpu-v5e", "--set", "batch_size=1", "--set", "batch_size=2"], "given twice"),
    (["sweep", "llama-3-70b", "tpu-v5e", "--vary", "batch_size=1", "--vary", "batch_size=2"], "given twice"),
    (["sweep", "llama-3-70b", "tpu-v5e", "--vary", "batch_size=1,2", "--set", "batch_size=3"],
     "both varied and set"),
])
def test_duplicates_are_errors(cli, argv, message):
    status, _, err = cli(*argv)
    assert status == 2 and message in err and err.count("\n") == 1


def test_a_fractional_batch_is_one_rule_everywhere(cli, tmp_path):
    # continuous batching: 22.5 sequences per step on average; every interface takes it, none rounds it
    one = symroof.evaluate("llama-3-70b", "tpu-v5e", batch_size=22.5)
    _, out, _ = cli("eval", "llama-3-70b", "tpu-v5e", "--set", "batch_size=22.5", "--format", "json")
    assert json.loads(out)["quantities"]["step_time"]["value"] == pytest.approx(one.magnitude("step_time"))
    frame = sweep("llama-3-70b", "tpu-v5e", {"batch_size": [22.5]}, {"n_chips": 16})
    assert frame["step_time"][0] == pytest.approx(one.magnitude("step_time"))
    path = wx.export("llama-3-70b", "tpu-v5e", overrides={"batch_size": 22.5}, out=tmp_path / "b.xlsx")
    ws = openpyxl.load_workbook(path)["Inputs"]
    rule = next(dv for dv in ws.data_validations.dataValidation
                if any(ws.cell(r.min_row, 1).value == "batch_size" for r in dv.sqref.ranges))
    assert rule.type == "decimal"


# --- 18. smaller things ---
def test_version(cli):
    status, out, _ = cli("--version")
    assert status == 0 and out.strip() == f"symroof {symroof.__version__}"


def test_solve_with_a_chip_only_names_the_chip(cli):
    status, out, _ = cli("solve", "critical_batch_size", "tpu-v5e")
    assert status == 0 and "(tpu-v5e)" in out and "llama" not in out
    status, out, _ = cli("solve", "critical_batch_size", "tpu-v5e", "--format", "json")
    assert json.loads(out)["model"] is None


def test_errors_name_the_users_path_when_a_folder_is_in_the_way(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    status, _, err = cli("sweep", "llama-3-70b", "tpu-v5e", "--vary", "batch_size=1", "-o", str(blocker / "s.csv"))
    assert status == 2 and str(blocker / "s.csv") in err and ".tmp" not in err


def test_pareto_groups_by_what_was_varied():
    frame = sweep("llama-3-70b", "tpu-v5e", {"batch_size": [1, 8, 16], "weight_dtype": ["bf16", "int8"]},
                  {"n_chips": 16})
    front = pareto(frame)  # one frontier per dtype, as the CLI's --pareto
    assert set(front["weight_dtype"]) == {"bf16", "int8"}


def test_missing_plot_extra_says_how_to_install(monkeypatch, tmp_path):
    import builtins

    real = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    from symroof.plot import plot

    with pytest.raises(symroof.InputError, match=r'pip install "symroof\[plot\]"'):
        plot("frontier", None, None, tmp_path / "x.png", contexts=(8192,))


def test_one_row_is_singular(cli, tmp_path):
    status, out, _ = cli("sweep", "llama-3-70b", "tpu-v5e", "--vary", "batch_size=1", "-o", str(tmp_path / "s.csv"))
    assert status == 0 and out.strip().startswith("1 row written")


# --- 19. the README says which settings give 49 ---
def test_readme_states_the_settings_of_max_model_parallelism_small_batch():
    readme = (ROOT / "README.md").read_text()
    line = next(line for line in readme.splitlines() if "max_model_parallelism_small_batch" in line and "|" in line)
    assert "batch_size" in line and "model_axes" in line
    r = symroof.evaluate("llama-3-70b", "tpu-v5e", batch_size=64, model_axes=1)
    assert f"{value(r, 'max_model_parallelism_small_batch', 'chip'):.0f}" in line

