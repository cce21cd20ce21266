"""Parallelism: the per-matmul terms that decide when model parallelism turns ICI-bound.

Seed: "Serving analysis", the sharding question: for one MLP matmul under
Y-way model parallelism, T_ici = 2BD / W_ici, T_hbm = 2DF / (Y W_hbm),
T_math = 2BDF / (Y C).
"""

from __future__ import annotations

from ..declare import Group, one
from .decode import decode_tokens_per_step, flops_per_param_token
from .inputs import (
    activation_bytes_per_value,
    chip_flops,
    d_ff,
    d_model,
    hbm_bandwidth,
    ici_bandwidth,
    model_axes,
    n_chips,
    weight_bytes_per_param,
)

GROUP = Group("parallelism", "Parallelism")
Q_SHARD = "seed: Serving analysis, Q: sharding on a 4x8"

matmul_params = GROUP.derived(
    "matmul_params", r"N_{\text{mm}}", "parameter", "Weights of one D x F MLP matmul.", Q_SHARD,
    d_model * d_ff * one("parameter"))
matmul_time_math = GROUP.derived(
    "matmul_time_math", r"T_{\text{math}}", "us", "FLOPs time of one MLP matmul, sharded over the chips.",
    Q_SHARD, flops_per_param_token * decode_tokens_per_step * matmul_params / (n_chips * chip_flops))
matmul_time_hbm = GROUP.derived(
    "matmul_time_hbm", r"T_{\text{hbm comms}}", "us", "Time to load one MLP matmul's weights from HBM.",
    Q_SHARD, weight_bytes_per_param * matmul_params / (n_chips * hbm_bandwidth))
matmul_time_ici = GROUP.derived(
    "matmul_time_ici", r"T_{\text{ici comms}}", "us",
    "Time to move one matmul's activations over the interconnect of the model axes.", Q_SHARD,
    activation_bytes_per_value * decode_tokens_per_step * d_model / (model_axes * ici_bandwidth))
