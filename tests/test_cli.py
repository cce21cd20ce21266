"""The command line: forms, the JSON contract, and one-line errors with exit status 2."""

import json
import shutil
import subprocess
import sys

import pytest

from symroof import REGISTRY, ureg

DONE_WHEN = ["eval", "llama-3-70b", "tpu-v5e", "--set", "batch_size=32", "--set", "context_length=8192",
             "--set", "weight_dtype=int8", "--set", "kv_dtype=int8", "--set", "n_chips=8", "--format", "json"]


def test_issue_example_gives_17ms_and_235_tokens_per_chip(cli):
    status, out, err = cli(*DONE_WHEN)
    assert status == 0 and not err
    q = json.loads(out)["quantities"]
    # Seed: about 17 ms per step and 235 tokens/s/chip (see tests/test_seed.py for the tolerance).
    assert q["step_time"]["unit"] == "millisecond"
    assert q["step_time"]["value"] == pytest.approx(17, rel=0.035)
    assert q["tokens_per_second_per_chip"]["value"] == pytest.approx(235, rel=0.03)


def test_json_contract(cli):
    status, out, _ = cli(*DONE_WHEN)
    data = json.loads(out)
    assert data["model"] == "llama-3-70b" and data["hardware"] == "tpu-v5e"
    for name, entry in data["quantities"].items():
        assert set(entry) == {"value", "unit", "kind", "formula", "source"}, name
        assert entry["kind"] in ("input", "derived")
        ureg.parse_units(entry["unit"])  # every unit string parses
        if REGISTRY.get(name).categorical:
            assert isinstance(entry["value"], str)
        else:
            assert isinstance(entry["value"], float)
        assert isinstance(entry["formula"], str) if entry["kind"] == "derived" else True, name
    quantities = data["quantities"]
    assert quantities["batch_size"]["formula"] is None  # set by the user
    assert quantities["context_length"]["formula"] is None  # a default value, not a rule
    assert quantities["chip_flops"]["formula"].startswith("select(compute_dtype, {bf16: chip_flops_bf16")
    assert data["quantities"]["weight_dtype"] == {"value": "int8", "unit": "", "kind": "input", "formula": None,
                                                  "source": "set by the user"}
    assert data["quantities"]["step_time"]["formula"] == "step_time_kv + Max(step_time_flops, step_time_params)"


def test_pinned_derived_quantity_reports_as_input(cli):
    _, out, _ = cli("eval", "llama-3-70b", "tpu-v5e", "--set", "param_count=70e9", "--format", "json")
    entry = json.loads(out)["quantities"]["param_count"]
    assert entry["kind"] == "input" and entry["formula"] is None and entry["value"] == 70e9


def test_value_with_unit(cli):
    _, out, _ = cli("eval", "llama-3-70b", "tpu-v5e", "--set", "hbm_bandwidth=820 GB/s", "--format", "json")
    assert json.loads(out)["quantities"]["hbm_bandwidth"]["value"] == pytest.approx(8.2e11)


def test_csv_and_table(cli):
    status, out, _ = cli("eval", "llama-3-8b", "h100", "--format", "csv")
    assert status == 0
    header, *rows = out.splitlines()
    assert header == "name,value,unit,kind,source"
    assert any(r.startswith("step_time,") for r in rows)
    status, out, _ = cli("eval", "llama-3-8b", "h100")
    assert status == 0 and "Decode" in out and "step_time" in out


def test_unavailable_quantities_are_explained(cli):
    _, out, _ = cli("eval", "llama-3-70b", "b300", "--format", "json")  # no public list price for a B300
    data = json.loads(out)
    assert "cost_per_million_tokens" not in data["quantities"]
    assert "chip_price" in data["unavailable"]["cost_per_million_tokens"]


def test_list(cli):
    status, out, _ = cli("list", "models")
    ids = [line.split()[0] for line in out.splitlines()]
    assert status == 0 and ids == sorted(ids)
    # the seed's three, and the models issue 11 adds
    assert {"llama-3-405b", "llama-3-70b", "llama-3-8b", "deepseek-v3", "qwen3-235b-a22b", "qwen3-30b-a3b",
            "qwen3-32b", "llama-4-scout", "llama-4-maverick", "gpt-oss-120b", "gpt-oss-20b", "mixtral-8x7b",
            "gemma-3-27b", "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "llama-3.3-70b",
            "deepseek-r1"} == set(ids)  # issue 31: an alias of deepseek-v3's file
    status, out, _ = cli("list", "hardware")
    assert status == 0 and "tpu-v5e" in out and "h100" in out
    status, out, _ = cli("list", "quantities", "--format", "json")
    assert {"step_time", "batch_size"} <= {q["name"] for q in json.loads(out)}


def test_explain(cli):
    status, out, _ = cli("explain", "step_time")
    assert status == 0
    assert "step_time = step_time_kv + Max(step_time_flops, step_time_params)" in out
    assert r"\max\left(" in out and "millisecond" in out and "used by:" in out


