"""Inputs: the model's config, the chip's datasheet, and the serving scenario.

Every input of the model is declared here; default rules that need derived
quantities (``n_chips`` defaults to the smallest slice) are attached where
those are declared.
"""

from __future__ import annotations

import sympy

from ..declare import Group, one

MODEL = Group("model", "Model")
HARDWARE = Group("hardware", "Hardware")
SCENARIO = Group("scenario", "Scenario")
ESTIMATE = Group("estimate", "Estimate factors")

#: Bytes per stored value of each dtype a scenario may choose, block scales included: NVFP4 stores 16 4-bit
#: values with one 8-bit (E4M3) scale, 4.5 bits a value; MXFP4 32 values with one 8-bit (E8M0) scale, 4.25 bits
#: (the OCP Microscaling Formats v1.0 spec; NVIDIA's NVFP4 introduction). The per-tensor FP32 scale of NVFP4 is
#: negligible and left out.
DTYPE_BYTES: dict[str, sympy.Expr] = {
    "bf16": sympy.Integer(2),
    "fp8": sympy.Integer(1),
    "int8": sympy.Integer(1),
    "int4": sympy.Rational(1, 2),
    "fp4": sympy.Rational(9, 16),
    "mxfp4": sympy.Rational(17, 32),
}
DTYPES = tuple(DTYPE_BYTES)
KV_DTYPES = ("bf16", "fp8", "int8", "int4")  # the KV cache's own choices (4-bit float KV is not offered)
CONFIG = "model config (catalog)"

# --- Model config (seed: the LLaMA 3-70B hyperparameter table) ---
n_layers = MODEL.input("n_layers", "L", "", "Transformer layers.", CONFIG, integer=True, plausible=(1, 1000))
d_model = MODEL.input("d_model", "D", "", "Residual stream width.", CONFIG, integer=True, plausible=(16, 1e6))
d_ff = MODEL.input("d_ff", "F", "", "MLP hidden width.", CONFIG, integer=True, plausible=(16, 1e7))
n_heads = MODEL.input("n_heads", "N", "", "Query heads.", CONFIG, integer=True, plausible=(1, 10_000))
n_kv_heads = MODEL.input("n_kv_heads", "K", "", "Key/value heads (grouped-query attention).", CONFIG,
                         integer=True, plausible=(1, 10_000))
d_head = MODEL.input("d_head", "H", "", "Width of one attention head (d_qkv).", CONFIG, integer=True,
                     plausible=(8, 10_000))
vocab_size = MODEL.input("vocab_size", "V", "", "Vocabulary size (embedding rows).", CONFIG, integer=True,
                         plausible=(1, 1e7))
tie_word_embeddings = MODEL.input(
    "tie_word_embeddings", r"\tau", "", "1 when the output projection shares the input embedding's weights, else 0.",
    CONFIG, default=sympy.Integer(0), integer=True, nonnegative=True, at_most=1)

# --- Architecture: attention kind, mixture of experts, sliding windows (dense LLaMA is the default) ---
attention = MODEL.choice(
    "attention", r"\text{attn}", ("gqa", "mla"),
    "How attention caches keys and values: grouped-query heads (gqa) or a compressed latent (mla, DeepSeek).",
    CONFIG, default="gqa", structural=True)
mlp = MODEL.choice("mlp", r"\text{mlp}", ("dense", "moe"),
                   "Whether MLP layers are dense or a mixture of experts.", CONFIG, default="dense", structural=True)
n_experts = MODEL.input("n_experts", "E", "", "Routed experts per MoE layer (1 for a dense model).", CONFIG,
                        default=sympy.Integer(1), integer=True, plausible=(1, 100_000))
n_experts_per_token = MODEL.input("n_experts_per_token", "k", "", "Routed experts each token chooses (top-k).",
                                  CONFIG, default=sympy.Integer(1), integer=True, plausible=(1, 1000))
n_shared_experts = MODEL.input("n_shared_experts", "E_s", "", "Shared experts every token runs, per MoE layer.",
                               CONFIG, default=sympy.Integer(0), integer=True, nonnegative=True, plausible=(0, 100))
