"""Decode: the step time roofline and the throughput it gives.

Seed: "Serving analysis", the step-time question: step time = KV load +
max(FLOPs time, parameter load), each term over all chips.
"""

from __future__ import annotations

from sympy import Max

from ..declare import Group, one
from .communication import attention_data_parallel, comm_exposed, pipeline_stages, step_time_comm
from .inputs import (
    attention_latency,
    batch_size,
    chip_flops,
    decode_flops_efficiency,
    decode_length,
    expert_bytes_per_param,
    hbm_bandwidth,
    kv_stream_efficiency,
    mlp,
    n_chips,
    n_experts,
    n_experts_per_token,
    n_layers,
    step_overhead,
    weight_bytes_per_param,
    weight_stream_efficiency,
)
from .memory import active_param_count, kv_cache_bytes, max_batch_size, param_bytes, param_count, routed_expert_params

GROUP = Group("decode", "Decode", requires=("fits_in_hbm",))
Q_STEP = "seed: Serving analysis, Q: decode step latency on 4x2"
Q_LAT = "seed: Thinking about throughput, Q: latency at the largest batch"

flops_per_param_token = GROUP.constant(
    "flops_per_param_token", "2", 2, "FLOP/parameter/token",
    "A forward pass multiplies and adds once per parameter per token.",
    "seed: Serving analysis (2 * params * B FLOPs per step)")

decode_tokens_per_step = GROUP.derived(
    "decode_tokens_per_step", r"B_{\text{tok}}", "token", "Tokens one decode step emits: one per sequence.",
    Q_STEP, batch_size * one("token/sequence"), requires=())
step_flops = GROUP.derived(
    "step_flops", r"F_{\text{step}}", "FLOP", "FLOPs of one decode step (2 per active parameter per token).",
    Q_STEP, flops_per_param_token * active_param_count * decode_tokens_per_step, requires=())
Q_MOE = "issue 11: B tokens each choosing k of E experts, uniformly and independently"
expert_miss_probability = GROUP.derived(
    "expert_miss_probability", "q_E", "", "Chance that one token does not route to a given expert: 1 - k/E.", Q_MOE,
    1 - n_experts_per_token / n_experts, requires=())
expected_experts_touched = GROUP.derived(
    "expected_experts_touched", r"\bar{E}_{\text{step}}", "",
    "Distinct routed experts one decode step touches per MoE layer: E (1 - (1 - k/E)^B).", Q_MOE,
    n_experts * (1 - expert_miss_probability ** (decode_tokens_per_step / one("token"))), requires=())
step_param_bytes = GROUP.derived(
    "step_param_bytes", r"M_{\text{param}}^{\text{step}}", "GB",
    "Weight bytes one decode step loads: every weight of a dense model; an MoE step skips the experts no token "
    "chose. With attention data parallelism each attention group loads its own copy of the non-expert weights.",
    Q_MOE + "; issue 28 (attention data parallelism, as the engine step)",
    GROUP.select(mlp, {"dense": attention_data_parallel * param_bytes,  # each attention group holds its copy
                       # an untouched routed expert is skipped with probability q^B
                       "moe": attention_data_parallel * (param_count - routed_expert_params) * weight_bytes_per_param
                       + routed_expert_params * expert_bytes_per_param
                       * (1 - expert_miss_probability ** (decode_tokens_per_step / one("token")))}),
    requires=(), label="Weights loaded per decode step")
step_time_kv = GROUP.derived(
    "step_time_kv", r"T_{\text{KV}}", "ms", "Time to load the batch's KV cache from HBM (always memory-bound).",
    Q_STEP, kv_cache_bytes / (n_chips * hbm_bandwidth * kv_stream_efficiency))
step_time_flops = GROUP.derived(
    "step_time_flops", r"T_{\text{FLOPs}}", "ms", "Time for the step's matmul FLOPs at peak.", Q_STEP,
    step_flops / (n_chips * chip_flops * decode_flops_efficiency))
step_time_params_spread = GROUP.derived(
    "step_time_params_spread", r"T_{\text{param}}^{Y}", "ms", "Time to load the step's weights from HBM once "
    "with every chip of the replica loading its share at the same time (the chapter's pure model parallelism).",
    Q_STEP, step_param_bytes / (n_chips * hbm_bandwidth * weight_stream_efficiency))
step_time_params = GROUP.derived(
    "step_time_params", r"T_{\text{param}}", "ms", "Time to load the step's weights from HBM once, on a token's "
    "path: each pipeline stage loads its share on its own chips, one stage after another (the stages work on "
    "other micro-batches meanwhile, so FLOPs and KV still spread over every chip).", Q_STEP,
    pipeline_stages * step_time_params_spread)
step_time_overhead = GROUP.derived(
    "step_time_overhead", r"T_{\text{fixed}}", "ms", "Fixed time of a decode step: every layer's attention latency "
    "plus the engine's per-step overhead (0 in bound mode).", "estimate mode",
    n_layers * attention_latency + step_overhead, requires=())
step_time = GROUP.derived(
    "step_time", r"T_{\text{step}}", "ms", "Decode step time: KV load plus the larger of FLOPs and parameter load "
    "(in estimate mode also fixed overheads and the communication not hidden behind compute).",
    Q_STEP, step_time_kv + Max(step_time_flops, step_time_params) + step_time_overhead
    + comm_exposed * step_time_comm,
    label="Time per decode step (per output token)")
tokens_per_second = GROUP.derived(
    "tokens_per_second", r"\text{TPS}", "token/s", "Tokens the whole slice emits per second.", Q_STEP,
    decode_tokens_per_step / step_time, label="Output tokens per second (one replica)")
tokens_per_second_per_chip = GROUP.derived(
    "tokens_per_second_per_chip", r"\text{TPS}_{\text{chip}}", "token/s/chip", "Tokens per second per chip.",
    Q_STEP, tokens_per_second / n_chips, label="Output tokens per second per chip")
decode_time = GROUP.derived(
    "decode_time", r"T_{\text{decode}}", "s", "Time to generate a whole sequence at this step time.", Q_LAT,
    step_time * decode_length / one("token/sequence"))
qps_per_chip = GROUP.derived(
    "qps_per_chip", r"\text{QPS}_{\text{chip}}", "sequence/s/chip",
    "Sequences finished per second per chip for the decode length.",
    "seed: Thinking about throughput, Q: queries per chip", batch_size / (decode_time * n_chips))
step_time_at_max_batch = GROUP.at(
    "step_time_at_max_batch", r"T_{\text{step}}(B_{\max})", "ms",
    "Step time with the largest batch that fits in HBM.", Q_LAT, step_time, {batch_size: max_batch_size},
    requires=())
attention_kernel_time = GROUP.derived(
    "attention_kernel_time", r"T_{\text{attn kernel}}", "us",
    "Time of one layer's decode attention kernel: its latency plus reading that layer's share of the KV cache.",
    "measurement README: attention.csv (one query token per sequence, GQA)",
    attention_latency + step_time_kv / n_layers, requires=())
