"""The serving engine's inputs: the workload (how requests arrive) and the engine's own settings.

The workload inputs are the scenario's; the engine's come from an engine profile
(``symroof/engines/*.toml``, ``--engine``) and are neutral in bound mode, where
the engine is the chapter's ideal one: no CPU time, no caps but HBM.
"""

from __future__ import annotations

import sympy

from ..declare import Group, one
from .inputs import SCENARIO, batch_size, prefill_mfu

INPUTS = Group("engine", "Serving engine")
ENGINE = "engine profile (symroof/engines/*.toml, --engine); neutral in bound mode"
WORKLOAD = "the workload (symroof serve: --concurrency, --rate or --batch)"
BIG = 1e12  # a cap that never binds: bound mode's engine has none but HBM

# --- the workload ---
workload = SCENARIO.choice(
    "workload", r"\text{load}", ("concurrency", "rate", "static", "max"),
    "How requests arrive: a closed loop of concurrency users, an open loop at request_rate (Poisson), one static "
    "batch of batch_size prefilled then decoded, or max (offline: as many as the engine admits). By default an "
    "open loop: a plan's traffic at request_rate, each replica taking its share.", WORKLOAD,
    default="rate", label="Workload")
serving_mode = SCENARIO.choice(
    "serving_mode", r"\text{mode}", ("colocated", "disaggregated"),
    "Where prompts are prefilled: colocated (the engine's steady state, prefill chunks riding in its decode steps) "
    "or disaggregated (a prefill fleet of its own; this replica's steps only decode, and a closed loop's "
    "concurrency counts the requests decoding on it).", "issue 28; DistServe (Zhong et al., OSDI 2024)",
    default="colocated", label="Serving mode")
colocated_replicas = SCENARIO.input(
    "colocated_replicas", r"N_{C}", "", "Replicas request_rate is spread over evenly, each prefilling and decoding its "
    "share (colocated): symroof serve's one replica; a plan's colocated fleet, by default the fewest whose "
    "inter-token latency meets the target at the utilisation (symroof plan finds the fewest meeting the TTFT "
    "target too).", "issue 28: colocated fleets", integer=True, plausible=(1, 1e7), label="Colocated replicas")
concurrency = SCENARIO.input(
    "concurrency", "N", "sequence", "Requests in flight in a closed loop (each user sends the next request when "
    "the last one finishes).", WORKLOAD, default=1 * one("sequence"), plausible=(1, 1e8), label="Concurrency")
step_sequences = SCENARIO.input(
    "step_sequences", r"B_{\text{step}}", "sequence", "Sequences one engine step decodes: engine_step_time's own "
    "argument (each workload sets it through its closed form; by default the batch).", "issue 28",
    default=batch_size, nonnegative=True, label="Sequences in the step")
step_prefill_tokens = SCENARIO.input(
    "step_prefill_tokens", r"P_{\text{step}}", "token", "Prompt tokens one engine step prefills: engine_step_time's "
    "own argument (0 for a decode-only step).", "issue 28", default=0 * one("token"), nonnegative=True,
    label="Prompt tokens in the step")
speculative_tokens = SCENARIO.input(
    "speculative_tokens", r"n_{\text{draft}}", "", "Draft tokens a decode step verifies beside each sequence's own "
    "(speculative decoding, multi-token prediction); 0 without.", "assumption: no speculative decoding",
    default=sympy.Integer(0), nonnegative=True, plausible=(0, 64))
accepted_tokens_per_step = SCENARIO.input(
    "accepted_tokens_per_step", r"\bar{a}", "", "Tokens a sequence gains per decode step (1 without speculative "
    "decoding; TensorRT-LLM measures 1.92 to 2.82 for DeepSeek-R1 with 1 to 3 MTP layers).",
    "assumption: no speculative decoding; TensorRT-LLM blog 1 (B200) for MTP", default=sympy.Integer(1),
    plausible=(1, 65))
# --- the engine (a profile; neutral in bound mode) ---
engine_request_overhead = INPUTS.input(
    "engine_request_overhead", r"t_{\text{req}}", "us/sequence", "CPU time per running sequence per step that the "
    "GPU waits for (sampling, bookkeeping, streaming the token).", ENGINE, default=sympy.Integer(0), neutral=0,
    nonnegative=True, plausible=(0, 1e4))
engine_layer_overhead = INPUTS.input(
    "engine_layer_overhead", r"t_{\text{eager}}", "us", "Launch time per layer of a step run eager (a batch above "
    "the largest captured CUDA graph).", ENGINE, default=sympy.Integer(0), neutral=0, nonnegative=True,
    plausible=(0, 1e4))
api_overhead = INPUTS.input(
    "api_overhead", r"t_{\text{API}}", "ms", "Time a request spends before its first step and after its last: the "
    "HTTP frontend, tokenising the prompt, detokenising and streaming.", ENGINE, default=sympy.Integer(0),
    neutral=0, nonnegative=True, plausible=(0, 1e4), label="API time per request")
max_num_seqs = INPUTS.input(
    "max_num_seqs", r"N_{\text{seqs}}^{\max}", "sequence", "Most sequences the engine runs at once (vLLM "
    "max_num_seqs, SGLang max_running_requests, TensorRT-LLM max_batch_size).", ENGINE, default=BIG * one("sequence"),
    neutral=BIG, plausible=(1, BIG), label="Most sequences running")
