"""Edges of issue 31 (items 1, 3 and 4): values a command does not use are refused, never dropped; ranges checked
where the value arrives (switches 0 or 1, floors of 1, relations between inputs); answers that ran for minutes
bounded; unpriced chips compared; the search's runner-up sentences. Each refusal is one line, exit status 2."""

from __future__ import annotations

import json
import math
import re
import time

import pytest

from symroof import profiles

SERVE = ("serve", "llama-3.1-8b", "h100", "--input", "1024", "--output", "256")
VLLM = profiles.folder() / "vllm.toml"

#: LLaMA 3-70B's config.json (meta-llama/Meta-Llama-3-70B), the base each import-model case edits.
LLAMA_70B_CONFIG = {
    "model_type": "llama",
    "num_hidden_layers": 80,
    "hidden_size": 8192,
    "intermediate_size": 28672,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "torch_dtype": "bfloat16",
}



@pytest.mark.parametrize(
    "argv, says",
    [
        # options dropped without a word: the workload's own options decide these
        ([*SERVE, "--batch", "8", "--set", "batch_size=16"], "batch_size is given twice (the workload and --set)"),
        ([*SERVE, "--concurrency", "8", "--set", "batch_size=16"], "--set batch_size: serve takes it from --batch"),
        ([*SERVE, "--rate", "5/s", "--set", "concurrency=16"], "--set concurrency: serve takes it from --concurrency"),
        (
            [*SERVE, "--concurrency", "8", "--set", "context_length=4096"],
            "--set context_length: serve takes it from --input and --output",
        ),
        ([*SERVE, "--concurrency", "8", "--set", "request_rate=3"], "--set request_rate: serve takes it from --rate"),
        # a value starting with a minus is the option's value, refused in the option's words (not argparse's usage)
        ([*SERVE, "--rate", "-1/s"], "--rate '-1/s': the rate must be above 0 and finite"),
        (["plan", "llama-3-70b", "h200", "--tpot", "-1ms"], "--tpot '-1ms': must be positive, got -1"),
        (["plan", "llama-3-70b", "h200", "--ttft-p99", "-2s"], "--ttft '-2s': must be positive, got -2"),
        # refusals name the option the user gave, not the --set it becomes
        (["plan", "llama-3-70b", "h200", "--ttft", "nan"], "--ttft 'nan': 'nan' is not a number"),
        (["plan", "llama-3-70b", "h200", "--ttft", "0s"], "--ttft '0s': must be positive"),
        (
            ["serve", "llama-3.1-8b", "h100", "--input", "inf", "--output", "256", "--concurrency", "8"],
            "--input 'inf': give a finite number of input tokens per request",
        ),
        (["plan", "llama-3-70b", "h200", "--input", "inf"], "--input 'inf': give a finite number"),
        # ranges: a floor of 1, a switch, and the relation of accepted tokens to drafts
        (
            ["eval", "llama-3-70b", "h100", "--set", "accepted_tokens_per_step=0.5"],
            "--set accepted_tokens_per_step: must be at least 1",
        ),
        (
            ["eval", "llama-3-70b", "h100", "--set", "speculative_tokens=2", "--set", "accepted_tokens_per_step=5"],
            "accepted_tokens_per_step (5) is above 1 + speculative_tokens (2)",
        ),
        (
            ["eval", "llama-3-70b", "h100", "--set", "accepted_tokens_per_step=2"],
            "accepted_tokens_per_step (2) is above 1 + speculative_tokens (0)",
        ),
        (
            ["eval", "llama-3-70b", "h100", "--estimate", "--set", "expert_imbalance=0.5"],
            "--set expert_imbalance: must be at least 1 (the most-loaded rank carries at least the mean), got 0.5",
        ),
        (
            ["eval", "llama-3-70b", "h100", "--estimate", "--set", "prefill_separate=0.5"],
            "--set prefill_separate: is a switch, 0 or 1, got 0.5",
        ),
        (["eval", "llama-3-70b", "h100", "--set", "pue=0.9"], "--set pue: must be at least 1"),
        # a slice of 6 chips is a tensor-parallel group of 6, which 64 heads do not split (tensor_parallel=6 is refused)
        (
            [
                "serve",
                "llama-3-70b",
                "h100",
                "--input",
                "1024",
                "--output",
                "256",
                "--concurrency",
                "8",
                "--set",
                "n_chips=6",
            ],
            "n_chips=6 makes a tensor-parallel group of 6 chips, which does not split the model's 64 attention heads",
        ),
        # a dense model's attention groups each hold the weights: the refusal says so, not "raise the memory fraction"
        (
            [
                "serve",
                "llama-3-70b",
                "h200",
                "--input",
                "1000",
                "--output",
                "1000",
                "--concurrency",
                "8",
                "--engine",
                "sglang",
                "--set",
                "attention_data_parallel=8",
                "--set",
                "n_chips=8",
            ],
            "attention_data_parallel=8 on a dense model: each of the 8 attention groups holds its own copy",
        ),
    ],
)
def test_edge_is_one_line(cli, argv, says):
    status, out, err = cli(*argv)
    assert status == 2 and says in err and err.count("\n") == 1 and not out and "usage:" not in err, err


