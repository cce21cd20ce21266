"""Sweep speed: symroof against hand-written numpy and naive sympy.subs, in one run.

    python benchmarks/sweep_benchmark.py [--points N]

Step time and tokens/s/chip of LLaMA 3-70B on a TPU v5e 4x4 (the seed's
figure: int8 weights, bf16 FLOPs) over a grid of batch sizes x context
lengths. symroof's time includes compiling the sweep (opening the formulas,
common subexpressions, code generation) in this process. A report, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy

import symroof
from symroof.sweep import compile_sweep, sweep

MODEL, CHIP = "llama-3-70b", "tpu-v5e"
SETTINGS = {"n_chips": 16, "weight_dtype": "int8", "kv_dtype": "int8", "hbm_bandwidth": "8.2e11 byte/s"}


def hand_written(batch: numpy.ndarray, context: numpy.ndarray) -> tuple[numpy.ndarray, numpy.ndarray]:
    """The seed's figure code, corrected: exact parameter count, per-point batch and context, seconds."""
    num_chips = 16
    param_count = 70_553_706_496
    param_size = 1 * param_count  # int8 weights
    hbm_bandwidth = 8.2e11
    flops = 1.97e14
    kv_sizes = 2 * 128 * 8 * 80 * batch * context  # int8 KV: 2 K H L bytes per token
    kv_comms_time = kv_sizes / (num_chips * hbm_bandwidth)
    param_comms_time = param_size / (num_chips * hbm_bandwidth)
    flops_time = 2 * param_count * batch / (num_chips * flops)
    latency = kv_comms_time + numpy.maximum(flops_time, param_comms_time)
    return latency, batch / (latency * num_chips)


MOE, MOE_CHIP = "deepseek-v3", "h200"
MOE_SETTINGS = {"n_chips": 8, "weight_dtype": "fp8", "kv_dtype": "fp8"}


def hand_written_moe(batch: numpy.ndarray, context: numpy.ndarray) -> numpy.ndarray:
    """DeepSeek-V3 in fp8 on 8 H200s, by hand: MLA latent KV, and a step loads only the experts it touches."""
    chips, bandwidth, flops = 8, 4.8e12, 1.979e15
    # from config.json: per layer MLA attention 187,107,328 + 2 norms 14,336 (x 61); 3 dense MLPs of 3 x 7168 x
    # 18432; 58 MoE layers of 257 experts of 3 x 7168 x 2048 and a 7168 x 256 router; 2 x 129280 x 7168 + 7168
    attention = 61 * (7168 * 1536 + 1536 + 1536 * 128 * 192 + 7168 * 576 + 512 + 512 * 128 * 256 + 128 * 128 * 7168
                      + 2 * 7168)
    dense, expert, router = 3 * 3 * 7168 * 18432, 3 * 7168 * 2048, 7168 * 256
    embeddings = 2 * 129280 * 7168 + 7168
    total = attention + dense + 58 * (257 * expert + router) + embeddings
    active = attention + dense + 58 * (9 * expert + router) + embeddings
    routed = 58 * 256 * expert
    kv = 61 * (512 + 64) * 1 * batch * context  # latent + rotary key, per layer, fp8
    miss = (1 - 8 / 256) ** batch  # chance a routed expert is untouched by the batch's tokens
    weights = (total - routed * miss) * 1.0
    return kv / (chips * bandwidth) + numpy.maximum(2 * active * batch / (chips * flops), weights / (chips * bandwidth))


