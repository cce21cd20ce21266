"""symroof serve (issue 17): the engine model over the step model, its workloads, caps, profiles and errors.

Expected values are independent computations from published configs and datasheets, or laws every queue obeys
(Little's law), never read back from symroof.
"""

from __future__ import annotations

import json
import math
import re

import pytest

from symroof import profiles
from symroof.core.errors import SymroofError
from symroof.serve import serve

EIGHT = {"n_chips": 8}


def test_littles_law_in_every_workload():
    """Requests in flight = request throughput x end-to-end latency (Little's law), closed and open loop."""
    for kwargs in ({"concurrency": 1}, {"concurrency": 48}, {"concurrency": "max"}, {"rate": 2.0}):
        r = serve("llama-3.3-70b", "h100", 1024, 256, overrides=EIGHT, **kwargs)
        for mode in ("bound", "estimate"):
            ev = r.evaluations[mode]
            lam, e2e = ev["request_throughput"].to("sequence/s").magnitude, ev["e2e_latency"].to("s").magnitude
            assert ev["served_concurrency"].magnitude == pytest.approx(lam * e2e, rel=1e-9)
            if "concurrency" in kwargs and kwargs["concurrency"] != "max":
                assert lam * e2e == pytest.approx(kwargs["concurrency"], rel=1e-9), (mode, kwargs)
            # vLLM's TPOT definition: (e2e - ttft) / (output - 1)
            ttft, itl = ev["ttft"].to("s").magnitude, ev["itl"].to("s").magnitude
            assert itl == pytest.approx((e2e - ttft) / (256 - 1), rel=1e-9)


def test_latency_and_throughput_rise_with_concurrency():
    series = {m: [] for m in ("bound", "estimate")}
    for n in (1, 2, 8, 32, 128, 512):
        r = serve("llama-3.1-8b", "h100", 1000, 500, concurrency=n)
        for mode in series:
            ev = r.evaluations[mode]
            series[mode].append((ev.magnitude("itl"), ev.magnitude("ttft"), ev.magnitude("output_throughput")))
    for mode, rows in series.items():
        for (itl0, ttft0, tps0), (itl1, ttft1, tps1) in zip(rows, rows[1:], strict=False):
            assert itl1 >= itl0 and ttft1 >= ttft0 * (1 - 1e-9) and tps1 >= tps0 * (1 - 1e-9), mode


def test_bound_is_the_chapters_step_at_a_static_batch():
    """Bound ITL of a static batch: weights plus the batch's KV at its mean context, over HBM bandwidth.

    Llama 3.1 8B (meta-llama/Llama-3.1-8B config.json): 8,030,261,248 parameters in bf16, 32 layers, 8 KV heads
    of 128, so 2 x 32 x 8 x 128 x 2 B = 131,072 B of KV per token; H100 SXM: 3.35 TB/s (NVIDIA datasheet).
    Batch 8, 1000 in and 1001 out: mean context 1000 + 1001 / 2 tokens.
    """
    r = serve("llama-3.1-8b", "h100", 1000, 1001, batch=8)
    expected = (2 * 8_030_261_248 + 8 * 131_072 * (1000 + 1001 / 2)) / 3.35e12
    assert r.evaluations["bound"]["itl"].to("s").magnitude == pytest.approx(expected, rel=1e-6)
    assert r.evaluations["estimate"]["itl"].to("s").magnitude > expected


def test_engine_caps_bind_and_are_named():
    r = serve("llama-3.1-8b", "h100", 1000, 1000, concurrency=5000)
    assert r.binding("estimate") in ("max_num_seqs", "kv_pool", "max_num_batched_tokens")
    ev = r.evaluations["estimate"]
    assert ev.magnitude("running_batch") <= ev.magnitude("max_num_seqs")
    # the bound's engine has no cap but HBM: it runs what the KV pool holds
    assert r.binding("bound") == "kv_pool"


def test_profiles_are_distinct_and_every_value_has_a_source():
    loaded = {name: profiles.load(name, None) for name in ("vllm", "sglang", "trtllm")}
    assert len({tuple(sorted((k, str(v)) for k, v in p.values.items())) for p in loaded.values()}) == 3
    for p in loaded.values():
        assert set(p.values) <= profiles.keys()
        assert all(p.sources[k].strip() for k in p.values)
    assert loaded["vllm"].values["kv_memory_fraction"] == 0.9  # vllm/config/cache.py gpu_memory_utilization


def test_memory_fraction_basis_sets_the_kv_pool():
    """vLLM: 0.9 of total memory minus weights; TensorRT-LLM: 0.9 of what the weights leave (more KV)."""
    v = serve("llama-3.1-8b", "h100", 1000, 1000, concurrency=1, engine="vllm").evaluations["estimate"]
    t = serve("llama-3.1-8b", "h100", 1000, 1000, concurrency=1, engine="trtllm").evaluations["estimate"]
    hbm, weights = 80e9, 2 * 8_030_261_248
    reserve = 2e9
    assert v["kv_pool_bytes"].to("B").magnitude == pytest.approx(0.9 * hbm - weights - reserve, rel=1e-6)
    assert t["kv_pool_bytes"].to("B").magnitude == pytest.approx(0.9 * (hbm - weights - reserve), rel=1e-6)


def test_an_open_loop_beyond_saturation_is_overloaded(cli):
    r = serve("llama-3.1-8b", "h100", 1000, 1000, rate=1e4)
    assert r.overloaded("estimate")
    status, _, err = cli("serve", "llama-3.1-8b", "h100", "--input", "1000", "--output", "1000", "--rate", "1e4/s")
    assert status == 2 and "OVERLOADED" in err
    status, out, _ = cli("serve", "llama-3.1-8b", "h100", "--input", "1000", "--output", "1000", "--rate",
                         "1e4/s", "--format", "json")
    d = json.loads(out)
    assert status == 0 and d["serve"]["overloaded"] is True and (d["quantities"].get("itl") or {}).get("value") is None