d_ff_expert = MODEL.input("d_ff_expert", "F_e", "", "Hidden width of one expert (and of a shared expert).", CONFIG,
                          integer=True, plausible=(16, 1e6))  # default: d_ff (below)
n_dense_layers = MODEL.input("n_dense_layers", "L_d", "",
                             "Layers with a dense MLP instead of experts (all of them for a dense model).", CONFIG,
                             integer=True, nonnegative=True, plausible=(0, 1000))  # default: n_layers (below)
kv_lora_rank = MODEL.input("kv_lora_rank", "R_{kv}", "", "MLA: width of the compressed key/value latent cached "
                           "per token per layer.", CONFIG, default=sympy.Integer(0), integer=True, nonnegative=True,
                           plausible=(0, 1e5))
q_lora_rank = MODEL.input("q_lora_rank", "R_{q}", "", "MLA: width of the compressed query (0: queries are not "
                          "compressed).", CONFIG, default=sympy.Integer(0), integer=True, nonnegative=True,
                          plausible=(0, 1e5))
qk_rope_head_dim = MODEL.input("qk_rope_head_dim", "H_r", "", "MLA: width of the decoupled rotary key, cached per "
                               "token per layer beside the latent.", CONFIG, default=sympy.Integer(0), integer=True,
                               nonnegative=True, plausible=(0, 10_000))
qk_nope_head_dim = MODEL.input("qk_nope_head_dim", "H_n", "", "MLA: width of a query/key head without rotary part.",
                               CONFIG, integer=True, plausible=(1, 10_000))  # default: d_head (below)
v_head_dim = MODEL.input("v_head_dim", "H_v", "", "MLA: width of a value head.", CONFIG, integer=True,
                         plausible=(1, 10_000))  # default: d_head (below)
n_sliding_layers = MODEL.input("n_sliding_layers", "L_s", "",
                               "Layers whose attention sees only the last sliding_window tokens (local layers).",
                               CONFIG, default=sympy.Integer(0), integer=True, nonnegative=True, plausible=(0, 1000))
sliding_window = MODEL.input(
    "sliding_window", "W_s", "token/sequence",
    "Tokens a sliding-window (local) layer attends to and caches; its KV stops growing at this context length.",
    CONFIG, plausible=(1, 1e8))  # default: the context length, i.e. no cap (below)
MODEL.set_default(d_ff_expert, d_ff)
MODEL.set_default(n_dense_layers, n_layers)
MODEL.set_default(qk_nope_head_dim, d_head)
MODEL.set_default(v_head_dim, d_head)

# --- Hardware (catalog: one datasheet per chip) ---
DATASHEET = "chip datasheet (catalog)"
hbm_capacity = HARDWARE.input("hbm_capacity", r"M_{\text{HBM}}", "GB/chip", "HBM capacity of one chip.", DATASHEET,
                              plausible=(1, 10_000), label="HBM per chip")
hbm_bandwidth = HARDWARE.input("hbm_bandwidth", r"W_{\text{hbm}}", "byte/s/chip", "HBM bandwidth of one chip.",
                               DATASHEET, plausible=(1e10, 1e14), label="HBM bandwidth per chip")
ici_bandwidth = HARDWARE.input(
    "ici_bandwidth", r"W_{\text{ici}}", "byte/s",
    "Interconnect bandwidth of one chip along one mesh axis, both directions (the seed's convention).",
    DATASHEET, plausible=(1e8, 1e14))
_RATE = (1e11, 1e17)
chip_flops_bf16 = HARDWARE.input("chip_flops_bf16", r"C_{\text{bf16}}", "FLOP/s/chip",
                                 "Dense bf16 FLOP rate of one chip.", DATASHEET, plausible=_RATE)
chip_flops_fp8 = HARDWARE.input("chip_flops_fp8", r"C_{\text{fp8}}", "FLOP/s/chip",
                                "Dense fp8 FLOP rate of one chip.", DATASHEET, plausible=_RATE)
chip_flops_int8 = HARDWARE.input("chip_flops_int8", r"C_{\text{int8}}", "FLOP/s/chip",
                                 "Dense int8 OP rate of one chip.", DATASHEET, plausible=_RATE)