def test_two_drafts_may_gain_up_to_three_tokens(cli):
    status, _, err = cli(
        "eval",
        "llama-3-70b",
        "h100",
        "--set",
        "speculative_tokens=2",
        "--set",
        "accepted_tokens_per_step=3",
        "--format",
        "json",
    )
    assert status == 0, err


@pytest.mark.parametrize(
    "line, value, says",
    [
        (
            "prefill_separate = { value = 0,",
            "prefill_separate = { value = 0.5,",
            "values.prefill_separate: is a switch",
        ),
        (
            "expert_imbalance = { value = 1,",
            "expert_imbalance = { value = 0.5,",
            "values.expert_imbalance: must be at least 1",
        ),
        (
            'max_num_seqs = { value = "1024 sequence"',
            'max_num_seqs = { value = "2.5 sequence"',
            "max_num_seqs (2.5) must be a whole number of sequences",
        ),
    ],
)
def test_a_profile_field_out_of_range_is_refused(cli, tmp_path, line, value, says):
    text = VLLM.read_text(encoding="utf-8")
    assert line in text
    path = tmp_path / "mine.toml"
    path.write_text(text.replace(line, value, 1), encoding="utf-8")
    status, _, err = cli(*SERVE, "--concurrency", "8", "--engine", str(path))
    assert status == 2 and says in err and err.count("\n") == 1, err


def test_a_profile_saved_with_a_byte_order_mark_reads_as_without(cli, tmp_path):
    plain, marked = tmp_path / "plain.toml", tmp_path / "marked.toml"
    plain.write_text(VLLM.read_text(encoding="utf-8"), encoding="utf-8")
    marked.write_text("\ufeff" + VLLM.read_text(encoding="utf-8"), encoding="utf-8")
    answers = []
    for path in (plain, marked):
        status, out, err = cli(*SERVE, "--concurrency", "8", "--engine", str(path), "--format", "json")
        assert status == 0, err
        answers.append(json.loads(out)["estimate"]["quantities"]["itl"]["value"])
    assert answers[0] == answers[1]


def test_serve_table_shows_the_warnings_its_json_has(cli):
    status, out, _ = cli(*SERVE, "--concurrency", "1e9", "--format", "json")
    assert status == 0
    warnings = json.loads(out)["warnings"]
    assert any("concurrency = 1e+09 seq is far outside" in w for w in warnings)
    status, out, _ = cli(*SERVE, "--concurrency", "1e9")
    assert status == 0 and "warning: concurrency = 1e+09 seq is far outside" in out


