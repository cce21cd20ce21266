"""Prefill, and the churn of sequences through a decode batch.

Seed: "What about prefill?", the prefill-time and eviction questions.
"""

from __future__ import annotations

import sympy

from ..declare import Group, one
from .communication import comm_exposed, step_time_comm
from .decode import decode_tokens_per_step, flops_per_param_token
from .inputs import (
    attention,
    attention_flops_counted,
    batch_size,
    chip_flops,
    d_head,
    decode_length,
    hbm_bandwidth,
    n_chips,
    n_heads,
    n_layers,
    n_sliding_layers,
    prefill_length,
    prefill_mfu,
    prefill_weight_floor,
    qk_nope_head_dim,
    qk_rope_head_dim,
    sliding_window,
    v_head_dim,
    weight_stream_efficiency,
)
from .memory import active_param_count, param_bytes

GROUP = Group("prefill", "Prefill", requires=("fits_in_hbm",))
Q_PREFILL = "seed: What about prefill?, Q: prefill of 8192 tokens on 16 chips at 40% MFU"
Q_EVICT = "seed: What about prefill?, Q: sequences finished and tokens evicted per step"

prefill_tokens = GROUP.derived(
    "prefill_tokens", r"P_{\text{tok}}", "token", "Prompt tokens of one sequence's prefill.", Q_PREFILL,
    prefill_length * one("sequence"), requires=())
_T = prefill_length / one("token/sequence")  # prompt tokens, as a count
_W = sliding_window / one("token/sequence")
_m = sympy.Min(_T, _W)  # keys a query of a sliding layer attends to, at most
_head_width = GROUP.select(attention, {"gqa": 2 * d_head, "mla": qk_nope_head_dim + qk_rope_head_dim + v_head_dim})
prefill_attention_flops = GROUP.derived(
    "prefill_attention_flops", r"F_{\text{attn}}", "FLOP",
    "Attention FLOPs of one causal prefill: 2 FLOPs per query-key pair and head width, QK and AV; sliding layers "
    "pair each query with at most the window.", "measurement README: 2 n_heads d_head T^2 per layer (causal)",
    2 * n_heads * _head_width
    * ((n_layers - n_sliding_layers) * _T ** 2 / 2 + n_sliding_layers * (_T * _m - _m ** 2 / 2)) * one("FLOP"),
    requires=())
prefill_flops = GROUP.derived(
    "prefill_flops", r"F_{\text{prefill}}", "FLOP",
    "FLOPs of one sequence's prefill: 2 per active parameter per token (and, in estimate mode, attention).",
    Q_PREFILL, flops_per_param_token * active_param_count * prefill_tokens
    + attention_flops_counted * prefill_attention_flops, requires=())
prefill_time_comm = GROUP.at(
    "prefill_time_comm", r"T_{\text{comm}}^{\text{prefill}}", "ms", "Communication of one sequence's prefill: a "
    "prefill of P tokens moves what a decode step of P sequences moves.", "alpha-beta collective model",
    step_time_comm, {batch_size: prefill_length / one("token/sequence") * one("sequence")}, requires=())
prefill_time = GROUP.derived(
    "prefill_time", r"T_{\text{prefill}}", "s", "Prefill time of one sequence at the prefill MFU (compute-bound; in "
    "estimate mode never below one read of the weights, plus the communication not hidden).", Q_PREFILL,
    sympy.Max(prefill_flops / (n_chips * chip_flops * prefill_mfu),
              prefill_weight_floor * param_bytes / (n_chips * hbm_bandwidth * weight_stream_efficiency))
    + comm_exposed * prefill_time_comm)
sequences_finished_per_step = GROUP.derived(
    "sequences_finished_per_step", r"B_{\text{done}}", "sequence",
    "Sequences that finish in an average decode step (B/G).", Q_EVICT,
    decode_tokens_per_step / decode_length, requires=())
evicted_tokens_per_step = GROUP.derived(
    "evicted_tokens_per_step", r"E_{\text{step}}", "token",
    "KV tokens freed in an average decode step: B (P + G) / G.", Q_EVICT,
    sequences_finished_per_step * (prefill_length + decode_length), requires=())