chip_flops_int4 = HARDWARE.input("chip_flops_int4", r"C_{\text{int4}}", "FLOP/s/chip",
                                 "Dense int4 OP rate of one chip.", DATASHEET, plausible=_RATE)
chip_flops_fp4 = HARDWARE.input("chip_flops_fp4", r"C_{\text{fp4}}", "FLOP/s/chip",
                                "Dense 4-bit float (NVFP4/MXFP4) FLOP rate of one chip.", DATASHEET, plausible=_RATE)
chip_price = HARDWARE.input("chip_price", r"\$_{\text{chip}}", "USD/hour/chip",
                            "On-demand list price of one chip for one hour.", "cloud price list (catalog)",
                            plausible=(0.01, 1000), label="Price per chip-hour")
chip_tdp = HARDWARE.input("chip_tdp", r"P_{\text{chip}}", "W/chip", "Thermal design power of one chip: the most "
                          "it draws.", DATASHEET, plausible=(10, 10_000), label="Chip power (TDP)")
SLICES = "chip datasheet: the slice sizes the chip is sold in (catalog)"
smallest_slice = HARDWARE.input(
    "smallest_slice", r"Y_{\min}", "chip", "Fewest chips a serving slice can have (4 for TPU v4 and v5p).",
    SLICES, default=1 * one("chip"), integer=True, plausible=(1, 256))
smallest_multichip_slice = HARDWARE.input(
    "smallest_multichip_slice", r"Y_{\min}^{>1}", "chip",
    "Fewest chips of a slice with more than one chip (4 on TPUs: a 2x2; 2 on GPUs).",
    SLICES, default=2 * one("chip"), integer=True, plausible=(2, 256))

# --- Topology (catalog): scale-up domain (NVLink, Infinity Fabric, TPU ICI), scale-out network (IB/Ethernet, DCN) ---
TOPOLOGY = "chip or system datasheet: the interconnect (catalog)"
scale_up_domain = HARDWARE.input(
    "scale_up_domain", r"D_{\text{up}}", "chip", "Chips one scale-up network joins (8 on an HGX H100, 72 on a GB200 "
    "NVL72, a TPU pod's 256); a collective over more chips crosses the scale-out network.", TOPOLOGY,
    integer=True, plausible=(1, 100_000), label="Scale-up domain (chips)")
scale_up_topology = HARDWARE.choice(
    "scale_up_topology", r"\text{topo}", ("switch", "mesh", "ring", "torus"),
    "How the scale-up network joins its chips: a switch (NVSwitch: any pair at full bandwidth), a full mesh of "
    "point-to-point links (Infinity Fabric: a pair shares one link), a ring, or a torus (TPU ICI).", TOPOLOGY,
    default="switch", structural=True)
scale_up_bandwidth = HARDWARE.input(
    "scale_up_bandwidth", r"W_{\text{up}}", "byte/s/chip",
    "Scale-up bandwidth of one chip in one direction, over all its links (H100 NVLink: 450 GB/s each way).",
    TOPOLOGY, plausible=(1e9, 1e14), label="Scale-up bandwidth per chip (one direction)")
scale_up_latency = HARDWARE.input(
    "scale_up_latency", r"\alpha_{\text{up}}", "us", "Fixed time of one step of a collective over the scale-up "
    "network (a hop, a synchronisation).", TOPOLOGY, plausible=(0.01, 1000), label="Scale-up latency per step")
torus_dims = HARDWARE.input(
    "torus_dims", r"d_{\text{torus}}", "", "Axes of a torus topology (2 on TPU v5e and v6e, 3 on v4, v5p and v7); "
    "each axis has a link to either neighbour.", TOPOLOGY, integer=True, plausible=(1, 3))
scale_out_bandwidth = HARDWARE.input(
    "scale_out_bandwidth", r"W_{\text{out}}", "byte/s/chip",
    "Scale-out network bandwidth of one chip in one direction (one 400 Gb/s NIC per GPU: 50 GB/s).", TOPOLOGY,
    plausible=(1e8, 1e13), label="Scale-out bandwidth per chip (one direction)")
scale_out_latency = HARDWARE.input(
    "scale_out_latency", r"\alpha_{\text{out}}", "us", "Fixed time of one step of a collective over the "
    "scale-out network.", TOPOLOGY, plausible=(0.01, 10_000), label="Scale-out latency per step")