max_num_batched_tokens = INPUTS.input(
    "max_num_batched_tokens", r"T^{\max}", "token", "Token budget of one step: decode tokens plus the prefill "
    "chunk (vLLM max_num_batched_tokens, SGLang chunked_prefill_size, TensorRT-LLM max_num_tokens).", ENGINE,
    default=BIG * one("token"), neutral=BIG, plausible=(1, BIG), label="Token budget per step")
cuda_graph_max_batch = INPUTS.input(
    "cuda_graph_max_batch", r"B_{\text{graph}}", "sequence", "Largest decode batch replayed from a captured CUDA "
    "graph; above it the step runs eager.", ENGINE, default=BIG * one("sequence"), neutral=BIG, plausible=(1, BIG))
kv_memory_fraction = INPUTS.input(
    "kv_memory_fraction", r"f_{\text{mem}}", "", "The engine's memory setting (vLLM gpu_memory_utilization, SGLang "
    "mem_fraction_static, TensorRT-LLM free_gpu_memory_fraction); kv_memory_basis says what it is a share of.",
    ENGINE, default=sympy.Integer(1), neutral=1, at_most=1, label="Memory fraction")
kv_memory_basis = INPUTS.choice(
    "kv_memory_basis", r"\text{basis}", ("total", "free", "static"), "What the memory fraction is a share of: total "
    "memory holding weights, activations and KV (vLLM); the memory left after weights and activations (TensorRT-LLM); "
    "total memory holding weights and KV, activations outside it (SGLang).", ENGINE, default="total")
activation_reserve = INPUTS.input(
    "activation_reserve", r"M_{\text{act}}", "GB/chip", "Memory per chip the engine keeps for activations, CUDA "
    "graphs and communication buffers, outside the KV pool.", ENGINE, default=sympy.Integer(0), neutral=0,
    nonnegative=True, plausible=(0, 1000))
prefill_separate = INPUTS.input(
    "prefill_separate", r"\chi_{\text{sep}}", "", "1 when prefill chunks run as steps of their own (SGLang's "
    "default), each loading the weights again; 0 when they ride in decode steps (vLLM V1, TensorRT-LLM).", ENGINE,
    default=sympy.Integer(0), neutral=0, nonnegative=True, at_most=1)
kv_replication_counted = INPUTS.input(
    "kv_replication_counted", r"\chi_{\text{rep}}", "", "1 when the KV cache is stored once per tensor-parallel "
    "chip that cannot split it (an MLA latent, or more chips than KV heads), as engines do; 0 as the chapter "
    "shards it evenly.", ENGINE, default=sympy.Integer(0), neutral=0, nonnegative=True, at_most=1)
engine_prefill_mfu = INPUTS.input(
    "engine_prefill_mfu", r"\text{MFU}_{P}^{\text{eng}}", "", "Fraction of peak FLOPs the engine's prefill chunks "
    "reach: the prefill MFU (calibrated, or the chapter's 40%) in estimate mode, peak in bound mode, so that the "
    "bound is never slower than the estimate (issue 28).", ENGINE + "; follows prefill_mfu", default=prefill_mfu,
    neutral=1, at_most=1, label="Prefill MFU of the engine")
expert_imbalance = INPUTS.input(
    "expert_imbalance", r"\iota_{E}", "", "Tokens of the most-loaded expert-parallel rank over the mean: its experts' "
    "work sets the step.", ENGINE, default=sympy.Integer(1), neutral=1, plausible=(1, 10))

# --- the step's kernels (issue 30: the step where the error lives; neutral in bound mode) ---
attention_at_kernel_dtype = INPUTS.input(
    "attention_at_kernel_dtype", r"\chi_{\text{attn}}^{\text{dtype}}", "", "1 when attention FLOPs (QK^T and PV) "
    "are priced at the attention kernel's own dtype (bf16, or FP8 where attention_fp8 says so) even when the "
    "matmuls run FP8 or FP4; 0 at the matmul dtype, as the bound prices them (the physical limit).",
    ENGINE + "; issue 30: FlashAttention, FlashInfer and TensorRT-LLM FMHA compute attention in bf16 unless the KV "
    "cache and the kernel are FP8", default=sympy.Integer(0), neutral=0, nonnegative=True, at_most=1)
attention_fp8 = INPUTS.input(
    "attention_fp8", r"\chi_{\text{attn}}^{\text{fp8}}", "", "1 when the engine's attention kernel computes in "
    "FP8 on an FP8 KV cache (its attention FLOPs then at the FP8 rate); 0 when it computes in bf16 whatever the "
    "KV cache holds.", ENGINE, default=sympy.Integer(0), neutral=0, nonnegative=True, at_most=1)
attention_groups_schedule_apart = INPUTS.input(
    "attention_groups_schedule_apart", r"\chi_{\text{ADP}}", "", "1 when each attention-data-parallel group runs "
    "its own scheduler process, so the CPU time per running sequence is spent in parallel across the groups; 0 "
    "when one process schedules the whole replica.", ENGINE, default=sympy.Integer(0), neutral=0,
    nonnegative=True, at_most=1)
grouped_gemm_half_tokens = INPUTS.input(
    "grouped_gemm_half_tokens", r"m_{1/2}", "token", "Tokens per expert at which a grouped expert GEMM of prefill "
    "runs at half the FLOP rate of a large dense GEMM of the same shape: its rate is m / (m + m_half) of the "
    "dense one at m tokens per expert (0: as dense, the bound; 136 fitted on DeepGEMM's H800 FP8 table).",
    ENGINE + "; issue 30: DeepGEMM README @327ec92f grouped GEMM tables", default=0 * one("token"), neutral=0,
    nonnegative=True, plausible=(0, 1e5))