@pytest.mark.parametrize(
    "name, config, says",
    [
        ("heads0", {"num_attention_heads": 0}, "num_attention_heads must be at least 1, got 0"),
        ("kv7", {"num_key_value_heads": 7}, "num_key_value_heads (7) does not divide num_attention_heads (64)"),
        ("vocab", {"vocab_size": -5}, "vocab_size must be at least 1, got -5"),
        ("ff", {"intermediate_size": 0.5}, "intermediate_size must be a whole number, got 0.5"),
    ],
)
def test_import_model_refuses_impossible_counts(cli, tmp_path, name, config, says):
    """Issue 31: num_attention_heads 0 raised ZeroDivisionError; 7 key-value heads for 64 query heads was written."""
    base = dict(LLAMA_70B_CONFIG)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({**base, **config}))
    status, out, err = cli("import-model", str(path))
    assert status == 2 and says in err and err.count("\n") == 1 and not out, err


def test_compare_ranks_an_unpriced_chip_last_with_its_break_even(cli):
    """Issue 31: plan --compare b300 refused the chip that plan ... b300 alone plans (b300 publishes no price)."""
    status, out, err = cli("plan", "llama-3-70b", "h200", "--rate", "100/s", "--compare", "b300", "--format", "json")
    assert status == 0, err
    plans = json.loads(out)
    assert [p["hardware"] for p in plans] == ["h200", "b300"]
    b300 = plans[1]["quantities"]
    assert (
        "cost_per_million_output_tokens" not in b300
        or b300["cost_per_million_output_tokens"]["value"] is None
        or not math.isfinite(b300["cost_per_million_output_tokens"]["value"])
    )
    assert b300["break_even_chip_price"]["value"] > 0
    status, out, _ = cli("plan", "llama-3-70b", "h200", "--rate", "100/s", "--compare", "b300")
    assert status == 0 and "b300: no published price (bound), ranked last" in out


@pytest.mark.parametrize("rate", ["1e12", "1e30/s"])
def test_a_huge_rate_is_refused_at_once(cli, rate):
    """Issue 31: plan --rate 1e12 ran for minutes in an Erlang C recursion over 16 million servers."""
    start = time.perf_counter()
    status, _, err = cli("plan", "llama-3-70b", "h200", "--rate", rate)
    assert status == 2 and "beyond the 10,000 the queue model plans" in err, err
    assert time.perf_counter() - start < 30


def _erlang_c_recursion(c: int, a: float) -> float:
    """Erlang C by the textbook recursion B(k) = a B(k-1) / (k + a B(k-1)), in plain Python (independent of numpy)."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return c * b / (c - a * (1 - b))


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_erlang_c_beyond_the_recursion_is_the_normal_limit(beta):
    from symroof.core.numeric import HALFIN_WHITT_LOAD, erlang_c

    a = 2 * HALFIN_WHITT_LOAD
    c = math.floor(a + beta * math.sqrt(a))
    assert erlang_c(c, a) == pytest.approx(_erlang_c_recursion(c, a), rel=2e-3)
    start = time.perf_counter()
    a = 1e11  # plan --rate 1e12's prefill load: 52 sqrt(a) = 16 million steps of the recursion
    c = math.floor(a + 3 * math.sqrt(a))
    phi, tail = math.exp(-4.5) / math.sqrt(2 * math.pi), 0.5 * math.erfc(-3 / math.sqrt(2))
    assert erlang_c(c, a) == pytest.approx(1 / (1 + 3 * tail / phi), rel=1e-3)  # Halfin and Whitt's limit
    assert time.perf_counter() - start < 1


PLAN = (
    "plan",
    "llama-3-70b",
    "h200",
    "--rate",
    "2000/s",
    "--input",
    "3000",
    "--output",
    "500",
    "--ttft-p99",
    "2s",
    "--tpot",
    "33ms",
)


def test_runner_up_sentences_read_at_a_glance(cli):
    """Item 4: dollars a month with thousands separators and the share, the chosen layout's own cost once."""
    status, out, err = cli(*PLAN)
    assert status == 0, err
    chosen = re.search(r"layout chosen \(bound\): [^$]*\$([\d,]+)/month;", out)
    assert chosen, out
    base = float(chosen.group(1).replace(",", ""))
    lines = [line for line in out.splitlines() if line.startswith("  runner-up ")]
    assert lines
    for line in lines:
        m = re.search(r": costs \$([\d,]+)/month more \(\+(\d+\.\d)%\)$", line)
        assert m, line
        extra, share = float(m.group(1).replace(",", "")), float(m.group(2))
        assert share == pytest.approx(100 * extra / base, abs=0.051), line  # the two printed numbers agree