# --- Scenario ---
SEED = "seed: Serving analysis"
# A batch may be fractional: under continuous batching it is the average number of sequences per step, and
# thresholds are continuous roots. Where whole sequences are meant, the model rounds (max_batch_size).
batch_size = SCENARIO.input("batch_size", "B", "sequence", "Sequences decoded together in one step (on average).",
                            f"{SEED} (batch 32 example)", default=32 * one("sequence"),
                            label="Batch (sequences per decode step)")
context_length = SCENARIO.input("context_length", "S", "token/sequence", "Tokens of KV cache each sequence holds.",
                                f"{SEED} (8192 example)", default=8192 * one("token/sequence"),
                                label="Context length")
MODEL.set_default(sliding_window, context_length)  # no cap unless the model has sliding-window layers
weight_dtype = SCENARIO.choice("weight_dtype", r"\text{dtype}_{w}", DTYPES, "How weights are stored.",
                               "assumption", default="bf16", label="Weight precision", choice_list="dtype_choices")
kv_dtype = SCENARIO.choice("kv_dtype", r"\text{dtype}_{kv}", KV_DTYPES, "How the KV cache is stored.",
                           "assumption", default="bf16", label="KV cache precision", choice_list="kv_dtype_choices")
expert_dtype = SCENARIO.choice(
    "expert_dtype", r"\text{dtype}_{e}", ("as_weights", *DTYPES), "How a mixture of experts' routed expert weights are "
    "stored: as the other weights, or in a dtype of their own (gpt-oss ships MXFP4 experts, BF16 elsewhere).",
    "model config (catalog), else as the weights", default="as_weights", label="Expert weight precision",
    choice_list="expert_dtype_choices")
compute_dtype = SCENARIO.choice("compute_dtype", r"\text{dtype}_{c}", DTYPES,
                                "Arithmetic of the matmuls; picks the chip's FLOP rate.", "assumption",
                                default="bf16", label="Matmul precision", choice_list="compute_dtype_choices")
weight_bytes_per_param = SCENARIO.input(
    "weight_bytes_per_param", r"b_{w}", "byte/parameter", "Bytes per stored weight.", "set by weight_dtype",
    default=SCENARIO.select(weight_dtype, DTYPE_BYTES) * one("byte/parameter"))
expert_bytes_per_param = SCENARIO.input(
    "expert_bytes_per_param", r"b_{e}", "byte/parameter", "Bytes per stored weight of a routed expert.",
    "set by expert_dtype",
    default=SCENARIO.select(expert_dtype, {"as_weights": weight_bytes_per_param,
                                           **{d: b * one("byte/parameter") for d, b in DTYPE_BYTES.items()}}))
kv_bytes_per_value = SCENARIO.input(
    "kv_bytes_per_value", r"b_{kv}", "byte/token", "Bytes per cached K or V element of one token.",
    "set by kv_dtype", default=SCENARIO.select(kv_dtype, {d: DTYPE_BYTES[d] for d in KV_DTYPES}) * one("byte/token"))
activation_bytes_per_value = SCENARIO.input(
    "activation_bytes_per_value", r"b_{a}", "byte/token",
    "Bytes per activation element of one token sent over the interconnect.", "set by compute_dtype",
    default=SCENARIO.select(compute_dtype, DTYPE_BYTES) * one("byte/token"))
chip_flops = SCENARIO.input(
    "chip_flops", "C", "FLOP/s/chip", "FLOP rate of one chip in the compute dtype.",
    "set by compute_dtype from the chip's rates",
    default=SCENARIO.select(compute_dtype, {"bf16": chip_flops_bf16, "fp8": chip_flops_fp8,
                                            "int8": chip_flops_int8, "int4": chip_flops_int4,
                                            "fp4": chip_flops_fp4, "mxfp4": chip_flops_fp4}),
    label="FLOP rate per chip")
