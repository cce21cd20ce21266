"""One engine step, for any batch: what a step costs for the sequences it decodes and the prompt tokens it prefills.

The chapter's decode step (``step_time``: KV load plus the larger of FLOPs and
parameter load) made an engine's: the same terms with the engine's CPU time,
copies of the KV cache, attention FLOPs, draft tokens, expert imbalance, the
prefill chunk a step carries and eager launches above the largest captured
CUDA graph. The step is affine in the decode sequences B and the prefill
tokens P in each of two regimes (weights-bound, FLOPs-bound)::

    t(B, P) = t0 + eager(B) + max(W(T) + beta B + gamma P, (beta + phi) B + (gamma + pi) P)

with W(T) the weights of the experts the step's T tokens touch. The
coefficients are declared here once; ``engine_step_time`` is that step for the
``step_sequences`` and ``step_prefill_tokens`` a caller sets, and the workloads
(``symroof/model/engine.py``) solve their steady state on the same coefficients
in closed form. In bound mode every engine factor is neutral and the step at
no prefill is the chapter's ``step_time`` (tests/test_one_step.py). In estimate mode attention runs at its
kernel's dtype (``attention_chip_flops``), the routed experts' grouped GEMMs of a prefill chunk below dense
efficiency by their tokens per expert, and the CPU time per sequence is spent in parallel by attention groups
that schedule apart (issue 30; tests/test_step_efficiency.py).
"""

from __future__ import annotations

import sympy

from ..declare import Group, one
from .communication import (
    attention_data_parallel,
    comm_exposed,
    moe_layers,
    pipeline_stages,
    step_time_comm_fixed,
    step_time_comm_per_sequence,
    tensor_parallel_size,
)
from .decode import expert_miss_probability, flops_per_param_token, step_time_overhead
from .engine_inputs import (
    attention_groups_schedule_apart,
    cuda_graph_max_batch,
    engine_layer_overhead,
    engine_prefill_mfu,
    engine_request_overhead,
    expert_imbalance,
    grouped_gemm_half_tokens,
    kv_replication_counted,
    max_num_batched_tokens,
    speculative_tokens,
    step_prefill_tokens,
    step_sequences,
)
from .inputs import (
    attention,
    cached_prefix_fraction,
    chip_flops,
    context_length,
    d_head,
    decode_flops_efficiency,
    expert_bytes_per_param,
    hbm_bandwidth,
    input_length,
    kv_lora_rank,
    kv_stream_efficiency,
    mlp,
    n_chips,
    n_experts,
    n_experts_per_token,
    n_heads,
    n_kv_heads,
    n_layers,
    output_length,
    prefill_length,
    qk_rope_head_dim,
    weight_stream_efficiency,
)
from .memory import active_param_count, expert_params, kv_bytes_per_sequence, param_bytes, routed_expert_params
from .prefill import attention_chip_flops, prefill_attention_flops

GROUP = Group("serve", "Serving a workload", requires=("fits_in_hbm",))

# --- what the engine holds ---
_a = attention_data_parallel
_tp_attn = tensor_parallel_size / _a  # chips one attention group splits its heads over
kv_replication = GROUP.derived(
    "kv_replication", r"\rho_{KV}", "", "Copies of each sequence's KV cache the engine stores: an MLA latent is whole "
    "on every chip of its attention group; GQA heads are split until there are more chips than KV heads.",
    "vLLM/SGLang MLA tensor parallelism; DeepSeek-V3 paper (data-parallel attention)",
    1 + kv_replication_counted * (GROUP.select(attention, {
        "gqa": sympy.Max(1, _tp_attn / n_kv_heads), "mla": _tp_attn}) - 1), requires=())
nonexpert_bytes = param_bytes - routed_expert_params * expert_bytes_per_param
weights_stored = GROUP.derived(
    "weights_stored", r"M_{\text{w}}^{\text{stored}}", "GB", "Weights the replica stores: the attention and dense "
    "weights once per attention group, the routed experts once.", "issue 17: attention data parallelism",
    _a * nonexpert_bytes + routed_expert_params * expert_bytes_per_param, requires=())
