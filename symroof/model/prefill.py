"""Prefill, and the churn of sequences through a decode batch.

Seed: "What about prefill?", the prefill-time and eviction questions.
"""

from __future__ import annotations

from ..declare import Group, one
from .decode import decode_tokens_per_step, flops_per_param_token
from .inputs import chip_flops, decode_length, n_chips, prefill_length, prefill_mfu
from .memory import active_param_count

GROUP = Group("prefill", "Prefill", requires=("fits_in_hbm",))
Q_PREFILL = "seed: What about prefill?, Q: prefill of 8192 tokens on 16 chips at 40% MFU"
Q_EVICT = "seed: What about prefill?, Q: sequences finished and tokens evicted per step"

prefill_tokens = GROUP.derived(
    "prefill_tokens", r"P_{\text{tok}}", "token", "Prompt tokens of one sequence's prefill.", Q_PREFILL,
    prefill_length * one("sequence"), requires=())
prefill_flops = GROUP.derived(
    "prefill_flops", r"F_{\text{prefill}}", "FLOP",
    "FLOPs of one sequence's prefill (2 per active parameter per token).", Q_PREFILL,
    flops_per_param_token * active_param_count * prefill_tokens, requires=())
prefill_time = GROUP.derived(
    "prefill_time", r"T_{\text{prefill}}", "s", "Prefill time of one sequence at the prefill MFU (compute-bound).",
    Q_PREFILL, prefill_flops / (n_chips * chip_flops * prefill_mfu))
sequences_finished_per_step = GROUP.derived(
    "sequences_finished_per_step", r"B_{\text{done}}", "sequence",
    "Sequences that finish in an average decode step (B/G).", Q_EVICT,
    decode_tokens_per_step / decode_length, requires=())
evicted_tokens_per_step = GROUP.derived(
    "evicted_tokens_per_step", r"E_{\text{step}}", "token",
    "KV tokens freed in an average decode step: B (P + G) / G.", Q_EVICT,
    sequences_finished_per_step * (prefill_length + decode_length), requires=())