n_chips = SCENARIO.input(
    "n_chips", "Y", "chip", "Chips of one replica. Default: tensor_parallel x pipeline_parallel when a layout is "
    "given, else the smallest slice (a power of two, at least the chip's smallest) that holds the weights and the "
    "batch's KV; within one scale-up domain when that suffices, else across domains with each pipeline stage's "
    "tensor-parallel group inside one (pipeline_stages).",
    "assumption (seed: pure model parallelism)", integer=True, label="Chips per replica")  # rule: memory.py
# --- Layout: how a replica's chips split the model (the chapter: pure model parallelism, tensor_parallel = n_chips)
LAYOUT = "assumption (the serving engine's launch settings)"
tensor_parallel = SCENARIO.input(
    "tensor_parallel", r"\text{TP}", "", "Chips each layer's matmuls are split over (tensor parallelism). 0, the "
    "default, means every chip of a pipeline stage: n_chips / pipeline_parallel, the chapter's pure model "
    "parallelism.", LAYOUT, default=sympy.Integer(0), integer=True, nonnegative=True, plausible=(0, 100_000),
    label="Tensor-parallel chips (0: all)")
pipeline_parallel = SCENARIO.input(
    "pipeline_parallel", r"\text{PP}", "", "Pipeline stages: consecutive groups of layers on their own chips, a "
    "decode step handing its activations from one to the next.", LAYOUT, default=sympy.Integer(1), integer=True,
    plausible=(1, 1000), label="Pipeline stages")
expert_parallel = SCENARIO.input(
    "expert_parallel", r"\text{EP}", "", "Chips a mixture-of-experts layer spreads its experts over (each holds "
    "n_experts / expert_parallel of them, routed tokens reach them by all-to-all); 1 splits every expert over the "
    "tensor-parallel chips like a dense MLP.", LAYOUT, default=sympy.Integer(1), integer=True,
    plausible=(1, 100_000), label="Expert-parallel chips")
data_parallel = SCENARIO.input(
    "data_parallel", r"\text{DP}", "", "Replicas of the model, each on its own n_chips chips serving its own "
    "batch.", LAYOUT, default=sympy.Integer(1), integer=True, plausible=(1, 1e6), label="Replicas")
collective_bytes = SCENARIO.input(
    "collective_bytes", r"M_{\text{coll}}", "byte", "Bytes each chip contributes to a collective examined on its "
    "own (all_reduce_time and the others); by default one decode step's activations of the batch.",
    "assumption", plausible=(1, 1e15))  # default: tp_allreduce_bytes, set in communication.py
collective_chips = SCENARIO.input(
    "collective_chips", r"n_{\text{coll}}", "chip", "Chips taking part in a collective examined on its own; by "
    "default the scale-up domain.", "assumption", integer=True, plausible=(1, 1e6))
SCENARIO.set_default(collective_chips, scale_up_domain)
HARDWARE.set_default(scale_up_domain, n_chips)  # a user's chip file naming none: one network joins the replica
prefill_length = SCENARIO.input("prefill_length", "P", "token/sequence", "Prompt tokens of a sequence.",
                                "seed: What about prefill? (8192)", default=8192 * one("token/sequence"),
                                label="Prompt length")
decode_length = SCENARIO.input("decode_length", "G", "token/sequence", "Generated tokens of a sequence.",
                               "seed: Thinking about throughput (median 512)", default=512 * one("token/sequence"),
                               label="Generated tokens per request")
prefill_mfu = SCENARIO.input("prefill_mfu", r"\text{MFU}", "", "Fraction of peak FLOPs prefill achieves.",
                             "seed: What about prefill? (40%)", default=sympy.Rational(2, 5), at_most=1)
model_axes = SCENARIO.input("model_axes", "M_Y", "", "Mesh axes the model is sharded over.",
                            "seed: sharding question (2 axes)", default=sympy.Integer(2), integer=True)
target_step_time = SCENARIO.input(
    "target_step_time", r"T_{\text{target}}", "ms", "Per-token latency target: the longest acceptable decode step.",
    "seed: worked problem 3 (15 ms / token)", default=15 * one("ms"), label="Latency target per output token")
prefill_servers = SCENARIO.input(
    "prefill_servers", r"S_{P}", "", "Prefill servers feeding one generate server (same chips each).",
    "seed: What about prefill?, disaggregated serving", default=sympy.Integer(1))
