"""Memory: parameters, KV cache, and how many chips hold them.

Seed: "Serving analysis", the KV-per-token, total-memory and
smallest-topology questions.
"""

from __future__ import annotations

import sympy
from sympy.codegen.cfunctions import log2

from ..declare import Group, one
from .inputs import (
    SCENARIO,
    attention,
    batch_size,
    context_length,
    d_ff,
    d_ff_expert,
    d_head,
    d_model,
    expert_bytes_per_param,
    hbm_capacity,
    kv_bytes_per_value,
    kv_lora_rank,
    mlp,
    n_chips,
    n_dense_layers,
    n_experts,
    n_experts_per_token,
    n_heads,
    n_kv_heads,
    n_layers,
    n_shared_experts,
    n_sliding_layers,
    pipeline_parallel,
    q_lora_rank,
    qk_nope_head_dim,
    qk_rope_head_dim,
    sliding_window,
    smallest_multichip_slice,
    smallest_slice,
    tensor_parallel,
    tie_word_embeddings,
    v_head_dim,
    vocab_size,
    weight_bytes_per_param,
)

GROUP = Group("memory", "Memory")
Q_KV = "seed: Serving analysis, Q: KV cache per token"
Q_TOTAL = "seed: Serving analysis, Q: total memory at batch 32, 8k context"
Q_TOPO = "seed: Thinking about throughput, Q: smallest v5e topology"

_gqa = 2 * d_model * n_heads * d_head + 2 * d_model * n_kv_heads * d_head  # Q, O and K, V
_q_head = qk_nope_head_dim + qk_rope_head_dim
_mla_q = sympy.Piecewise((d_model * n_heads * _q_head, q_lora_rank < 1),  # queries not compressed
                         (d_model * q_lora_rank + q_lora_rank + q_lora_rank * n_heads * _q_head, True))
_mla = (_mla_q + d_model * (kv_lora_rank + qk_rope_head_dim) + kv_lora_rank  # down-projection and its norm
        + kv_lora_rank * n_heads * (qk_nope_head_dim + v_head_dim) + n_heads * v_head_dim * d_model)  # up, output
attention_params = GROUP.derived(
    "attention_params", r"N_{\text{attn}}", "parameter",
    "Parameters of one layer's attention: Q, K, V and O projections (MLA: the latent's down and up projections).",
    "model config; DeepSeek-V2 paper (MLA)", GROUP.select(attention, {"gqa": _gqa, "mla": _mla}) * one("parameter"))
expert_params = GROUP.derived(
    "expert_params", r"N_{\text{expert}}", "parameter", "Parameters of one expert (a gated MLP: gate, up, down).",
    "model config", 3 * d_model * d_ff_expert * one("parameter"))
_norms = 2 * d_model * one("parameter")
_mlp = 3 * d_model * d_ff * one("parameter")  # gate, up, down
_router = d_model * n_experts * one("parameter")
_moe_layers = n_layers - n_dense_layers
_embeddings = ((2 - tie_word_embeddings) * vocab_size * d_model + d_model) * one("parameter")  # and the final norm
param_count = GROUP.derived(
    "param_count", r"N_{\text{param}}", "parameter",
    "Parameters: per layer attention, MLP (dense, or every expert and the router) and two norms, plus the input "
    "and output embeddings (one matrix when tied).",
    "model config; matches the publishers' total counts",
    GROUP.select(mlp, {
        "dense": n_layers * (attention_params + _mlp + _norms) + _embeddings,
        "moe": n_layers * (attention_params + _norms) + n_dense_layers * _mlp
        + _moe_layers * ((n_experts + n_shared_experts) * expert_params + _router) + _embeddings}),
    label="Parameters")
active_param_count = GROUP.derived(
    "active_param_count", r"N_{\text{active}}", "parameter",
    "Parameters one token uses: every parameter of a dense model; in an MoE layer only its top-k routed experts, "
    "the shared ones and the router (both embedding matrices counted, as DeepSeek counts 37B).",
    "model config; issue 11",
    GROUP.select(mlp, {
        "dense": param_count,
        "moe": n_layers * (attention_params + _norms) + n_dense_layers * _mlp
        + _moe_layers * ((n_experts_per_token + n_shared_experts) * expert_params + _router) + _embeddings}),
    label="Active parameters per token")
routed_expert_params = GROUP.derived(
    "routed_expert_params", r"N_{\text{routed}}", "parameter",
    "Parameters of every routed expert of every MoE layer (0 for a dense model).", "model config",
    GROUP.select(mlp, {"dense": 0 * one("parameter"), "moe": _moe_layers * n_experts * expert_params}))
param_bytes = GROUP.derived(
    "param_bytes", r"M_{\text{param}}", "GB", "Bytes of all weights in their dtypes.",
    "seed: Serving analysis (70 GB in int8); MoE: routed experts in their own dtype",
    GROUP.select(mlp, {"dense": param_count * weight_bytes_per_param,
                       "moe": (param_count - routed_expert_params) * weight_bytes_per_param
                       + routed_expert_params * expert_bytes_per_param}), label="Weights")
