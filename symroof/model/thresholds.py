"""Thresholds, solved in closed form from the formulas they come from.

Seed: "Thinking about throughput" (critical batch size), the sharding question
(maximum useful model parallelism), the third worked problem (a latency
target), the latency breakdown's closing remark (when KV loading dominates),
and the disaggregated-serving question (prefill:generate ratio).
"""

from __future__ import annotations

import sympy

from ..declare import Group, one, rewrite
from .communication import (
    scale_up_collective,
    step_time_comm_fixed,
    step_time_comm_per_sequence,
    tp_allreduce_bytes,
)
from .decode import (
    decode_time,
    expected_experts_touched,
    step_time,
    step_time_flops,
    step_time_kv,
    step_time_params,
    step_time_params_spread,
)
from .inputs import (
    batch_size,
    context_length,
    expert_bytes_per_param,
    expert_parallel,
    expert_saturation,
    hbm_bandwidth,
    mlp,
    n_chips,
    n_experts,
    n_experts_per_token,
    n_layers,
    prefill_servers,
    scale_up_topology,
    target_step_time,
    weight_stream_efficiency,
)
from .memory import expert_params
from .parallelism import matmul_time_hbm, matmul_time_ici, matmul_time_math
from .prefill import prefill_time

GROUP = Group("thresholds", "Thresholds")

prefill_rate = GROUP.derived(
    "prefill_rate", r"R_{P}", "sequence/s", "Sequences the prefill servers of one generate server prefill per second.",
    "seed: What about prefill?, disaggregated serving", prefill_servers * one("sequence") / prefill_time)
generate_rate = GROUP.derived(
    "generate_rate", r"R_{G}", "sequence/s", "Sequences one generate server finishes per second.",
    "seed: What about prefill?, disaggregated serving", batch_size / decode_time)

critical_batch_size = GROUP.solved(
    "critical_batch_size", "B^{*}", "sequence",
    "Batch at which decode matmuls turn compute-bound: FLOPs time equals parameter-load time.",
    "seed: Thinking about throughput, Q: batch for compute-bound matmuls (240 / 120 / 240)",
    sympy.Eq(step_time_flops, step_time_params_spread), batch_size,
    regime="below it parameter loading bounds the MLP (memory-bound); above it FLOPs do. MoE: the weights a step "
           "loads grow with the batch until every expert is touched (a LambertW root). Per pipeline stage: "
           "under PP stages each works on a micro-batch, so a replica turns compute-bound at PP times this",
    label="Critical batch (compute-bound above it)", per=mlp)
experts_saturation_batch_size = GROUP.solved(
    "experts_saturation_batch_size", r"B_{E}", "sequence",
    "Batch at which a decode step touches the saturation share (90%) of each MoE layer's experts.",
    "issue 11: E (1 - (1 - k/E)^B) = 0.9 E",
    sympy.Eq(expected_experts_touched, expert_saturation * n_experts), batch_size, per=mlp,
    otherwise={"dense": 1 * one("sequence")},
    regime="uniform routing; a dense model touches its one MLP at any batch")
max_model_parallelism = GROUP.solved(
    "max_model_parallelism", "Y^{*}", "chip",
    "Largest model-parallel degree before a matmul's ICI time exceeds its FLOPs time.",
    "seed: Serving analysis, Q: ICI bound Y > F M_Y / 2200 (about 26 on v5e, 2 axes)",
    sympy.Eq(matmul_time_math, matmul_time_ici), n_chips,
    regime="compute-bound matmuls (batch at or above critical_batch_size)")
max_model_parallelism_small_batch = GROUP.solved(
    "max_model_parallelism_small_batch", r"Y^{*}_{\text{small }B}", "chip",
    "Largest model-parallel degree before a matmul's ICI time exceeds its weight-load time.",
    "seed: sharding question, Y = F / (8 B) = 56 at batch 64",
    sympy.Eq(matmul_time_hbm, matmul_time_ici), n_chips,
    regime="memory-bound matmuls (batch below critical_batch_size)")
batch_size_for_step_time = GROUP.solved(
    "batch_size_for_step_time", r"B_{T}", "sequence",
    "Largest batch whose decode step meets the latency target (unrounded).",
    "seed: worked problem 3 (15 ms / token)",
    sympy.Eq(step_time, target_step_time), batch_size, combine="min",
    regime="exact in both regimes: step_time grows with batch_size, so the root is the smaller regime root; "
           "0 when even the parameter load misses the target",
    post=lambda root: sympy.Max(0, root))
chips_for_step_time = GROUP.solved(
    "chips_for_step_time", r"Y_{T}", "chip",
    "Fewest whole chips whose parameter load alone meets the latency target.",
    "seed: worked problem 3; takeaway: parameter load bounds decode latency from below",
    sympy.Eq(step_time_params_spread, target_step_time), n_chips,
    regime="a lower bound: ignores KV loading and FLOPs time; every chip tensor-parallel (pipeline stages add "
           "no bandwidth to a token's path)",
    post=lambda root: sympy.ceiling(root / one("chip")) * one("chip"))
