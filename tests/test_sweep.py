"""Sweeps, the Pareto frontier and the seed's figures."""

import io
import json

import numpy
import pandas
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symroof
from symroof.core.errors import InputError
from symroof.core.progress import Progress
from symroof.plot import SEED_FIGURE, figure_data, plot
from symroof.sweep import compile_sweep, pareto, sweep

QUANTITIES = ("step_time", "step_time_kv", "step_time_flops", "step_time_params", "tokens_per_second_per_chip",
              "max_batch_size", "critical_batch_size", "n_chips", "prefill_time")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=st.sampled_from(["llama-3-8b", "llama-3-70b", "llama-3-405b"]),
       chip=st.sampled_from(["tpu-v4", "tpu-v5e", "tpu-v5p", "tpu-v6e", "h100", "h200", "b200"]),
       weights=st.sampled_from(["bf16", "fp8", "int8", "int4"]), kv=st.sampled_from(["bf16", "int8"]),
       batches=st.lists(st.floats(1, 2048), min_size=1, max_size=4),
       contexts=st.lists(st.floats(64, 131072), min_size=1, max_size=3),
       chips=st.one_of(st.none(), st.integers(1, 512)))
def test_sweep_equals_scalar_eval(model, chip, weights, kv, batches, contexts, chips):
    overrides = {"weight_dtype": weights, "kv_dtype": kv}
    if chips is not None:
        overrides["n_chips"] = chips
    frame = sweep(model, chip, {"batch_size": batches, "context_length": contexts}, overrides, QUANTITIES)
    assert len(frame) == len(batches) * len(contexts)
    # the slice is held for the whole sweep (issue 8): the smallest slice at the scenario's defaults, unless set
    held = symroof.evaluate(model, chip, overrides).magnitude("n_chips")
    assert set(frame["n_chips"]) == {held}
    for row in frame.itertuples(index=False):
        ev = symroof.evaluate(model, chip, {**overrides, "n_chips": held, "batch_size": row.batch_size,
                                            "context_length": row.context_length})
        for name in QUANTITIES:
            assert getattr(row, name) == pytest.approx(ev.magnitude(name), rel=1e-12), name
        fits = ev.magnitude("total_memory_bytes") <= ev.magnitude("hbm_total_bytes")
        assert row.fits == fits


def test_units_are_recorded_per_column():
    frame = sweep("llama-3-70b", "tpu-v5e", {"batch_size": [1, 2]})
    assert frame.attrs["units"]["step_time"] == "millisecond"
    assert frame.attrs["units"]["tokens_per_second_per_chip"] == "token / chip / second"
    assert frame.attrs["units"]["batch_size"] == "sequence"
    symroof.ureg.parse_units(frame.attrs["units"]["cost_per_million_tokens"])


def test_dtypes_and_chips_vary_too():
    frame = sweep("llama-3-70b", ["tpu-v5e", "h100"], {"batch_size": [8], "weight_dtype": ["bf16", "int8"]},
                  {"n_chips": 16})
    assert len(frame) == 4
    assert set(frame["hardware"]) == {"tpu-v5e", "h100"} and set(frame["weight_dtype"]) == {"bf16", "int8"}
    v5e = frame[(frame["hardware"] == "tpu-v5e")].set_index("weight_dtype")
    assert v5e.loc["int8", "step_time_params"] == pytest.approx(v5e.loc["bf16", "step_time_params"] / 2)


def test_drop_unfit():
    frame = sweep("llama-3-70b", "tpu-v5e", {"batch_size": [1, 100, 1000]}, SEED_FIGURE)
    assert list(frame["fits"]) == [True, True, False]
    kept = sweep("llama-3-70b", "tpu-v5e", {"batch_size": [1, 100, 1000]}, SEED_FIGURE, drop_unfit=True)
    assert list(kept["batch_size"]) == [1, 100]


# --- the seed's frontier (v5e 4x4, int8 weights, bf16 FLOPs, 8.2e11 byte/s) ---
@pytest.fixture(scope="module")
def seed_frontier():
    return figure_data(contexts=(2048, 8192))[0]  # no model and chip: the seed's own figure