# --- what a step costs: a fixed part, a part per decode sequence, a part per prefill token ---
STEP = "the chapter's step model, per engine step (issue 17); see symroof/model/engine.py"
_Y = n_chips
_s = 1 + speculative_tokens  # tokens a decode step computes per sequence
_mean_context = input_length + output_length / 2
serve_kv_bytes_per_sequence = GROUP.at(
    "serve_kv_bytes_per_sequence", r"M_{\text{KV}}^{\bar S}", "GB/sequence", "KV cache of a decoding sequence at "
    "its mean context (input plus half the output).", STEP, kv_bytes_per_sequence,
    {context_length: _mean_context}, requires=())
_width = GROUP.select(attention, {"gqa": 2 * d_head, "mla": 2 * kv_lora_rank + qk_rope_head_dim})
serve_attention_time_per_sequence = GROUP.derived(
    "serve_attention_time_per_sequence", r"\tau_{\text{attn}}", "us/sequence", "Decode attention of one sequence "
    "per step: reading its KV (copies included) or its attention FLOPs (an absorbed MLA latent is multiplied by "
    "every head), the larger.", "DeepSeek-V2 paper (absorbed MLA); FlashMLA README (compute-bound decode)",
    sympy.Max(serve_kv_bytes_per_sequence * kv_replication / (_Y * hbm_bandwidth * kv_stream_efficiency),
              flops_per_param_token * one("parameter") * n_heads * _width * n_layers * _mean_context * _s
              / (_Y * attention_chip_flops * decode_flops_efficiency)), requires=())
_routed = GROUP.select(mlp, {"dense": 0 * one("parameter"), "moe": moe_layers * n_experts_per_token * expert_params})
serve_flop_params = GROUP.derived(
    "serve_flop_params", r"N_{\text{active}}^{\iota}", "parameter", "Parameters a token's matmuls use, the routed "
    "experts' counted at the most-loaded expert-parallel rank's share.", STEP,
    active_param_count + (expert_imbalance - 1) * _routed, requires=())
serve_decode_flops_time = GROUP.derived(
    "serve_decode_flops_time", r"\tau_{F}", "us/sequence", "Matmul FLOPs time of one decode sequence per step "
    "(its own token and any draft tokens it verifies).", STEP,
    flops_per_param_token * serve_flop_params * _s * one("token/sequence")
    / (_Y * chip_flops * decode_flops_efficiency), requires=())
serve_prefill_attention_flops = GROUP.at(
    "serve_prefill_attention_flops", r"F_{\text{attn}}^{P}", "FLOP", "Attention FLOPs of one request's prefill.",
    STEP, prefill_attention_flops, {prefill_length: input_length}, requires=())
serve_prefill_tokens = GROUP.derived(
    "serve_prefill_tokens", r"P_{\text{new}}", "token/sequence", "Prompt tokens a request's prefill computes: those "
    "not found in the prefix cache, and at least the last one (engines compute it to sample the first token).",
    "vLLM automatic prefix caching (a fully cached prompt still computes its last token)",
    sympy.Max(one("token/sequence"), input_length * (1 - cached_prefix_fraction)), requires=())
prefill_chunk_tokens = GROUP.derived(
    "prefill_chunk_tokens", r"T_{\text{chunk}}", "token", "Prompt tokens of one prefill step: the token budget, or "
    "the whole prompt when it fits.", "engine scheduler (chunked prefill)",
    sympy.Min(max_num_batched_tokens, serve_prefill_tokens * one("sequence")), requires=())
prefill_tokens_per_expert = GROUP.derived(
    "prefill_tokens_per_expert", r"m_{E}^{P}", "token", "Tokens each routed expert's grouped GEMM multiplies in a "
    "step carrying one prefill chunk: chunk x k / E (the whole chunk for a dense model's MLP).",
    "issue 30: tokens per expert; uniform routing (issue 11)", GROUP.select(mlp, {
        "dense": prefill_chunk_tokens, "moe": prefill_chunk_tokens * n_experts_per_token / n_experts}), requires=())
serve_prefill_matmul_time = GROUP.derived(
    "serve_prefill_matmul_time", r"\tau_{P}", "us/token", "Matmul FLOPs time of one prompt token inside a step, at "
    "the engine's prefill MFU (peak in bound mode); the routed experts' grouped GEMMs at m / (m + m_half) of that "
    "rate for m tokens per expert.", STEP + "; issue 30 (DeepGEMM grouped GEMM tables)",
    flops_per_param_token * (serve_flop_params + expert_imbalance * _routed * grouped_gemm_half_tokens
                             / prefill_tokens_per_expert) / (_Y * chip_flops * engine_prefill_mfu), requires=())
