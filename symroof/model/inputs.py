"""Inputs: the model's config, the chip's datasheet, and the serving scenario."""

from __future__ import annotations

import sympy

from ..quantity import Group, Select, one

MODEL = Group("model", "Model")
HARDWARE = Group("hardware", "Hardware")
SCENARIO = Group("scenario", "Scenario")

#: Bytes per stored value of each dtype a scenario may choose.
DTYPE_BYTES: dict[str, sympy.Rational] = {
    "bf16": sympy.Integer(2),
    "fp8": sympy.Integer(1),
    "int8": sympy.Integer(1),
    "int4": sympy.Rational(1, 2),
}
DTYPES = tuple(DTYPE_BYTES)
CONFIG = "model config (catalog)"

# --- Model config (seed: the LLaMA 3-70B hyperparameter table) ---
n_layers = MODEL.input("n_layers", "L", "", "Transformer layers.", CONFIG, integer=True)
d_model = MODEL.input("d_model", "D", "", "Residual stream width.", CONFIG, integer=True)
d_ff = MODEL.input("d_ff", "F", "", "MLP hidden width.", CONFIG, integer=True)
n_heads = MODEL.input("n_heads", "N", "", "Query heads.", CONFIG, integer=True)
n_kv_heads = MODEL.input("n_kv_heads", "K", "", "Key/value heads (grouped-query attention).", CONFIG,
                         integer=True)
d_head = MODEL.input("d_head", "H", "", "Width of one attention head (d_qkv).", CONFIG, integer=True)
vocab_size = MODEL.input("vocab_size", "V", "", "Vocabulary size (embedding rows).", CONFIG, integer=True)

# --- Hardware (catalog: one datasheet per chip) ---
DATASHEET = "chip datasheet (catalog)"
hbm_capacity = HARDWARE.input("hbm_capacity", r"M_{\text{HBM}}", "GB/chip", "HBM capacity of one chip.",
                              DATASHEET)
hbm_bandwidth = HARDWARE.input("hbm_bandwidth", r"W_{\text{hbm}}", "byte/s/chip",
                               "HBM bandwidth of one chip.", DATASHEET)
ici_bandwidth = HARDWARE.input(
    "ici_bandwidth", r"W_{\text{ici}}", "byte/s",
    "Interconnect bandwidth of one chip along one mesh axis, both directions (the seed's convention).",
    DATASHEET)
chip_flops_bf16 = HARDWARE.input("chip_flops_bf16", r"C_{\text{bf16}}", "FLOP/s/chip",
                                 "Dense bf16 FLOP rate of one chip.", DATASHEET)
chip_flops_fp8 = HARDWARE.input("chip_flops_fp8", r"C_{\text{fp8}}", "FLOP/s/chip",
                                "Dense fp8 FLOP rate of one chip.", DATASHEET)
chip_flops_int8 = HARDWARE.input("chip_flops_int8", r"C_{\text{int8}}", "FLOP/s/chip",
                                 "Dense int8 OP rate of one chip.", DATASHEET)
chip_flops_int4 = HARDWARE.input("chip_flops_int4", r"C_{\text{int4}}", "FLOP/s/chip",
                                 "Dense int4 OP rate of one chip.", DATASHEET)
chip_price = HARDWARE.input("chip_price", r"\$_{\text{chip}}", "USD/hour/chip",
                            "On-demand list price of one chip for one hour.", "cloud price list (catalog)")

# --- Scenario ---
SEED = "seed: Serving analysis"
batch_size = SCENARIO.input("batch_size", "B", "sequence", "Sequences decoded together in one step.",
                            f"{SEED} (batch 32 example)", default=32 * one("sequence"))
context_length = SCENARIO.input("context_length", "S", "token/sequence",
                                "Tokens of KV cache each sequence holds.",
                                f"{SEED} (8192 example)", default=8192 * one("token/sequence"))
weight_dtype = SCENARIO.choice("weight_dtype", r"\text{dtype}_{w}", DTYPES, "How weights are stored.",
                               "assumption", default="bf16")
kv_dtype = SCENARIO.choice("kv_dtype", r"\text{dtype}_{kv}", DTYPES, "How the KV cache is stored.",
                           "assumption", default="bf16")
compute_dtype = SCENARIO.choice("compute_dtype", r"\text{dtype}_{c}", DTYPES,
                                "Arithmetic of the matmuls; picks the chip's FLOP rate.", "assumption",
                                default="bf16")
weight_bytes_per_param = SCENARIO.input(
    "weight_bytes_per_param", r"b_{w}", "byte/parameter", "Bytes per stored weight.",
    "set by weight_dtype", default=Select(weight_dtype, *DTYPE_BYTES.values()) * one("byte/parameter"))
kv_bytes_per_value = SCENARIO.input(
    "kv_bytes_per_value", r"b_{kv}", "byte/token", "Bytes per cached K or V element of one token.",
    "set by kv_dtype", default=Select(kv_dtype, *DTYPE_BYTES.values()) * one("byte/token"))
activation_bytes_per_value = SCENARIO.input(
    "activation_bytes_per_value", r"b_{a}", "byte/token",
    "Bytes per activation element of one token sent over the interconnect.",
    "set by compute_dtype", default=Select(compute_dtype, *DTYPE_BYTES.values()) * one("byte/token"))
chip_flops = SCENARIO.input(
    "chip_flops", "C", "FLOP/s/chip", "FLOP rate of one chip in the compute dtype.",
    "set by compute_dtype from the chip's rates",
    default=Select(compute_dtype, chip_flops_bf16, chip_flops_fp8, chip_flops_int8, chip_flops_int4))
prefill_length = SCENARIO.input("prefill_length", "P", "token/sequence", "Prompt tokens of a sequence.",
                                "seed: What about prefill? (8192)", default=8192 * one("token/sequence"))
decode_length = SCENARIO.input("decode_length", "G", "token/sequence", "Generated tokens of a sequence.",
                               "seed: Thinking about throughput (median 512)",
                               default=512 * one("token/sequence"))
prefill_mfu = SCENARIO.input("prefill_mfu", r"\text{MFU}", "", "Fraction of peak FLOPs prefill achieves.",
                             "seed: What about prefill? (40%)", default=sympy.Rational(2, 5), at_most=1)
model_axes = SCENARIO.input("model_axes", "M_Y", "", "Mesh axes the model is sharded over.",
                            "seed: sharding question (2 axes)", default=sympy.Integer(2), integer=True)