def test_batch_one_at_8k_is_about_5_44_ms():
    # The seed's code uses 70e9 parameters: 70e9 / (16 * 8.2e11) + 2 * 128 * 8 * 80 * 8192 / (16 * 8.2e11) = 5.44 ms.
    pinned = sweep("llama-3-70b", "tpu-v5e", {"batch_size": [1]}, {**SEED_FIGURE, "param_count": 70e9})
    assert pinned["step_time"][0] == pytest.approx(5.44, abs=0.005)
    exact = sweep("llama-3-70b", "tpu-v5e", {"batch_size": [1]}, SEED_FIGURE)  # 70.55e9 parameters: 0.8% more
    assert exact["step_time"][0] == pytest.approx(5.44, rel=0.01)


def test_largest_batch_that_fits_at_8k_is_138(seed_frontier):
    # (256e9 - 70.55e9) / (163,840 * 8192) = 138.1; the seed's printed figure stops one short.
    at_8k = seed_frontier[seed_frontier["context_length"] == 8192]
    assert at_8k["batch_size"].max() == 138
    assert list(at_8k["batch_size"]) == list(range(1, 139))


def test_throughput_plateaus_near_0_89_tokens_per_ms_per_chip_at_2k(seed_frontier):
    at_2k = seed_frontier[seed_frontier["context_length"] == 2048]
    plateau = at_2k["tokens_per_second_per_chip"].max() / 1000
    assert plateau == pytest.approx(0.89, rel=0.01)
    # past the critical batch (120 for int8 weights, bf16 FLOPs) it is flat: KV and FLOPs both grow with B
    late = at_2k[at_2k["batch_size"] > 125]["tokens_per_second_per_chip"]
    assert late.max() / late.min() == pytest.approx(1, abs=1e-9)


def test_pareto_keeps_exactly_the_non_dominated_points():
    rng = numpy.random.default_rng(7)
    frame = pandas.DataFrame({"step_time": rng.random(300), "tokens_per_second_per_chip": rng.random(300),
                              "context_length": rng.choice([1, 2], 300), "fits": rng.random(300) > 0.1})
    front = pareto(frame)
    fitting = frame[frame["fits"]]
    for ctx, group in fitting.groupby("context_length"):
        kept = front[front["context_length"] == ctx]
        for _, p in group.iterrows():
            dominated = ((group["step_time"] <= p.step_time) & (group["tokens_per_second_per_chip"] >=
                         p.tokens_per_second_per_chip) & ((group["step_time"] < p.step_time) |
                         (group["tokens_per_second_per_chip"] > p.tokens_per_second_per_chip))).any()
            assert dominated != (p.name in kept.index)


def test_pareto_of_cost():
    frame = sweep("llama-3-70b", "tpu-v5e", {"batch_size": list(range(1, 200, 7))}, SEED_FIGURE)
    front = pareto(frame, y="cost_per_million_tokens", maximize_y=False, by=None)
    assert front["cost_per_million_tokens"].is_monotonic_decreasing and len(front) > 3


def test_compile_sweep_refuses_varying_a_derived_quantity():
    with pytest.raises(InputError, match="only numeric inputs vary"):
        compile_sweep("llama-3-70b", "tpu-v5e", ("step_time",), ("tokens_per_second",))


def test_sweep_errors():
    with pytest.raises(InputError, match="must be positive"):
        sweep("llama-3-70b", "tpu-v5e", {"batch_size": [1, -2]})
    with pytest.raises(InputError, match="b300 has no chip_price"):
        sweep("llama-3-70b", "b300", {"batch_size": [1]}, quantities=["cost_per_million_tokens"])
    frame = sweep("llama-3-70b", "b300", {"batch_size": [1]})  # the defaults: cost left out, and said so
    assert "cost_per_million_tokens" not in frame
    assert "chip_price" in frame.attrs["unavailable"]["cost_per_million_tokens"]
    with pytest.raises(InputError, match="nothing to vary"):
        sweep("llama-3-70b", "tpu-v5e", {})