utilisation = SCENARIO.input(
    "utilisation", "U", "", "Fraction of the roofline throughput achieved in practice.",
    "assumption; seed: real numbers may be about half the roofline", default=sympy.Rational(1, 2), at_most=1,
    label="Utilisation (share of the roofline achieved)")
expert_saturation = SCENARIO.input(
    "expert_saturation", r"\sigma_E", "", "Share of a layer's experts a decode step must touch to count as saturated.",
    "issue 11: the batch at which 90% of experts are touched", default=sympy.Rational(9, 10), at_most=1)
# --- Estimate factors: 1 (efficiencies) or 0 (overheads) in bound mode, where the chapter's roofline holds;
# estimate mode takes them from a calibration (symroof calibrate), or the generic one for uncalibrated chips ---
CAL = "calibration (symroof calibrate); generic factors for uncalibrated chips"
weight_stream_efficiency = ESTIMATE.input(
    "weight_stream_efficiency", r"\eta_{w}", "",
    "Achieved fraction of datasheet HBM bandwidth while a matmul streams its weights.", CAL,
    default=sympy.Integer(1), at_most=1, neutral=1, label="Weight streaming efficiency")
kv_stream_efficiency = ESTIMATE.input(
    "kv_stream_efficiency", r"\eta_{kv}", "",
    "Achieved fraction of datasheet HBM bandwidth while decode attention reads the KV cache.", CAL,
    default=sympy.Integer(1), at_most=1, neutral=1, label="KV cache read efficiency")
decode_flops_efficiency = ESTIMATE.input(
    "decode_flops_efficiency", r"\eta_{F}", "", "Achieved fraction of datasheet FLOPs in decode matmuls.", CAL,
    default=sympy.Integer(1), at_most=1, neutral=1, label="Decode matmul FLOP efficiency")
matmul_latency = ESTIMATE.input(
    "matmul_latency", r"t_{\text{mm}}", "us",
    "Fixed time of one matmul called on its own (its launch included), beyond streaming its weights. A decode step "
    "replayed from a CUDA graph or run by a serving engine does not pay the launch, so the step time leaves it out.",
    CAL, default=sympy.Integer(0), neutral=0, nonnegative=True, plausible=(0, 1e4))
attention_latency = ESTIMATE.input(
    "attention_latency", r"t_{\text{attn}}", "us",
    "Fixed time of one layer's decode attention (replayed from a CUDA graph, as a decode step runs) beyond reading "
    "its KV cache.", CAL, default=sympy.Integer(0), neutral=0, nonnegative=True, plausible=(0, 1e4))
step_overhead = ESTIMATE.input(
    "step_overhead", r"t_{\text{step}}", "ms", "Fixed time per decode step outside the model's kernels "
    "(scheduling, sampling, launches a serving engine adds).", CAL, default=sympy.Integer(0), neutral=0,
    nonnegative=True, plausible=(0, 1e4), label="Per-step engine overhead")
comm_overlap = ESTIMATE.input(
    "comm_overlap", r"\omega", "", "Fraction of a step's communication hidden behind its compute. 1 in bound mode "
    "(the chapter leaves communication out); the calibrations take 0, as decode all-reduces sit between a layer's "
    "matmuls on the critical path.", CAL, default=sympy.Integer(0), neutral=1, nonnegative=True, at_most=1,
    label="Communication hidden behind compute")
attention_flops_counted = ESTIMATE.input(
    "attention_flops_counted", r"\chi_{\text{attn}}", "", "1 when prefill counts attention FLOPs (they grow with "
    "the prompt's square), 0 as the chapter does.", "estimate mode counts them", default=sympy.Integer(1),
    neutral=0, nonnegative=True, at_most=1)
prefill_weight_floor = ESTIMATE.input(
    "prefill_weight_floor", r"\chi_{w}", "", "1 when a prefill takes at least the time to read the weights once, "
    "0 as the chapter does.", "estimate mode: a 128-token prompt cannot finish faster than its weights load",
    default=sympy.Integer(1), neutral=0, nonnegative=True, at_most=1)

target_request_rate = SCENARIO.input(
    "target_request_rate", r"\lambda", "sequence/s", "Requests (sequences) per second to serve.", "assumption",
    default=100 * one("sequence/s"), label="Requests per second to serve")

