"""Issue 30, item 3: the step where the error lives, each term against a hand computation from its source.

Expected values come from published configs, datasheets and kernel tables (cited where used), never from the
formula under test.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import tomllib

from symroof import calibration, profiles
from symroof.serve import serve

SHIPPED = Path(calibration.shipped_folder())
H100_BF16, H100_FP8 = 989e12, 1979e12  # NVIDIA H100 SXM datasheet: dense bf16 and fp8 FLOP/s
# LLaMA 3.1 8B config.json: 32 layers, 32 heads of 128
LLAMA_8B_LAYERS, LLAMA_8B_HEADS, LLAMA_8B_HEAD = 32, 32, 128
# DeepGEMM README @327ec92f6977e7fee022cb76a8f273b75483c3d8, H800 SXM5, FP8: (M per group, N, K) -> TFLOPS, and the
# dense GEMM of 4096 rows with the same N and K
DEEPGEMM_DENSE = {(4096, 7168): 1410, (7168, 2048): 1168}
DEEPGEMM_GROUPED = [
    (8192, 4096, 7168, 1346),
    (8192, 7168, 2048, 1214),
    (4096, 4096, 7168, 1346),
    (4096, 7168, 2048, 1214),
    (1024, 4096, 7168, 1233),
    (1024, 7168, 2048, 925),
    (512, 4096, 7168, 1040),
    (512, 7168, 2048, 916),
    (256, 4096, 7168, 932),
    (256, 7168, 2048, 815),
]


def _h100_prefill_mfu() -> float:
    return tomllib.loads((SHIPPED / "h100.toml").read_text())["values"]["prefill_mfu"]["value"]


def _fp8_8b(isl=8192, **overrides):
    return serve(
        "llama-3.1-8b",
        "h100",
        isl,
        64,
        concurrency=1,
        overrides={"weight_dtype": "fp8", "compute_dtype": "fp8", **overrides},
    )


def test_an_fp8_model_prices_attention_at_the_bf16_rate_in_the_estimate():
    """FP8 matmuls, bf16 KV: the estimate's attention runs at the bf16 peak x the prefill efficiency (FlashAttention
    and FlashInfer compute attention in bf16), the bound's at the FP8 peak (the physical limit)."""
    isl = 8192
    r = _fp8_8b(isl)
    assert r.magnitude("attention_chip_flops", mode="estimate") == pytest.approx(H100_BF16)
    assert r.magnitude("attention_chip_flops", mode="bound") == pytest.approx(H100_FP8)
    # causal prefill: 2 FLOPs x (QK and PV) x heads x head width x layers x T^2 / 2, per prompt token
    per_token = 2 * LLAMA_8B_HEADS * 2 * LLAMA_8B_HEAD * LLAMA_8B_LAYERS * isl**2 / 2 / isl
    estimate_us = per_token / (H100_BF16 * _h100_prefill_mfu()) * 1e6
    bound_us = per_token / H100_FP8 * 1e6
    assert r.magnitude("serve_time_per_prefill_token", mode="estimate") == pytest.approx(estimate_us, rel=1e-6)
    assert r.magnitude("serve_time_per_prefill_token", mode="bound") == pytest.approx(bound_us, rel=1e-6)


def test_an_fp8_kernel_on_an_fp8_kv_cache_runs_attention_at_the_fp8_rate():
    """Where the KV cache is FP8 and the engine's kernel computes in FP8 (vLLM's FlashAttention backend, the default
    engine), attention runs at the FP8 peak; an FP8 KV cache under a bf16 kernel stays at bf16."""
    assert _fp8_8b(kv_dtype="fp8").magnitude("attention_chip_flops", mode="estimate") == pytest.approx(H100_FP8)
    assert _fp8_8b(kv_dtype="fp8", attention_fp8=0).magnitude("attention_chip_flops", mode="estimate") == pytest.approx(
        H100_BF16
    )