kv_dominance_context_length = GROUP.solved(
    "kv_dominance_context_length", r"S_{\text{KV}>\text{param}}", "token/sequence",
    "Context length beyond which loading the batch's KV costs more than loading the parameters.",
    "seed: latency breakdown, KV loading dominates at long context",
    sympy.Eq(step_time_kv, step_time_params), context_length, combine="max",
    regime="at the given batch size; with sliding-window layers, the larger regime root (their KV stops growing)")
kv_flops_crossover_context_length = GROUP.solved(
    "kv_flops_crossover_context_length", r"S_{\text{KV}>\text{FLOPs}}", "token/sequence",
    "Context length beyond which KV loading takes longer than the FLOPs, at any batch.",
    "seed: latency breakdown, 'at every sequence length above 2048 KV loading costs more than FLOPs'",
    sympy.Eq(step_time_kv, step_time_flops), context_length, combine="max",
    regime="any batch size (the batch cancels); with sliding-window layers, the larger regime root")
prefill_to_generate_ratio = GROUP.solved(
    "prefill_to_generate_ratio", r"P{:}G", "",
    "Prefill servers per generate server that keep both saturated.",
    "seed: What about prefill?, Q: prefill:generate ratio (about 3)",
    sympy.Eq(prefill_rate, generate_rate), prefill_servers,
    regime="steady state: sequences prefilled per second equal sequences finished per second")

# --- communication (issue 12): each collective against what it shares a step with ---
_Y = n_chips / one("chip")
_tp_allreduce = scale_up_collective("all_reduce", _Y, tp_allreduce_bytes)
max_tensor_parallel = GROUP.solved(
    "max_tensor_parallel", r"\text{TP}^{*}", "chip",
    "Largest tensor-parallel degree before a layer's two all-reduces take longer than loading its weights "
    "(pure tensor parallelism within the scale-up domain).",
    "issue 12: generalises the seed's sharding question to the alpha-beta all-reduce",
    sympy.Eq(2 * _tp_allreduce, step_time_params_spread / n_layers), n_chips, per=scale_up_topology, largest=True,
    otherwise={"torus": max_model_parallelism_small_batch},
    regime="the all-reduce grows with the chips (its latency steps, its bytes' share) while each chip's weights "
           "shrink; within the scale-up domain. A torus takes the seed's own ICI threshold "
           "(max_model_parallelism_small_batch): its latency grows as a root of the chips, with no closed form",
    label="Largest tensor-parallel degree (all-reduce < weight load)")
comm_latency_bound_batch_size = GROUP.solved(
    "comm_latency_bound_batch_size", r"B_{\alpha}", "sequence",
    "Batch below which a decode step's collectives are latency-bound: their fixed (alpha) part exceeds their "
    "bandwidth (beta) part.", "issue 12: alpha-beta model, alpha term = beta term",
    sympy.Eq(step_time_comm_fixed, batch_size * step_time_comm_per_sequence), batch_size,
    regime="every collective of the step at once; not finite on one chip (nothing to send)",
    label="Batch where collectives turn bandwidth-bound")
moe_layer_expert_load_time = GROUP.derived(
    "moe_layer_expert_load_time", r"T_{\text{experts}}", "us", "Time to load the experts one decode step touches "
    "in one MoE layer, spread over the replica's chips.", "issue 12: the expert weight-load an all-to-all shares",
    expected_experts_touched * expert_params * expert_bytes_per_param
    / (n_chips * hbm_bandwidth * weight_stream_efficiency))
_EP = expert_parallel
_dispatch = scale_up_collective("all_to_all", _EP, tp_allreduce_bytes * n_experts_per_token / _EP)
max_expert_parallel = GROUP.solved(
    "max_expert_parallel", r"\text{EP}^{*}", "",
    "Largest expert-parallel degree (one chip per expert-parallel rank) before an MoE layer's two all-to-alls "
    "take longer than loading the experts it touches.", "issue 12: all-to-all time = expert weight-load time",
    sympy.Eq(2 * _dispatch, rewrite.at(moe_layer_expert_load_time, {n_chips: _EP * one("chip")})), expert_parallel,
    per=scale_up_topology, largest=True, otherwise={"torus": sympy.nan},
    post=lambda root: sympy.Min(root, n_experts),  # no more ranks than experts (a dense model: its one MLP)
    regime="pure expert parallelism (n_chips = expert_parallel) within the scale-up domain: the all-to-all's "
           "latency stays while each chip's share of the experts shrinks; at most the experts per layer. "
           "Not derived for a torus (latency grows as a root of the group)",
    label="Largest expert-parallel degree (all-to-all < expert load)")