# --- Cost of ownership and traffic (issue 13). A year is 365 days (8,760 hours), a month 730 hours. ---
PRICES = "research: see symroof/catalog/README.md, prices"
chip_purchase_price = HARDWARE.input(
    "chip_purchase_price", r"\$_{\text{buy}}", "USD/chip", "Purchase price of one chip with its share of the "
    "server (an 8-GPU system's price / 8).", "reseller and analyst prices (catalog)", plausible=(100, 1e7),
    label="Purchase price per chip (server share included)")
RENT = "cloud price list (catalog): the same provider as chip_price where one publishes it"
chip_price_reserved_1y = HARDWARE.input(
    "chip_price_reserved_1y", r"\$_{\text{chip}}^{1y}", "USD/hour/chip", "Price of one chip-hour on a one-year "
    "commitment.", RENT, plausible=(0.01, 1000), label="Price per chip-hour, 1-year commitment")
chip_price_reserved_3y = HARDWARE.input(
    "chip_price_reserved_3y", r"\$_{\text{chip}}^{3y}", "USD/hour/chip", "Price of one chip-hour on a three-year "
    "commitment.", RENT, plausible=(0.01, 1000), label="Price per chip-hour, 3-year commitment")
chip_price_spot = HARDWARE.input(
    "chip_price_spot", r"\$_{\text{chip}}^{\text{spot}}", "USD/hour/chip", "Spot (preemptible) price of one "
    "chip-hour: it varies by the hour and the zone; the catalog's is one observation.", RENT, plausible=(0.01, 1000),
    label="Spot price per chip-hour")
rent_kind = SCENARIO.choice(
    "rent_kind", r"\text{rent}", ("on_demand", "reserved_1y", "reserved_3y", "spot"), "Which rental price a "
    "rented chip-hour pays: on demand (chip_price), a 1- or 3-year commitment, or spot.", "issue 13",
    default="on_demand", label="Rental price")
cost_mode = SCENARIO.choice(
    "cost_mode", r"\text{cost}", ("rent", "own"), "How a chip-hour is paid for: rented at chip_price, or owned "
    "(capital recovery, power and hosting: owned_chip_hour_cost).", "issue 13", default="rent",
    label="Rent or own the chips")
depreciation_years = SCENARIO.input(
    "depreciation_years", r"n_{\text{dep}}", "year", "Years over which an owned chip's price is recovered.",
    "Epoch AI cost model (epoch-research/training-cost-trends): AI server lifetime 5 years (2023+); Amazon and "
    "Meta depreciate servers over 5 to 5.5 years", default=5 * one("year"), plausible=(0.25, 20),
    label="Depreciation period")
cost_of_capital = SCENARIO.input(
    "cost_of_capital", "r", "1/year", "Yearly cost of the capital tied up in owned chips (0 recovers the price in "
    "equal parts).", "A. Damodaran (NYU Stern), US cost of equity at beta 1.0, January 2026: 8.46%",
    default=sympy.Rational(846, 10000) * one("1/year"), nonnegative=True, plausible=(0, 1),
    label="Cost of capital per year")
server_power_factor = SCENARIO.input(
    "server_power_factor", r"k_{\text{server}}", "", "Server power per chip over the chip's TDP (CPUs, memory, "
    "NICs, fans).", "NVIDIA DGX H100 datasheet: 10.2 kW max for 8 x 700 W H100s (10.2 / 5.6 = 1.82)",
    default=sympy.Rational(102, 56), plausible=(1, 5), label="Server power over chip TDP")
pue = SCENARIO.input(
    "pue", r"\text{PUE}", "", "Power usage effectiveness: facility power over IT power.",
    "Uptime Institute global survey 2024: average PUE 1.56", default=sympy.Rational(156, 100), plausible=(1, 3),
    label="PUE")
electricity_price = SCENARIO.input(
    "electricity_price", r"\$_{\text{kWh}}", "USD/kWh", "Price of electricity.",
    "US EIA, average industrial electricity price 2025 (0.0826 USD/kWh, as tabulated by Epoch AI)",
    default=sympy.Rational(826, 10000) * one("USD/kWh"), nonnegative=True, plausible=(0, 2),
    label="Electricity price")