def test_the_seeds_prefill_time_is_unchanged_in_bound_mode():
    """The chapter's bf16 answers: prefill at the matmul rate, attention FLOPs not counted."""
    r = serve("llama-3.1-8b", "h100", 8192, 64, concurrency=1)
    assert r.magnitude("attention_chip_flops", mode="bound") == pytest.approx(H100_BF16)


def test_grouped_gemm_half_tokens_is_the_fit_of_deepgemms_table():
    """m_half fitted by least squares on log(grouped / dense TFLOPS) = log(m / (m + m_half)) over the README's
    grouped rows (a grid of whole tokens): the declared default."""

    def loss(h):
        return sum(
            (math.log(t / DEEPGEMM_DENSE[(n, k)]) - math.log(m / (m + h))) ** 2 for m, n, k, t in DEEPGEMM_GROUPED
        )

    best = min(range(1, 2000), key=loss)
    r = serve("qwen3-30b-a3b", "h100", 2048, 64, concurrency=1)
    assert r.magnitude("grouped_gemm_half_tokens", mode="estimate") == best
    assert r.magnitude("grouped_gemm_half_tokens", mode="bound") == 0


def test_moe_prefill_grouped_gemms_run_below_dense_efficiency_by_tokens_per_expert():
    """Qwen3-30B-A3B (config.json: 48 layers, 128 experts, 8 per token, hidden 2048, expert intermediate 768):
    a 2048-token chunk gives each expert 2048 x 8 / 128 = 128 tokens, so its routed GEMMs run at 128 / (128 + m_half)
    of the dense rate; the matmul time per token grows by routed x m_half / 128 over the active parameters."""
    isl, half = 2048, 136
    r = serve("qwen3-30b-a3b", "h100", isl, 64, concurrency=1)
    dense = serve("qwen3-30b-a3b", "h100", isl, 64, concurrency=1, overrides={"grouped_gemm_half_tokens": 0})
    m = isl * 8 / 128
    assert r.magnitude("prefill_tokens_per_expert", mode="estimate") == pytest.approx(m)
    routed = 48 * 8 * 3 * 2048 * 768
    active = r.magnitude("serve_flop_params", mode="estimate")  # parameters a token's matmuls use
    ratio = r.magnitude("serve_prefill_matmul_time", mode="estimate") / dense.magnitude(
        "serve_prefill_matmul_time", mode="estimate"
    )
    assert ratio == pytest.approx(1 + routed * half / m / active, rel=1e-6)
    assert r.magnitude("serve_prefill_matmul_time", mode="bound") == pytest.approx(
        dense.magnitude("serve_prefill_matmul_time", mode="bound")
    )


def test_a_mixed_step_reads_the_experts_of_its_own_tokens():
    """A closed loop of DeepSeek-V3 (256 experts, 8 per token): the steps carrying a prompt chunk read the experts
    of their decodes and the chunk, the others those of their decodes alone, 1 - (1 - k/E)^T each; the mean over
    the steps is below the experts of the mean token count (a step's share is concave in its tokens)."""
    r = serve("deepseek-v3", "h200", 2048, 256, concurrency=32, engine="vllm", overrides={"n_chips": 8})
    e = "estimate"

    def share(tokens):
        return 1 - (1 - 8 / 256) ** tokens

    decode = r.magnitude("serve_first_decode_batch", mode=e)
    prompt = r.magnitude("serve_tokens_per_step", mode=e) - decode
    chunk = max(r.magnitude("prefill_chunk_tokens", mode=e), prompt)  # the prompt fits one chunk here
    carrying = prompt / chunk
    expected = carrying * share(decode + chunk) + (1 - carrying) * share(decode)
    assert 0 < carrying < 1
    assert r.magnitude("serve_experts_loaded", mode=e) == pytest.approx(expected, rel=1e-9)
    assert expected < share(decode + prompt)