@pytest.mark.parametrize("argv, message", [
    (["eval", "llama-3-7b", "tpu-v5e"], "unknown model 'llama-3-7b' (did you mean 'llama-3-70b'"),
    (["eval", "llama-3-70b", "tpu-v5"], "unknown hardware 'tpu-v5'"),
    (["eval", "llama-3-70b", "tpu-v5e", "--set", "batch_sze=3"], "unknown quantity 'batch_sze' (did you mean"),
    (["eval", "llama-3-70b", "tpu-v5e", "--set", "batch_size=-3"], "--set batch_size: must be positive, got -3"),
    (["eval", "llama-3-70b", "tpu-v5e", "--set", "batch_size=3x"], "--set batch_size: unknown unit 'x'"),
    (["eval", "llama-3-70b", "tpu-v5e", "--set", "batch_size=abc"], "--set batch_size: 'abc' is not a number"),
    (["eval", "llama-3-70b", "tpu-v5e", "--set", "hbm_bandwidth=16 GB"], "gigabyte does not measure hbm_bandwidth"),
    (["eval", "llama-3-70b", "tpu-v5e", "--set", "weight_dtype=fp2"],
     "'fp2' is not one of bf16, fp8, int8, int4, fp4, mxfp4"),
    (["eval", "llama-3-70b", "tpu-v5e", "--set", "batch_size"], "expected NAME=VALUE"),
    (["eval", "llama-3-70b", "tpu-v5e", "--set", "prefill_mfu=1.5"], "must be at most 1"),
    (["eval", "llama-3-70b", "tpu-v5e", "--set", "chip_flops=3 TFLOPS"], "write FLOP/s"),
    (["eval", "llama-3-70b", "tpu-v5e", "--set", "n_chips=inf"], "--set n_chips"),
    (["explain", "step_tim"], "unknown quantity 'step_tim' (did you mean 'step_time'"),
])
def test_errors_are_one_line_with_status_2(cli, argv, message):
    status, out, err = cli(*argv)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("symroof: error: ")
    assert message in err


def test_unwritable_output_is_one_line(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    status, out, err = cli("export", "llama-3-70b", "tpu-v5e", "-o", str(blocker / "w.xlsx"))
    assert status == 2 and err.startswith("symroof: error: cannot write") and err.count("\n") == 1
    assert blocker.read_text() == "x"


def test_usage_errors_exit_2(cli):
    status, _, err = cli("eval", "llama-3-70b")
    assert status == 2 and "usage:" in err


@pytest.mark.skipif(shutil.which("symroof") is None, reason="console script not installed (pip install .)")
def test_console_script_runs():
    done = subprocess.run(["symroof", "eval", "llama-3-70b", "tpu-v5e", "--format", "json"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "step_time" in json.loads(done.stdout)["quantities"]


def test_module_entry_point_bad_input():
    done = subprocess.run([sys.executable, "-m", "symroof.cli", "eval", "nope", "tpu-v5e"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_python_dash_m_symroof_runs_the_command_line():
    """Issue 31: ``python -m symroof`` said the package cannot be directly executed."""
    done = subprocess.run([sys.executable, "-m", "symroof", "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: ") and "calibrate" in done.stdout and "import-model" in done.stdout


def test_solve_without_model_prints_the_closed_form(cli):
    status, out, _ = cli("solve", "critical_batch_size")
    assert status == 0
    # the seed's C b / (2 W), times the attention data-parallel groups (each loads its own weights; issue 28)
    assert "critical_batch_size = attention_data_parallel*chip_flops*weight_bytes_per_param/(2*hbm_bandwidth)" in out
    assert "step_time_flops = step_time_params_spread, solved for batch_size" in out
    assert "value:" not in out


def test_solve_on_v5e_prints_240(cli):
    status, out, _ = cli("solve", "critical_batch_size", "tpu-v5e")
    assert status == 0
    assert "value:       240.5 seq" in out  # 1.97e14 / 8.19e11 (the seed: 240 with 8.2e11)
    status, out, _ = cli("solve", "critical_batch_size", "tpu-v5e", "--set", "hbm_bandwidth=8.2e11 byte/s",
                         "--format", "json")
    entry = json.loads(out)["quantities"]["critical_batch_size"]
    assert round(entry["value"]) == 240 and entry["unit"] == "sequence"
    assert entry["closed_form"] == "attention_data_parallel*chip_flops*weight_bytes_per_param/(2*hbm_bandwidth)"


def test_solve_latex_and_regimes(cli):
    status, out, _ = cli("solve", "batch_size_for_step_time", "--format", "latex")
    assert status == 0 and r"\min\left(" in out
    status, out, _ = cli("solve", "batch_size_for_step_time", "--format", "json")
    regimes = json.loads(out)["quantities"]["batch_size_for_step_time"]["regimes"]
    assert {r["holds_when"] for r in regimes} == {"step_time_flops >= step_time_params",
                                                  "step_time_params >= step_time_flops"}


@pytest.mark.parametrize("argv, message", [
    (["solve", "step_time"], "step_time is not a solved threshold"),
    (["solve", "max_model_parallelism", "tpu-v5e"], "depends on the model (d_ff): give MODEL HARDWARE"),
    (["solve", "critical_batch_size", "tpu-v9"], "'tpu-v9' is neither a catalog model nor a chip"),
    (["sensitivity", "batch_size", "llama-3-70b", "tpu-v5e"], "batch_size is an input"),
])
def test_solve_and_sensitivity_errors(cli, argv, message):
    status, _, err = cli(*argv)
    assert status == 2 and message in err and err.count("\n") == 1


def test_sensitivity(cli):
    status, out, _ = cli("sensitivity", "step_time", "llama-3-70b", "tpu-v5e", "--set", "weight_dtype=int8",
                         "--set", "kv_dtype=int8", "--set", "n_chips=8")
    assert status == 0
    lines = out.splitlines()
    assert lines[2].split() == ["hbm_bandwidth", "-1.0000"]  # largest first
    assert "active bound in step_time: step_time_params" in out
    status, out, _ = cli("sensitivity", "cost_per_million_tokens", "llama-3-70b", "tpu-v5e", "--format", "json")
    data = json.loads(out)
    assert data["elasticities"]["chip_price"] == pytest.approx(1)
