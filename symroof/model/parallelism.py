"""Parallelism: the per-matmul terms that decide when model parallelism turns ICI-bound.

Seed: "Serving analysis", the sharding question: for one MLP matmul under
Y-way model parallelism, T_ici = 2BD / W_ici, T_hbm = 2DF / (Y W_hbm),
T_math = 2BDF / (Y C).
"""

from __future__ import annotations

from sympy import Max

from ..declare import Group, one
from .decode import decode_tokens_per_step, flops_per_param_token
from .inputs import (
    activation_bytes_per_value,
    chip_flops,
    d_ff,
    d_model,
    decode_flops_efficiency,
    hbm_bandwidth,
    ici_bandwidth,
    matmul_latency,
    model_axes,
    n_chips,
    weight_bytes_per_param,
    weight_stream_efficiency,
)

GROUP = Group("parallelism", "Parallelism")
Q_SHARD = "seed: Serving analysis, Q: sharding on a 4x8"

matmul_params = GROUP.derived(
    "matmul_params", r"N_{\text{mm}}", "parameter", "Weights of one D x F MLP matmul.", Q_SHARD,
    d_model * d_ff * one("parameter"))
matmul_time_math = GROUP.derived(
    "matmul_time_math", r"T_{\text{math}}", "us", "FLOPs time of one MLP matmul, sharded over the chips.",
    Q_SHARD, flops_per_param_token * decode_tokens_per_step * matmul_params
    / (n_chips * chip_flops * decode_flops_efficiency))
matmul_time_hbm = GROUP.derived(
    "matmul_time_hbm", r"T_{\text{hbm comms}}", "us", "Time to load one MLP matmul's weights from HBM.",
    Q_SHARD, weight_bytes_per_param * matmul_params / (n_chips * hbm_bandwidth * weight_stream_efficiency))
matmul_time_ici = GROUP.derived(
    "matmul_time_ici", r"T_{\text{ici comms}}", "us",
    "Time to move one matmul's activations over the interconnect of the model axes.", Q_SHARD,
    activation_bytes_per_value * decode_tokens_per_step * d_model / (model_axes * ici_bandwidth))

# --- one kernel of each kind, as the microbenchmarks time them (what symroof calibrate fits) ---
matmul_kernel_time = GROUP.derived(
    "matmul_kernel_time", r"T_{\text{mm kernel}}", "us",
    "Time of one D x F matmul kernel on its chips: its latency plus the larger of FLOPs and weight streaming.",
    "measurement README: matmul.csv (decode-shaped [B, D] x [D, F])",
    matmul_latency + Max(matmul_time_math, matmul_time_hbm))