def test_a_missed_target_says_by_how_much(cli):
    status, _, err = cli("plan", "llama-3-70b", "h200", "--ttft-p99", "0.05s", "--set", "n_chips=8")
    assert status == 2
    m = re.search(r"misses the TTFT target by (\d+) ms \((\d+)%\): (\d+) ms against 50 ms", err)
    assert m, err
    by, share, got = (int(g) for g in m.groups())
    assert got - 50 == pytest.approx(by, abs=1) and share == pytest.approx(100 * by / 50, abs=1)


def test_a_byte_order_mark_in_a_template_is_read(tmp_path):
    from symroof.workbook import template

    source = next(template._folder().glob("*.toml"), None)
    if source is None:
        pytest.skip("no shipped template")
    marked = tmp_path / source.name
    marked.write_text("\ufeff" + source.read_text(encoding="utf-8"), encoding="utf-8")
    assert template.load(str(marked)).name == template.load(str(source)).name


def test_unit_factors_print_as_the_constants_they_are():
    """Item 5: 730 hours a month reached a formula as 100000000000000000/136986301369863 (the exact rational of the
    float 1e17 / 136986301369863 = 730.0000000000001); a fraction within 1e-12 of a small one prints as it."""
    import sympy

    from symroof.printing.excel import excel_formula, readable

    x = sympy.Symbol("chip_price")
    assert excel_formula(sympy.Rational(10**17, 136986301369863) * x) == "=730*chip_price"
    assert excel_formula(x * sympy.Rational(1426940639269407, 10**20)) == "=chip_price/70080"  # 8 x 8,760 hours
    assert readable(sympy.Rational(15220700152207, 1268391679350584)) == ("3", "250")
    assert readable(sympy.Rational(1, 10**9)) == ("1", "1000000000")  # bytes per GB, exact
    assert readable(sympy.Rational(123456789123, 1000000007)) == ("123456789123", "1000000007")  # no small form
    assert readable(sympy.Integer(1426940639269407)) == ("1426940639269407", "1")  # integers are left exact


def test_long_sheets_print_one_page_wide_and_the_comparison_has_a_page_setup(tmp_path):
    """Item 5: the finance page's 107 rows printed on one letter page; the comparison sheet had no page setup."""
    import openpyxl

    from symroof.workbook import export as wx
    from symroof.workbook.comparison import export_comparison

    path = wx.export("llama-3-70b", "tpu-v5e", "finance", out=tmp_path / "finance.xlsx")
    ws = openpyxl.load_workbook(path)["Finance"]
    assert ws.max_row > 50 and ws.page_setup.orientation == "landscape" and ws.print_title_rows == "$1:$2"
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 0  # as many pages as it needs
    path = export_comparison("llama-3-70b", ["h100", "h200"], out=tmp_path / "cmp.xlsx")
    ws = openpyxl.load_workbook(path)["Comparison"]
    assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == "$4:$6"
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 0