serve_fixed_time = GROUP.derived(
    "serve_fixed_time", r"t_{0}", "ms", "The part of every step that no token changes: the engine's per-step "
    "overhead, every layer's attention latency and the latency of the step's collectives.", STEP,
    step_time_overhead + comm_exposed * step_time_comm_fixed, requires=())
serve_time_per_sequence = GROUP.derived(
    "serve_time_per_sequence", r"\beta", "us/sequence", "What each decode sequence adds to a step besides matmul "
    "FLOPs: attention, the engine's CPU time per sequence (spent in parallel across attention-data-parallel groups "
    "that schedule apart), and the bytes of the collectives.", STEP + "; issue 30 (CPU time per attention group)",
    serve_attention_time_per_sequence + engine_request_overhead / (1 + attention_groups_schedule_apart * (_a - 1))
    + comm_exposed * step_time_comm_per_sequence * _s, requires=())
serve_time_per_prefill_token = GROUP.derived(
    "serve_time_per_prefill_token", r"\gamma", "us/token", "What each prefill token adds to a step besides its "
    "matmul FLOPs: its share of the causal attention and the bytes of the collectives it sends.", STEP,
    serve_prefill_attention_flops / (input_length * one("sequence") * _Y * attention_chip_flops * engine_prefill_mfu)
    + comm_exposed * step_time_comm_per_sequence * one("sequence/token"), requires=())

# --- the step, for the batch a caller sets ---


def weights_time(share):
    """Loading the weights a step touches: ``share`` of the routed experts' and, once per attention group, all the
    others', every pipeline stage's in turn (as step_time_params)."""
    return (pipeline_stages * (_a * nonexpert_bytes + routed_expert_params * expert_bytes_per_param * share)
            / (_Y * hbm_bandwidth * weight_stream_efficiency))


def experts_share(tokens):
    """Share of the routed experts' weights a step carrying ``tokens`` loads: E (1 - (1 - k/E)^T) / E (all of a
    dense model's)."""
    return GROUP.select(mlp, {"dense": sympy.Integer(1),
                              "moe": 1 - expert_miss_probability ** (tokens / one("token"))})


def eager_time(batch):
    """Launch time of a step run eager: every layer's, when the decode batch is above the largest CUDA graph."""
    return sympy.Piecewise((1, batch > cuda_graph_max_batch), (0, True)) * n_layers * engine_layer_overhead


_Bs, _Ps = step_sequences, step_prefill_tokens
engine_step_weights_time = GROUP.derived(
    "engine_step_weights_time", r"t_{W}(B, P)", "ms", "A step's weights-bound time: the weights of the experts its "
    "tokens touch, with attention, CPU time and collectives per sequence and per prompt token.", STEP,
    weights_time(experts_share(_Bs * _s * one("token/sequence") + _Ps)) + serve_time_per_sequence * _Bs
    + serve_time_per_prefill_token * _Ps, requires=())
engine_step_flops_time = GROUP.derived(
    "engine_step_flops_time", r"t_{F}(B, P)", "ms", "A step's FLOPs-bound time: its matmul FLOPs, with attention, "
    "CPU time and collectives per sequence and per prompt token.", STEP,
    (serve_time_per_sequence + serve_decode_flops_time) * _Bs
    + (serve_time_per_prefill_token + serve_prefill_matmul_time) * _Ps, requires=())
engine_replayed_step_time = GROUP.derived(
    "engine_replayed_step_time", r"t_{\text{step}}^{\text{graph}}(B, P)", "ms", "One engine step that decodes "
    "step_sequences and prefills step_prefill_tokens, replayed from a captured CUDA graph: its fixed time and the "
    "larger of its weights-bound and FLOPs-bound time (what a plan solves for its batch).", STEP,
    serve_fixed_time + sympy.Max(engine_step_weights_time, engine_step_flops_time), requires=())
engine_step_time = GROUP.derived(
    "engine_step_time", r"t_{\text{step}}(B, P)", "ms", "One engine step that decodes step_sequences and "
    "prefills step_prefill_tokens: the replayed step, with eager launches above the largest CUDA graph. Every "
    "serving answer is this step at its workload's batch.", STEP, engine_replayed_step_time + eager_time(_Bs),
    requires=(), label="Engine step time at the batch set")