# --- command line ---
def test_cli_sweep_csv_and_json(cli, tmp_path):
    status, out, _ = cli("sweep", "llama-3-70b", "tpu-v5e", "--vary", "batch_size=1:3",
                         "--vary", "context_length=2048,8192", "--quiet")
    assert status == 0
    frame = pandas.read_csv(io.StringIO(out))
    assert len(frame) == 6 and {"batch_size", "context_length", "step_time", "fits"} <= set(frame.columns)
    status, out, _ = cli("sweep", "llama-3-70b", "tpu-v5e", "--vary", "batch_size=1:512:64", "--format", "json",
                         "--pareto", "--set", "n_chips=16")
    data = json.loads(out)
    assert data["units"]["step_time"] == "millisecond" and data["rows"]
    target = tmp_path / "s.csv"
    status, out, _ = cli("sweep", "llama-3-70b", "tpu-v5e", "--vary", "batch_size=1,2", "-o", str(target))
    assert status == 0 and "2 rows written" in out and target.read_text().startswith("model,")


@pytest.mark.parametrize("argv, message", [
    (["--vary", "batch_size"], "expected NAME=VALUES"),
    (["--vary", "batch_size=5:1"], "runs backwards"),
    (["--vary", "batch_size=1:x"], "is not a range"),
    (["--vary", "step_time=1,2"], "only inputs vary"),
    (["--vary", "batch_size=1", "--quantities", "step_tme"], "unknown quantity 'step_tme'"),
    (["--vary", "weight_dtype=fp2"], "'fp2' is not one of"),
])
def test_cli_sweep_errors(cli, argv, message):
    status, _, err = cli("sweep", "llama-3-70b", "tpu-v5e", *argv)
    assert status == 2 and message in err and err.count("\n") == 1


@pytest.mark.parametrize("kind", ["frontier", "breakdown"])
def test_figures(cli, tmp_path, kind):
    png, svg, html = (tmp_path / f"{kind}.{ext}" for ext in ("png", "svg", "html"))
    for path in (png, svg, html):
        status, _, err = cli("plot", kind, "--contexts", "2048,8192", "-o", str(path))
        assert status == 0, err
    assert png.read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in svg.read_bytes()[:1000]
    page = html.read_text()
    assert "sliders" in page and "2k context" in page and "8k context" in page
    assert '<script src="http' not in page  # self-contained: opens with no network


def test_plot_bad_contexts(cli, tmp_path):
    status, _, err = cli("plot", "frontier", "--contexts", "2k,8k", "-o", str(tmp_path / "x.png"))
    assert status == 2 and "--contexts '2k,8k': expected numbers" in err and err.count("\n") == 1


def test_plot_errors(cli, tmp_path):
    status, _, err = cli("plot", "frontier", "-o", str(tmp_path / "x.pdf"))
    assert status == 2 and "write .png, .svg or .html" in err
    status, _, err = cli("plot", "frontier", "--set", "hbm_capacity=1 GB", "--contexts", "8192",
                         "-o", str(tmp_path / "x.png"))
    assert status == 2 and "no batch fits" in err


def test_plot_writes_atomically(tmp_path):
    path = plot("frontier", "llama-3-70b", "tpu-v5e", tmp_path / "f.png", contexts=(8192,))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png"] and path.stat().st_size > 1000


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_shows_only_on_a_terminal_after_a_while():
    quick = FakeTTY()
    bar = Progress(quick, enabled=True, after=60)
    bar(1, 2)
    bar(2, 2)
    assert quick.getvalue() == ""  # finished before it was worth showing
    slow = FakeTTY()
    bar = Progress(slow, enabled=True, after=0)
    bar(1, 2)
    bar(2, 2)
    assert "1/2" in slow.getvalue() and slow.getvalue().endswith("2/2\n")
    pipe = io.StringIO()
    bar = Progress(pipe, enabled=True, after=0)
    bar(1, 2)
    assert pipe.getvalue() == ""  # not a terminal
    quiet = FakeTTY()
    Progress(quiet, enabled=False, after=0)(1, 2)
    assert quiet.getvalue() == ""