def test_a_sweep_held_past_saturation_is_one_line(cli):
    """Issue 31: a fixed request_rate the engine cannot keep up with raised sympy's "not comparable" traceback."""
    status, out, err = cli(
        "sweep", "llama-3-70b", "h100", "--vary", "batch_size=1,2", "--set", "request_rate=4", "--quiet"
    )
    assert status == 2 and not out and "Traceback" not in err, err
    assert err.splitlines()[-1].startswith("symroof: error: the swept quantities have no value at what is held fixed")


def test_a_sweep_names_a_set_that_changes_nothing_it_reports(cli):
    status, _, err = cli("sweep", "llama-3-70b", "h100", "--vary", "batch_size=1,2", "--set", "pue=1.2", "--quiet")
    assert status == 0 and "--set pue changes none of the quantities swept" in err, err
    status, _, err = cli("sweep", "llama-3-70b", "h100", "--vary", "batch_size=1,2", "--set", "n_chips=8", "--quiet")
    assert status == 0 and "changes none" not in err, err


# NVIDIA ModelOpt's config.json form, as vLLM reads it (vllm-project/vllm,
# vllm/model_executor/layers/quantization/modelopt.py, ModelOptQuantConfigBase.from_config: quant_method "modelopt"
# with quant_algo FP8 / FP8_PER_CHANNEL_PER_TOKEN / FP8_PB_WO / NVFP4 / MXFP8 and kv_cache_quant_algo; the NVFP4 block
# below is the shape of an NVFP4 export: 4-bit float weights and activations in groups of 16, lm_head left out).
NVFP4 = {
    "quant_algo": "NVFP4",
    "quant_method": "modelopt",
    "kv_cache_quant_algo": "FP8",
    "weights": {"num_bits": 4, "type": "float", "group_size": 16},
    "input_activations": {"num_bits": 4, "type": "float", "group_size": 16},
    "ignore": ["lm_head"],
}


@pytest.mark.parametrize(
    "quant, dtypes",
    [
        (NVFP4, {"weight_dtype": '"fp4"', "compute_dtype": '"fp4"', "kv_dtype": '"fp8"'}),
        ({"quant_method": "modelopt", "quant_algo": "FP8"}, {"weight_dtype": '"fp8"', "compute_dtype": '"fp8"'}),
        (
            {"quant_method": "modelopt", "quant_algo": "fp8_pb_wo"},
            {"weight_dtype": '"fp8"'},
        ),  # ModelOpt may emit lowercase
    ],
)
def test_import_model_reads_modelopt_checkpoints(cli, tmp_path, quant, dtypes):
    base = {**LLAMA_70B_CONFIG, "quantization_config": quant}
    config = tmp_path / "config.json"
    config.write_text(json.dumps(base))
    out = tmp_path / "m.toml"
    status, _, err = cli("import-model", str(config), "-o", str(out))
    assert status == 0 and "warning" not in err, err
    text = out.read_text()
    for key, value in dtypes.items():
        assert f"{key} = {{ value = {value}," in text, text
    status, got, err = cli("eval", str(out), "b200", "--format", "json")
    assert status == 0, err
    q = json.loads(got)["quantities"]
    bits = {'"fp4"': 4.5, '"fp8"': 8}[dtypes["weight_dtype"]]  # NVFP4: 4 bits and an 8-bit scale per 16 values
    assert q["weight_bytes_per_param"]["value"] == pytest.approx(bits / 8)


def test_import_model_warns_of_a_modelopt_algorithm_it_does_not_know(cli, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "model_type": "llama",
                "num_hidden_layers": 2,
                "hidden_size": 64,
                "intermediate_size": 128,
                "num_attention_heads": 4,
                "num_key_value_heads": 2,
                "vocab_size": 100,
                "torch_dtype": "bfloat16",
                "quantization_config": {"quant_method": "modelopt", "quant_algo": "W6A6"},
            }
        )
    )
    status, out, err = cli("import-model", str(config))
    assert status == 0 and "quant_algo 'W6A6' is not understood" in err and 'weight_dtype = { value = "bf16"' in out