colocation_price = SCENARIO.input(
    "colocation_price", r"\$_{\text{colo}}", "USD/kW/month", "Data-centre space, cooling and upkeep per kW of IT "
    "load, power billed apart.", "CBRE North America Data Center Trends H2 2024: wholesale asking rate, "
    "250-500 kW, primary markets, 184.06 USD/kW/month", default=sympy.Rational(18406, 100) * one("USD/kW/month"),
    nonnegative=True, plausible=(0, 2000), label="Colocation price per kW")
request_rate = SCENARIO.input(
    "request_rate", r"\lambda_{\text{req}}", "sequence/s", "Requests per second of the traffic to plan for.",
    "issue 13; by default target_request_rate", label="Request rate")
input_length = SCENARIO.input(
    "input_length", r"P_{\text{in}}", "token/sequence", "Prompt tokens of a request.",
    "issue 13; by default prefill_length", label="Input tokens per request")
output_length = SCENARIO.input(
    "output_length", r"G_{\text{out}}", "token/sequence", "Generated tokens of a request.",
    "issue 13; by default decode_length", label="Output tokens per request")
cached_prefix_fraction = SCENARIO.input(
    "cached_prefix_fraction", r"f_{\text{cache}}", "", "Share of a prompt's tokens found in a prefix cache (not "
    "prefilled again).", "assumption: no prefix cache", default=sympy.Integer(0), nonnegative=True, at_most=1,
    label="Cached prompt share")
ttft_target = SCENARIO.input(
    "ttft_target", r"T_{\text{TTFT}}^{\text{target}}", "s", "Time-to-first-token target at the percentile.",
    "issue 13 (example: 2 s at p99)", default=2 * one("s"), label="Time to first token target")
ttft_percentile = SCENARIO.input(
    "ttft_percentile", r"p_{\text{TTFT}}", "", "Percentile (0 to 100, exclusive) of requests that must meet the "
    "time-to-first-token target.", "issue 13 (p99)", default=sympy.Integer(99), plausible=(0, 100),
    label="TTFT percentile")
prefill_max_utilisation = SCENARIO.input(
    "prefill_max_utilisation", r"\rho_{\max}", "", "Busiest the prefill servers may be when their number is "
    "not set: the default count keeps their utilisation at or below this.", "assumption: a planning ceiling; "
    "symroof plan sets the count that meets the TTFT target instead", default=sympy.Rational(7, 10), at_most=1,
    label="Prefill utilisation ceiling")
reference_cost_per_million_tokens = SCENARIO.input(
    "reference_cost_per_million_tokens", r"\$_{\text{Mtok}}^{\text{ref}}", "USD/megatoken", "A price per million "
    "output tokens to break even with: another chip's cost (symroof plan --compare) or an API price.",
    "set by the planner", plausible=(1e-4, 1e4), label="Reference cost per million output tokens")
SCENARIO.set_default(request_rate, target_request_rate)
SCENARIO.set_default(input_length, prefill_length)
SCENARIO.set_default(output_length, decode_length)
chip_hour_cost = SCENARIO.input(
    "chip_hour_cost", r"\$_{\text{chip-h}}", "USD/hour/chip", "What one chip-hour costs the plan: chip_price when "
    "renting, owned_chip_hour_cost when owning (set it to price any other way).", "issue 13",
    plausible=(0.001, 1000), label="Cost per chip-hour")
hosting_cost = SCENARIO.input(
    "hosting_cost", r"\$_{\text{host}}", "USD/year/chip", "Yearly hosting and upkeep of one owned chip (power "
    "billed apart); by default colocation for its server share of IT power.", "colocation price x chip TDP x "
    "server power factor", nonnegative=True, plausible=(0, 1e6), label="Hosting per chip-year")
prefill_replicas = SCENARIO.input(
    "prefill_replicas", r"N_{P}", "", "Prefill replicas (slices of n_chips) the traffic's prompts queue for; by "
    "default the fewest that keep them at or below prefill_max_utilisation.", "issue 13: disaggregated fleets",
    integer=True, plausible=(1, 1e7), label="Prefill replicas")