def test_serve_json_is_the_eval_shape_with_both_modes(cli):
    status, out, _ = cli("serve", "llama-3.3-70b", "h100", "--input", "1024", "--output", "1024",
                         "--concurrency", "64", "--set", "n_chips=8", "--estimate", "--format", "json")
    assert status == 0
    d = json.loads(out)
    assert d["mode"] == "estimate" and d["quantities"]["ttft"]["unit"] == "millisecond"
    for name in ("ttft", "itl", "e2e_latency", "request_throughput", "output_throughput",
                 "output_throughput_per_chip", "output_throughput_per_user", "running_batch"):
        assert math.isfinite(d["quantities"][name]["value"]) and d["bound"]["quantities"][name]["value"] > 0
    assert d["serve"]["engine"] == "vllm" and d["serve"]["binding"] == "workload"
    assert d["quantities"]["itl"]["value"] > d["bound"]["quantities"]["itl"]["value"]
    status, out, _ = cli("serve", "llama-3.3-70b", "h100", "--input", "1024", "--output", "1024",
                         "--concurrency", "64", "--set", "n_chips=8")
    assert status == 0 and "bound" in out and "estimate" in out and "binding cap" in out


@pytest.mark.parametrize("argv, says", [
    (["--input", "0", "--output", "10", "--concurrency", "1"], "--input '0'"),
    (["--input", "-5", "--output", "10", "--concurrency", "1"], "--input '-5'"),
    (["--input", "10", "--output", "0", "--concurrency", "1"], "--output '0'"),
    (["--input", "10", "--output", "10", "--concurrency", "0"], "--concurrency '0'"),
    (["--input", "10", "--output", "10", "--concurrency", "2.5"], "whole number"),
    (["--input", "10", "--output", "10", "--rate", "10/fortnight"], "--rate '10/fortnight'"),
    (["--input", "10", "--output", "10", "--rate=-1/s"], "above 0"),
    (["--input", "10", "--output", "10", "--concurrency", "1", "--engine", "tgi"], "tgi"),
    (["--input", "10", "--output", "10", "--concurrency", "1", "--set", "kv_memory_fraction=0"],
     "kv_memory_fraction"),
    (["--input", "10", "--output", "10", "--concurrency", "1", "--set", "kv_memory_fraction=1.5"],
     "kv_memory_fraction"),
    (["--input", "10", "--output", "10", "--concurrency", "1", "--set", "n_chips=8",
      "--set", "attention_data_parallel=3"], "attention_data_parallel"),
    (["--input", "1e6", "--output", "10", "--concurrency", "1", "--set", "n_chips=1"], "cannot hold one request"),
])
def test_bad_serve_input_is_one_line(cli, argv, says):
    status, out, err = cli("serve", "llama-3.1-8b", "h100", *argv)
    assert status == 2 and says in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_a_profile_with_unknown_keys_or_wrong_units_is_refused(tmp_path):
    text = (profiles.folder() / "vllm.toml").read_text()
    bad = tmp_path / "mine.toml"
    bad.write_text(text.replace("[values]", '[values]\nmax_num_seq = { value = "8 sequence", source = "me" }'))
    with pytest.raises(SymroofError, match="max_num_seq"):
        profiles.load(str(bad), None)
    bad.write_text(re.sub(r'step_overhead = \{ value = "[^"]*"', 'step_overhead = { value = "3 GB"', text))
    with pytest.raises(SymroofError, match="step_overhead"):
        profiles.load(str(bad), None)


def test_serve_sweeps_over_concurrency(cli):
    status, out, _ = cli("sweep", "llama-3.1-8b", "h100", "--vary", "concurrency=1,16,256", "--engine", "vllm",
                         "--estimate", "--quantities", "itl,ttft,output_throughput_per_chip",
                         "--set", "input_length=1000", "--set", "output_length=500")
    assert status == 0
    rows = [line.split(",") for line in out.strip().splitlines()[1:]]
    assert len(rows) == 3


def test_moe_serving_uses_attention_data_parallel_and_fp8():
    r = serve("deepseek-v3", "h200", 1000, 1000, concurrency=64,
              overrides={"n_chips": 8, "attention_data_parallel": 8, "expert_parallel": 8})
    ev = r.evaluations["estimate"]
    assert ev.magnitude("weight_dtype") == "fp8" and ev.magnitude("attention_data_parallel") == 8
    # each chip's attention group is itself: the MLA latent is stored once, not once per tensor-parallel chip
    assert ev.magnitude("kv_replication") == 1
    tp = serve("deepseek-v3", "h200", 1000, 1000, concurrency=64, overrides={"n_chips": 8}).evaluations["estimate"]
    assert tp.magnitude("kv_replication") == 8 and tp.magnitude("kv_pool_sequences") < ev.magnitude(
        "kv_pool_sequences")


def test_plot_serving_draws_and_refuses_bad_lengths(cli, tmp_path):
    out = tmp_path / "serving.png"
    status, _, err = cli("plot", "serving", "llama-3.1-8b", "h100", "--input", "1000", "--osl", "500", "-o", str(out))
    assert status == 0 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", err
    status, _, err = cli("plot", "serving", "llama-3.1-8b", "h100", "--input", "0", "-o", str(tmp_path / "x.png"))
    assert status == 2 and "--input '0'" in err and not (tmp_path / "x.png").exists()