@pytest.mark.parametrize(
    "vary, says",
    [
        ("prefill_separate=0,0.5", "--vary prefill_separate: is a switch, 0 or 1, got 0.5"),
        ("expert_imbalance=0.5,2", "--vary expert_imbalance: must be at least 1"),
    ],
)
def test_a_swept_switch_or_floor_is_checked_as_a_set_one(cli, vary, says):
    status, out, err = cli("sweep", "llama-3-70b", "h100", "--vary", vary, "--estimate", "--quiet")
    assert status == 2 and not out and says in err and err.count("\n") == 1, err


def test_eval_warns_of_a_slice_the_heads_do_not_split(cli):
    """The chapter's roofline still prices n_chips=6 (a warning); serve, which runs an engine, refuses it."""
    status, out, err = cli("eval", "llama-3-70b", "h100", "--set", "n_chips=6", "--format", "json")
    assert status == 0, err
    assert any(
        "tensor-parallel group of 6 chips, which does not split the model's 64 attention heads" in w
        for w in json.loads(out)["warnings"]
    )
    status, out, _ = cli("eval", "llama-3-70b", "h100", "--set", "n_chips=8", "--format", "json")
    assert status == 0 and not any("tensor-parallel group" in w for w in json.loads(out)["warnings"])


def test_a_lengths_csv_with_a_byte_order_mark_reads_as_without(tmp_path):
    """Issue 31: a CSV saved with a byte-order mark (Excel's "CSV UTF-8") named its first column '\\ufeffinput'."""
    from symroof.replay.benchmark import read_lengths

    plain, marked = tmp_path / "plain.csv", tmp_path / "marked.csv"
    plain.write_text("input,output\n100,20\n300,40\n", encoding="utf-8")
    marked.write_text("input,output\n100,20\n300,40\n", encoding="utf-8-sig")
    assert marked.read_bytes().startswith(b"\xef\xbb\xbf")
    for got, want in zip(read_lengths(marked), ([100.0, 300.0], [20.0, 40.0]), strict=True):
        assert got.tolist() == want


def test_a_calibration_csv_with_a_byte_order_mark_is_read(tmp_path):
    """Issue 31: ``symroof calibrate`` refused a measurement CSV saved with a byte-order mark ('missing column')."""
    import pathlib

    from symroof.fit import read

    shared = pathlib.Path(__file__).resolve().parents[2] / "shared" / "measurements" / "h100-2026-11-26"
    if not shared.is_dir():
        pytest.skip("../shared/measurements not beside the checkout")
    copy = tmp_path / "h100"
    copy.mkdir()
    for f in shared.iterdir():
        data = f.read_bytes()
        (copy / f.name).write_bytes(b"\xef\xbb\xbf" + data if f.suffix == ".csv" else data)
    assert read(copy).__dict__.keys() == read(shared).__dict__.keys()
    assert repr(read(copy).__dict__) == repr(read(shared).__dict__).replace(str(shared), str(copy))


@pytest.mark.parametrize(
    "argv, name",
    [
        (["sweep", "llama-3-70b", "tpu-v5e", "--vary", "batch_size=1,2"], "s.csv"),
        (["plot", "breakdown"], "b.svg"),
    ],
)
def test_sweep_and_plot_replace_an_existing_file_only_with_force(cli, tmp_path, argv, name):
    """Issue 31: `sweep -o` and `plot -o` replaced a file that was there without a word; every other command
    that writes asks for --force."""
    out = tmp_path / name
    out.write_text("mine")
    status, _, err = cli(*argv, "-o", str(out))
    assert status == 2 and "the file exists; add --force to replace it" in err and err.count("\n") == 1
    assert out.read_text() == "mine"
    status, _, err = cli(*argv, "-o", str(out), "--force")
    assert status == 0, err
    assert out.read_text() != "mine"