def test_where_prefill_runs_in_steps_of_its_own_a_decode_step_reads_its_decodes_experts():
    """SGLang runs prefill chunks as steps of their own (prefill_separate): its decode steps carry no prompt tokens,
    so they read 1 - (1 - k/E)^B of DeepSeek-V3's experts (256, 8 per token) for their B decodes."""
    r = serve("deepseek-v3", "h200", 2048, 256, concurrency=32, engine="sglang", overrides={"n_chips": 8})
    decode = r.magnitude("serve_first_decode_batch", mode="estimate")
    assert r.magnitude("prefill_separate", mode="estimate") == 1
    assert r.magnitude("serve_experts_loaded", mode="estimate") == pytest.approx(1 - (1 - 8 / 256) ** decode, rel=1e-9)


def test_cpu_time_per_sequence_is_divided_across_attention_groups_that_schedule_apart():
    """DeepSeek-V3 on 8 H200s with 8 attention-data-parallel groups under TensorRT-LLM (40 us per sequence): each
    group's scheduler spends its own share, 40 / 8 = 5 us per sequence, not 40."""
    layout = {"n_chips": 8, "attention_data_parallel": 8, "expert_parallel": 8}
    apart, one = (
        serve(
            "deepseek-v3",
            "h200",
            1024,
            1024,
            concurrency=256,
            engine="trtllm",
            overrides={**layout, "attention_groups_schedule_apart": x, "engine_request_overhead": "40 us/sequence"},
        )
        for x in (1, 0)
    )
    per_sequence = 40  # set above: the shipped profile's own fit may be 0
    delta = one.magnitude("serve_time_per_sequence", mode="estimate") - apart.magnitude(
        "serve_time_per_sequence", mode="estimate"
    )
    assert delta == pytest.approx(per_sequence * (1 - 1 / 8), rel=1e-9)
    assert apart.magnitude("serve_time_per_sequence", mode="bound") == one.magnitude(
        "serve_time_per_sequence", mode="bound"
    )


def test_trtllm_bench_has_its_own_defaults_and_cpu_times():
    """trtllm-bench: KV fraction 0.95 (perf-overview.md), batch cap 4096 and token cap 32768 (bench/build/tuning.py),
    CUDA graphs up to its batch cap; CPU times fitted on its own max-load points, inside the fit's plausible
    ranges (symroof.validation.BOUNDS), as their sources say."""
    from symroof.validation import BOUNDS

    units = {"step_overhead": 1e-3, "engine_request_overhead": 1e-6, "api_overhead": 1e-3}  # GRID's units, in SI
    bench, serve_ = profiles.load("trtllm-bench"), profiles.load("trtllm")
    assert bench.id == "trtllm-bench"
    assert bench.values["kv_memory_fraction"] == pytest.approx(0.95)
    assert bench.values["max_num_seqs"] == 4096
    assert bench.values["max_num_batched_tokens"] == 32768
    assert bench.values["cuda_graph_max_batch"] == bench.values["max_num_seqs"]
    for key, (low, high) in BOUNDS.items():
        assert low * units[key] <= bench.values[key] <= high * units[key] * (1 + 1e-12), key
        assert "trtllm-bench points" in bench.sources[key], key
    assert bench.values["api_overhead"] != serve_.values["api_overhead"]  # fitted apart: trtllm-serve's is 40 ms


@pytest.mark.parametrize("chip", ["b200", "mi300x"])
def test_b200_and_mi300x_state_why_they_are_not_calibrated(chip):
    """No citable kernel benchmark of either chip: the file says so, is marked uncalibrated and holds the generic
    factors (the mean of the measured chips), not a figure fitted on the serving points it is judged by."""
    entry, generic = calibration.for_chip(chip), calibration.for_chip("generic")
    assert entry.id == chip and calibration.uncalibrated(entry)
    assert "no citable kernel benchmark" in (SHIPPED / f"{chip}.toml").read_text()
    assert entry.values == generic.values