kv_values_per_layer = GROUP.derived(
    "kv_values_per_layer", r"n_{\text{KV}}", "", "Values one token caches in one layer: K and V per KV head (GQA), "
    "or the latent plus the rotary key (MLA).", Q_KV,
    GROUP.select(attention, {"gqa": 2 * n_kv_heads * d_head, "mla": kv_lora_rank + qk_rope_head_dim}))
kv_bytes_per_token = GROUP.derived(
    "kv_bytes_per_token", r"M_{\text{KV/tok}}", "byte/token",
    "KV cache of one token over all layers (below any sliding window).", Q_KV,
    n_layers * kv_values_per_layer * kv_bytes_per_value, label="KV cache per token")
kv_context_length = GROUP.derived(
    "kv_context_length", r"S_{\text{KV}}", "token/sequence",
    "Tokens of KV cache a sequence holds, averaged over layers: the context length, less where sliding-window "
    "layers stop at their window.", Q_KV,
    ((n_layers - n_sliding_layers) * context_length + n_sliding_layers * sympy.Min(context_length, sliding_window))
    / n_layers)
kv_bytes_per_sequence = GROUP.derived(
    "kv_bytes_per_sequence", r"M_{\text{KV/seq}}", "GB/sequence", "KV cache of one sequence at the context length.",
    Q_KV, kv_context_length * kv_bytes_per_token)
kv_cache_bytes = GROUP.derived(
    "kv_cache_bytes", r"M_{\text{KV}}", "GB", "KV cache of the whole batch.", Q_TOTAL,
    batch_size * kv_bytes_per_sequence, label="KV cache of the batch")
total_memory_bytes = GROUP.derived(
    "total_memory_bytes", r"M_{\text{total}}", "GB", "Parameters plus KV cache.", Q_TOTAL,
    param_bytes + kv_cache_bytes, label="Memory needed (weights plus KV cache)")
param_chips = GROUP.derived(
    "param_chips", r"N_{\text{param}}^{\text{chips}}", "chip",
    "Chips whose HBM the parameters alone fill, unrounded.", Q_TOPO, param_bytes / hbm_capacity)
hbm_total_bytes = GROUP.derived(
    "hbm_total_bytes", r"M_{\text{HBM}}^{\text{total}}", "GB", "HBM of all chips together.", Q_TOPO,
    n_chips * hbm_capacity, label="HBM of the slice")
fits_in_hbm = GROUP.derived(
    "fits_in_hbm", r"\text{fits}", "", "Whether parameters plus the batch's KV cache fit in the slice's HBM (1 = yes).",
    Q_TOTAL, sympy.LessThan(total_memory_bytes, hbm_total_bytes), boolean=True, label="Fits in HBM",
    says=("Fits in HBM: weights plus KV cache need {total_memory_bytes:,.0f} GB of the {n_chips:,.0f}-chip slice's "
          "{hbm_total_bytes:,.0f} GB.",
          "DOES NOT FIT: parameters plus KV cache do not fit in HBM; the point needs {total_memory_bytes:,.0f} GB, "
          "the {n_chips:,.0f}-chip slice has {hbm_total_bytes:,.0f} GB."))
memory_chips = GROUP.solved(
    "memory_chips", r"N_{\text{mem}}", "chip", "Chips whose HBM parameters plus KV fill, unrounded.",
    Q_TOTAL, sympy.Eq(hbm_total_bytes, total_memory_bytes), n_chips, regime="always (a fraction of a chip)")
min_chips = GROUP.derived(
    "min_chips", r"N_{\min}", "chip", "Fewest whole chips that hold parameters plus KV.", Q_TOTAL,
    sympy.ceiling(memory_chips / one("chip")) * one("chip"))
min_slice_chips = GROUP.derived(
    "min_slice_chips", r"N_{\text{slice}}", "chip",
    "Smallest slice that holds parameters plus KV: a power of two (the chapter's rounding), at least the "
    "chip's smallest slice.", Q_TOPO,
    sympy.Piecewise(
        (smallest_slice, memory_chips <= smallest_slice),
        (sympy.Max(smallest_multichip_slice, 2 ** sympy.ceiling(log2(memory_chips / one("chip"))) * one("chip")),
         True)))
# a layout given (tensor_parallel above 0) sets the replica's chips; otherwise the smallest slice that holds it
SCENARIO.set_default(n_chips, sympy.Piecewise(
    (tensor_parallel * pipeline_parallel * one("chip"), tensor_parallel > 0), (min_slice_chips, True)))

kv_capacity_bytes = GROUP.derived(
    "kv_capacity_bytes", r"M_{\text{KV}}^{\max}", "GB", "HBM left for KV caches after the parameters.",
    Q_TOPO, hbm_total_bytes - param_bytes)
max_batch_size = GROUP.solved(
    "max_batch_size", r"B_{\max}", "sequence",
    "Most whole sequences whose KV fits in the HBM left after the parameters.", Q_TOPO,
    sympy.Eq(total_memory_bytes, hbm_total_bytes), batch_size,
    regime="always (rounded down to whole sequences; 0 when the parameters alone do not fit)",
    post=lambda root: sympy.Max(0, sympy.floor(root / one("sequence")) * one("sequence")),
    label="Largest batch that fits")