def timed(fn, repeat: int = 5):
    """(result, median seconds of ``repeat`` runs, peak bytes of one more run under tracemalloc)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    elapsed = statistics.median(times)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, elapsed, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    args = parser.parse_args()
    side = int(round(args.points ** 0.5))
    batches = numpy.arange(1.0, side + 1)
    contexts = numpy.linspace(128.0, 131072.0, side)
    b, c = (g.ravel() for g in numpy.meshgrid(batches, contexts, indexing="ij"))
    n = b.size

    (hand_step, hand_tps), t_hand, m_hand = timed(lambda: hand_written(b, c))

    def run_symroof():
        compiled = compile_sweep(MODEL, CHIP, ("batch_size", "context_length"),
                                 ("step_time", "tokens_per_second_per_chip"), SETTINGS)
        return compiled(batch_size=b, context_length=c)

    out, t_first, _ = timed(run_symroof, repeat=1)  # the first compile in this process (sympy's caches cold)
    assert numpy.allclose(out["step_time"], hand_step, rtol=1e-12)
    assert numpy.allclose(out["tokens_per_second_per_chip"], hand_tps, rtol=1e-12)
    _, t_sym, m_sym = timed(run_symroof)  # every run compiles the sweep again

    frame, t_frame, m_frame = timed(lambda: sweep(MODEL, CHIP, {"batch_size": batches, "context_length": contexts},
                                                  SETTINGS, quantities=("step_time", "tokens_per_second_per_chip")))
    assert len(frame) == n and numpy.allclose(frame["step_time"].to_numpy(), hand_step.reshape(-1) * 1e3)

    from symroof.derive.lower import opened as open_down

    ev = symroof.evaluate(MODEL, CHIP, SETTINGS)
    structure = {k: ev.base[k] for k in ("attention", "mlp")}
    from symroof.derive.lower import resolve

    opened = resolve(open_down(symroof.formula("step_time")), {**structure, "weight_dtype": "int8",
                                                                "kv_dtype": "int8", "compute_dtype": "bf16"})
    fixed = {s: ev.base[s.name] for s in opened.free_symbols if s.name not in ("batch_size", "context_length")}
    bs, cs = symroof.symbol("batch_size"), symroof.symbol("context_length")
    sample = 200

    def run_subs():
        return [float(opened.subs({**fixed, bs: b[i], cs: c[i]})) for i in range(sample)]

    subs_values, t_subs, _ = timed(run_subs, repeat=1)
    assert numpy.allclose(subs_values, hand_step[:sample], rtol=1e-12)
    t_subs_all = t_subs / sample * n

    print(f"{n:,} points (batch 1..{side} x {side} context lengths), step time and tokens/s/chip; "
          "medians of 5 runs")
    print(f"  hand-written numpy          {t_hand * 1e3:9.1f} ms   peak {m_hand / 2**20:7.1f} MiB   1.00x")
    print(f"  symroof compile + evaluate  {t_sym * 1e3:9.1f} ms   peak {m_sym / 2**20:7.1f} MiB   "
          f"{t_sym / t_hand:.2f}x")
    print(f"  the same, first in process  {t_first * 1e3:9.1f} ms                      {t_first / t_hand:.2f}x")
    print(f"  symroof sweep() DataFrame   {t_frame * 1e3:9.1f} ms   peak {m_frame / 2**20:7.1f} MiB   "
          f"{t_frame / t_hand:.2f}x")
    print(f"  naive sympy.subs            {t_subs_all:9.1f} s    (from {sample} points)          "
          f"{t_subs_all / t_hand:,.0f}x")

    # a mixture-of-experts model over the same grid: the step's weight bytes grow with the batch (q^B)
    def run_moe():
        compiled = compile_sweep(MOE, MOE_CHIP, ("batch_size", "context_length"),
                                 ("step_time", "tokens_per_second_per_chip"), MOE_SETTINGS)
        return compiled(batch_size=b, context_length=c)

    moe, t_moe, m_moe = timed(run_moe)
    moe_hand, t_moe_hand, _ = timed(lambda: hand_written_moe(b, c))
    assert numpy.allclose(moe["step_time"], moe_hand, rtol=1e-12, atol=0)
    print(f"  MoE ({MOE} on {MOE_CHIP}), same grid:")
    print(f"    hand-written numpy        {t_moe_hand * 1e3:9.1f} ms                      1.00x")
    print(f"    symroof compile + evaluate{t_moe * 1e3:9.1f} ms   peak {m_moe / 2**20:7.1f} MiB   "
          f"{t_moe / t_moe_hand:.2f}x  (dense sweep above: {t_sym / t_hand:.2f}x; MoE/dense time "
          f"{t_moe / t_sym:.2f})")


if __name__ == "__main__":
    main()
