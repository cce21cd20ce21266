"""The house (issue 9): one lowering path, one declaration home, derivations cached.

Pinned quantities are honoured by every output (text, JSON, table, solve,
workbook, LaTeX, sensitivities); the derivation cache is fresh, rebuilt when
stale or corrupt, and never needs a writable install; the command line runs
without importing sympy.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

import symroof
from symroof import derive
from symroof.declare import REGISTRY, Group
from symroof.declare.functions import make_select
from symroof.runtime import store
from symroof.sensitivity import elasticities
from symroof.workbook import export as wx

from .workbook_check import compare, expected_values, formulas_values

ROOT = Path(__file__).resolve().parent.parent
PIN = {"param_bytes": "100 GB"}
PINNED_TEXT = "attention_data_parallel*chip_flops*param_bytes/(2*hbm_bandwidth*param_count)"


def _by_hand(r):
    """critical_batch_size with param_bytes pinned: C P / (2 W N), from the pinned value, by hand."""
    c, w = r.magnitude("chip_flops"), r.magnitude("hbm_bandwidth")
    n = r.magnitude("param_count")
    return c * 100e9 / (2 * w * n)


# --- pins: formula text always matches the value beside it ---
def test_pinned_formula_text_and_value_agree_in_json_and_table(cli):
    _, out, _ = cli("eval", "llama-3-70b", "tpu-v5e", "--set", "param_bytes=100 GB", "--format", "json")
    q = json.loads(out)["quantities"]["critical_batch_size"]
    assert q["formula"] == PINNED_TEXT  # was the unpinned attention_data_parallel*chip_flops*...
    r = symroof.evaluate("llama-3-70b", "tpu-v5e", PIN)
    assert q["value"] == pytest.approx(_by_hand(r), rel=1e-12)
    _, out, _ = cli("eval", "llama-3-70b", "tpu-v5e", "--set", "param_bytes=100 GB", "--all")  # formulas: --all
    line = next(line for line in out.splitlines() if line.strip().startswith("critical_batch_size"))
    assert PINNED_TEXT in line


def test_pinned_closed_form_in_solve(cli):
    _, out, _ = cli("solve", "critical_batch_size", "llama-3-70b", "tpu-v5e", "--set", "param_bytes=100 GB")
    assert f"closed form: critical_batch_size = {PINNED_TEXT}" in out
    _, out, _ = cli("solve", "critical_batch_size", "llama-3-70b", "tpu-v5e", "--set", "param_bytes=100 GB",
                    "--format", "latex")
    assert r"M_{\text{param}}" in out and r"N_{\text{param}}" in out


def test_pinned_formula_in_the_workbook(tmp_path):
    path = wx.export("llama-3-70b", "tpu-v5e", overrides=PIN, out=tmp_path / "p.xlsx")
    ws = openpyxl.load_workbook(path)["Thresholds"]
    row = next(r for r in ws.iter_rows() if r[0].value == "critical_batch_size")
    assert row[7].value.startswith(f"critical_batch_size = {PINNED_TEXT}")  # H: the Formula column
    assert "param_bytes" in row[2].value and "weight_bytes_per_param" not in row[2].value
    compare(formulas_values(path), expected_values(path, PIN))


def test_pinned_latex():
    q = REGISTRY.get("critical_batch_size")
    assert r"M_{\text{param}}" in q.latex({"param_bytes"}) and r"M_{\text{param}}" not in q.latex()


# --- sensitivities under a pin are those of the pinned formula ---
def _finite_difference(model, chip, overrides, name, wrt, h=1e-6):
    base = symroof.evaluate(model, chip, overrides)
    x = base.magnitude(wrt)
    up = symroof.evaluate(model, chip, {**overrides, wrt: x * (1 + h)}).magnitude(name)
    down = symroof.evaluate(model, chip, {**overrides, wrt: x * (1 - h)}).magnitude(name)
    return (math.log(up) - math.log(down)) / (math.log(1 + h) - math.log(1 - h))


def test_sensitivity_under_a_pin(cli):
    status, out, _ = cli("sensitivity", "critical_batch_size", "llama-3-70b", "tpu-v5e", "--set",
                         "param_bytes=100 GB", "--format", "json")
    e = json.loads(out)["elasticities"]
    assert e["param_bytes"] == pytest.approx(1) and "weight_bytes_per_param" not in e  # was +1 for the latter
    assert e["hbm_bandwidth"] == pytest.approx(-1) and e["chip_flops"] == pytest.approx(1)


@pytest.mark.parametrize("name, pins", [
    ("critical_batch_size", {"param_bytes": "100 GB"}),
    ("step_time", {"param_count": 70e9, "kv_bytes_per_token": "160e3 byte/token"}),
    ("cost_per_million_tokens", {"step_time": "20 ms"}),
])
def test_elasticities_under_pins_match_finite_differences(name, pins):
    r = symroof.evaluate("llama-3-70b", "tpu-v5e", pins)
    for e in elasticities(r, name):
        if r.spec(e.wrt).integer:
            continue  # whole-number inputs (layers, chips): a 1e-6 step is not a step they take
        fd = _finite_difference("llama-3-70b", "tpu-v5e", {**pins, "n_chips": r.magnitude("n_chips")}, name,
                                e.wrt)
        assert e.value == pytest.approx(fd, rel=1e-4, abs=1e-7), e.wrt


# --- the derivation cache ---
def _fresh(monkeypatch, tmp_path, key):
    """A cache folder of its own and a key, as if a declaration had changed; nothing remembered."""
    monkeypatch.setenv("SYMROOF_CACHE", str(tmp_path))
    monkeypatch.setattr(store, "key", lambda: key)
    store.load.cache_clear()
    derive._derived.cache_clear()


def test_no_generated_module_is_tracked():
    tracked = subprocess.run(["git", "ls-files", "symroof"], capture_output=True, text=True, cwd=ROOT).stdout.split()
    generated = [f for f in tracked if f.endswith(".py") and "written by symroof.derive" in (ROOT / f).read_text()
                 and not f.startswith("symroof/derive/")]
    assert not generated and "symroof/_derived.py" not in tracked


def test_the_cache_matches_the_declarations():
    t = derive.table()
    for q in REGISTRY:
        s = t.get(q.name)
        assert s.unit_text == ("" if str(q.unit) == "dimensionless" else str(q.unit))
        if q.kind == "derived" or q.has_rule:
            assert s.formula_text() == q.formula_text(), q.name


def test_a_stale_cache_is_derived_again_in_the_user_cache(tmp_path, monkeypatch):
    _fresh(monkeypatch, tmp_path, "0" * 64)
    try:
        t = derive.table()
        assert t.key == "0" * 64  # derived anew, not another version's
        written = list(tmp_path.glob("model-*/model.json"))
        assert len(written) == 1 and (written[0].parent / "functions.py").is_file()
        store.load.cache_clear()
        derive._derived.cache_clear()
        again = derive.table()
        assert again.key == "0" * 64 and again.module.__file__ == str(written[0].parent / "functions.py")
    finally:
        store.load.cache_clear()
        derive._derived.cache_clear()


@pytest.mark.parametrize("damage", ["record", "functions", "truncated"])
def test_a_damaged_cache_is_never_trusted(tmp_path, monkeypatch, damage):
    _fresh(monkeypatch, tmp_path, "1" * 64)
    try:
        derive.table()
        folder = store.folder("1" * 64)
        if damage == "record":
            (folder / "model.json").write_text('{"key": "' + "1" * 64 + '", "specs": [')
        elif damage == "functions":
            (folder / "functions.py").write_text("KEY = '" + "1" * 64 + "'\ndef _f_bound_step_time(v):\n")
        else:
            text = (folder / "model.json").read_text()
            (folder / "model.json").write_text(text.replace('"complete":true', '"complete":false'))
        store.load.cache_clear()
        derive._derived.cache_clear()
        assert store.load("1" * 64) is None
        t = derive.table()
        assert len(t.specs) == len(REGISTRY)
        assert store.load("1" * 64) is not None  # derived again over the damaged files
    finally:
        store.load.cache_clear()
        derive._derived.cache_clear()


def test_a_read_only_cache_location_still_works(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    _fresh(monkeypatch, blocked / "cache", "2" * 64)
    try:
        assert len(derive.table().specs) == len(REGISTRY)  # derived in memory
    finally:
        store.load.cache_clear()
        derive._derived.cache_clear()


@pytest.mark.parametrize("argv", [["--help"], ["eval", "llama-3-70b", "tpu-v5e"], ["explain", "step_time"],
                                  ["solve", "critical_batch_size", "llama-3-70b", "tpu-v5e"],
                                  ["list", "quantities"]])
def test_the_command_line_runs_without_sympy(argv):
    code = (f"import sys\nfrom symroof.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            "print('SYMPY' if 'sympy' in sys.modules else 'NO SYMPY')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "NO SYMPY", done.stdout[-300:] + done.stderr[-300:]


# --- declarations ---
def test_replacing_a_quantity_clears_what_was_derived_from_it(planted):
    g = Group("memory", "Memory")
    g.derived("planted_double", "x", "GB", "d", "s", 2 * symroof.symbol("param_bytes"))
    assert REGISTRY.get("planted_double").formula_text() == "2*param_bytes"
    REGISTRY.replace("planted_double", expr=3 * symroof.symbol("param_bytes"))
    assert REGISTRY.get("planted_double").formula_text() == "3*param_bytes"  # no stale cache keyed by name


def test_a_script_can_extend_the_model_and_evaluate_it(planted):
    g = Group("serving", "Serving")
    g.derived("planted_cost_per_token", "x", "USD/token", "d", "s",
              symroof.symbol("chip_price") / symroof.symbol("tokens_per_second_per_chip"))
    r = symroof.evaluate("llama-3-70b", "tpu-v5e")
    assert r.magnitude("planted_cost_per_token") == pytest.approx(
        r.magnitude("chip_price") / 3600 / r.magnitude("tokens_per_second_per_chip"), rel=1e-12)


def test_select_options_are_keyed_by_choice_not_position():
    key = symroof.symbol("compute_dtype")
    a = make_select(key, {"bf16": 1, "fp8": 2, "int8": 3, "int4": 4})
    b = make_select(key, {"int4": 4, "int8": 3, "fp8": 2, "bf16": 1})  # any order
    assert a.choose("fp8") == b.choose("fp8") == 2
    with pytest.raises(ValueError, match="do not match choices"):
        Group("scenario", "S").select(key, {"bf16": 1, "fp8": 2})


def test_explain_shows_a_default_in_its_unit(cli):
    _, out, _ = cli("explain", "target_step_time")
    assert "default:    target_step_time = 15 ms" in out  # was 3/200


def test_a_missing_model_value_blames_the_model():
    from symroof import catalog

    chip = catalog.load("hardware", "tpu-v5e")
    model = catalog.load("model", "llama-3-70b")
    values = dict(model.values)
    del values["vocab_size"]
    broken = catalog.Entry(model.id, model.name, "model", model.path, values, model.sources)
    r = symroof.Evaluation(broken, chip)
    assert r.unavailable["vocab_size"].startswith("llama-3-70b has no vocab_size")


def test_importing_plot_leaves_the_matplotlib_backend_alone():
    code = ("import matplotlib\nmatplotlib.use('svg')\nimport symroof.plot\n"
            "from symroof.plot import figure_data, frontier_png\nf, c, s = figure_data(contexts=(8192,))\n"
            "frontier_png(f, 't')\nprint(matplotlib.get_backend())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "svg", done.stderr[-500:]