def test_a_sweep_too_large_to_compute_is_refused_with_its_size(cli, tmp_path):
    """Issue 31: 100,000 x 100,000 points streamed to a CSV ran for minutes. The default columns are model,
    hardware, the two varied inputs, n_chips, seven quantities and fits: 13; 1e10 points x 13 cells x 13 bytes
    (pandas's width of a float) = 1.69e12 bytes."""
    out = tmp_path / "huge.csv"
    status, _, err = cli("sweep", "llama-3-70b", "tpu-v5e", "--vary", "batch_size=1:100000",
                         "--vary", "context_length=1:100000", "-o", str(out))
    assert status == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "10,000,000,000 points (100,000 batch_size x 100,000 context_length) of 13 columns" in err
    assert "about 1.7 TB as CSV" in err and "over the limit of 1,000,000 points" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []
    # a range is counted, not laid out: 1e12 values are refused at once
    status, _, err = cli("sweep", "llama-3-70b", "tpu-v5e", "--vary", "batch_size=1:1e12", "--format", "json")
    assert status == 2 and "over the limit of 1,000,000 points" in err and err.count("\n") == 1, err


def test_the_point_limit_counts_models_chips_and_dtypes(cli, monkeypatch):
    """The command's limit is on the product of every list: 2 models x 2 chips x 2 dtypes x 3 batches = 24."""
    import symroof.cli.sweeps as sw

    argv = ("sweep", "llama-3-70b,llama-3-8b", "tpu-v5e,h100", "--vary", "batch_size=1:3", "--vary",
            "weight_dtype=int8,bf16", "--quantities", "step_time", "--quiet")
    monkeypatch.setattr(sw, "MAX_POINTS", 24)
    status, out, err = cli(*argv)
    assert status == 0 and len(out.splitlines()) == 1 + 24, err
    monkeypatch.setattr(sw, "MAX_POINTS", 23)
    status, _, err = cli(*argv)
    assert status == 2 and "24 points (2 models x 2 chips x 3 batch_size x 2 weight_dtype)" in err, err
    # the library's sweep() returns a table in memory, held by its memory limit only (computing is fast)
    frame = sweep(["llama-3-70b", "llama-3-8b"], ["tpu-v5e", "h100"], {"batch_size": [1, 2, 3],
                                                                      "weight_dtype": ["int8", "bf16"]})
    assert len(frame) == 24


@pytest.mark.parametrize("argv, message", [
    (["serving", "llama-3-70b", "h100", "--contexts", "2048"],
     "--contexts: not used by plot serving, which reads --input, --output-tokens and --engine"),
    (["frontier", "llama-3-70b", "h100", "--rate", "10/s", "--engine", "sglang"],
     "--engine: not used by the plan frontier"),
    (["frontier", "llama-3-70b", "h100", "--rate", "10/s", "--contexts", "2048", "--engine", "vllm"],
     "--contexts, --engine: not used by the plan frontier"),
    (["frontier", "--input", "100"], "--input: not used by plot frontier, which reads --contexts"),
    (["breakdown", "--engine", "vllm"], "--engine: not used by plot breakdown"),
    (["serving", "llama-3-70b", "h100", "--estimate"], "--estimate: not used by plot serving, which draws the bound "
     "and the estimate side by side"),
    (["frontier", "llama-3-70b", "h100", "--rate", ""], "--rate is empty"),  # drew the seed's figure instead
])
def test_plot_refuses_options_it_does_not_use(cli, tmp_path, argv, message):
    """Issue 31: these options were dropped without a word."""
    target = tmp_path / "x.png"
    status, _, err = cli("plot", *argv, "-o", str(target))
    assert status == 2 and message in err and err.count("\n") == 1 and not target.exists(), err
