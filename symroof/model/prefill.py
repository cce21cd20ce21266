"""Prefill, and the churn of sequences through a decode batch.

Seed: "What about prefill?", the prefill-time and eviction questions.
"""

from __future__ import annotations

import sympy

from ..declare import Group, one
from .communication import comm_exposed, step_time_comm
from .decode import decode_tokens_per_step, flops_per_param_token
from .engine_inputs import attention_at_kernel_dtype, attention_fp8
from .inputs import (
    KV_DTYPES,
    attention,
    attention_flops_counted,
    batch_size,
    chip_flops,
    chip_flops_bf16,
    chip_flops_fp8,
    d_head,
    decode_length,
    hbm_bandwidth,
    kv_dtype,
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
prefill_matmul_flops = GROUP.derived(
    "prefill_matmul_flops", r"F_{\text{matmul}}^{P}", "FLOP", "Matmul FLOPs of one sequence's prefill: 2 per "
    "active parameter per token.", Q_PREFILL, flops_per_param_token * active_param_count * prefill_tokens,
    requires=())
prefill_flops = GROUP.derived(
    "prefill_flops", r"F_{\text{prefill}}", "FLOP",
    "FLOPs of one sequence's prefill: 2 per active parameter per token (and, in estimate mode, attention).",
    Q_PREFILL, prefill_matmul_flops + attention_flops_counted * prefill_attention_flops, requires=())
_fp8_kernel = sympy.Piecewise((chip_flops_fp8, attention_fp8 > 0), (chip_flops_bf16, True))
_kernel_rate = GROUP.select(kv_dtype, {d: _fp8_kernel if d == "fp8" else chip_flops_bf16 for d in KV_DTYPES})
attention_chip_flops = GROUP.derived(
    "attention_chip_flops", r"C_{\text{attn}}", "FLOP/s/chip", "FLOP rate attention (QK^T, PV) runs at: the "
    "attention kernel's dtype in estimate mode (bf16, or FP8 on an FP8 KV cache where the engine's kernel computes "
    "in FP8), the matmul dtype's in bound mode.", "issue 30: FlashAttention-2 and FlashInfer prefill in bf16/fp16; "
    "FP8 attention only with an FP8 KV cache and an FP8 kernel (FlashAttention-3, TensorRT-LLM FP8 FMHA)",
    sympy.Piecewise((_kernel_rate, attention_at_kernel_dtype > 0), (chip_flops, True)), requires=())
prefill_time_comm = GROUP.at(
    "prefill_time_comm", r"T_{\text{comm}}^{\text{prefill}}", "ms", "Communication of one sequence's prefill: a "
    "prefill of P tokens moves what a decode step of P sequences moves.", "alpha-beta collective model",
    step_time_comm, {batch_size: prefill_length / one("token/sequence") * one("sequence")}, requires=())
prefill_time = GROUP.derived(
    "prefill_time", r"T_{\text{prefill}}", "s", "Prefill time of one sequence at the prefill MFU (compute-bound; in "
    "estimate mode never below one read of the weights, plus the communication not hidden).", Q_PREFILL,
    sympy.Max((prefill_matmul_flops / chip_flops + attention_flops_counted * prefill_attention_flops
               / attention_chip_flops) / (n_chips * prefill_mfu),
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
