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
    batch_size,
    context_length,
    d_ff,
    d_head,
    d_model,
    hbm_capacity,
    kv_bytes_per_value,
    n_chips,
    n_heads,
    n_kv_heads,
    n_layers,
    smallest_multichip_slice,
    smallest_slice,
    vocab_size,
    weight_bytes_per_param,
)

GROUP = Group("memory", "Memory")
Q_KV = "seed: Serving analysis, Q: KV cache per token"
Q_TOTAL = "seed: Serving analysis, Q: total memory at batch 32, 8k context"
Q_TOPO = "seed: Thinking about throughput, Q: smallest v5e topology"

_attention = 2 * d_model * n_heads * d_head + 2 * d_model * n_kv_heads * d_head  # Q, O and K, V
_mlp = 3 * d_model * d_ff  # gate, up, down
_norms = 2 * d_model
param_count = GROUP.derived(
    "param_count", r"N_{\text{param}}", "parameter",
    "Parameters: per layer attention, gated MLP and two norms, plus untied input/output embeddings.",
    "model config; matches Meta's published counts",
    (n_layers * (_attention + _mlp + _norms) + 2 * vocab_size * d_model + d_model) * one("parameter"),
    label="Parameters")
param_bytes = GROUP.derived(
    "param_bytes", r"M_{\text{param}}", "GB", "Bytes of all weights in the weight dtype.",
    "seed: Serving analysis (70 GB in int8)", param_count * weight_bytes_per_param, label="Weights")
kv_bytes_per_token = GROUP.derived(
    "kv_bytes_per_token", r"M_{\text{KV/tok}}", "byte/token",
    "KV cache of one token: K and V, per KV head, head width and layer.", Q_KV,
    2 * n_kv_heads * d_head * n_layers * kv_bytes_per_value, label="KV cache per token")
kv_bytes_per_sequence = GROUP.derived(
    "kv_bytes_per_sequence", r"M_{\text{KV/seq}}", "GB/sequence", "KV cache of one sequence at the context length.",
    Q_KV, context_length * kv_bytes_per_token)
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
SCENARIO.set_default(n_chips, min_slice_chips)

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
