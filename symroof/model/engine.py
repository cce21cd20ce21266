"""The serving engine: what vLLM, SGLang or TensorRT-LLM deliver for a workload, in closed form.

An engine runs iterations ("steps"). A step decodes one token (or, with
speculative decoding, verifies ``1 + speculative_tokens``) for each running
sequence and prefills a chunk of prompt tokens, under a token budget
(``max_num_batched_tokens``). Over the step model of the chapter, per step::

    t = cpu + comm + KV and attention(B) + max(weights, FLOPs(B, P)) (+ prefill attention(P))

is affine in the decode sequences B and the prefill tokens P, in each of two
regimes (weights or FLOPs bound). In steady state Little's law gives B and P
(Kleinrock): a closed loop of N users keeps n = min(N, cap) requests in the
engine, each for K = ceil(ISL / chunk) + (OSL - 1) / accepted steps, so
B = n D / K and P = n ISL / K; an open loop at rate r has B = r D t and
P = r ISL t, so t = a / (1 - r phi), saturating at r = 1 / phi; a static batch
prefills everything and then decodes B sequences. The step time is the larger
of the two regimes' roots (each regime is a line of slope below 1). A second
pass refines what the first could not know: the experts a step's tokens touch
(E (1 - (1 - k/E)^T)) and whether the batch ran eager (above the largest
captured CUDA graph).

The engine's own behaviour (per-step and per-request CPU time, API time, batch
caps, the KV pool's memory fraction and how the engine measures it) comes from
an engine profile (``symroof/engines/*.toml``, ``--engine``); in bound mode
every such factor is neutral: no overheads and no caps but HBM, the chapter's
idealised engine. The closed loop leaves out the time a request spends in the
client between requests; ramp-up and drain of a finite benchmark are not
modelled.
"""

from __future__ import annotations

import sympy

from ..declare import Group, one
from .communication import (
    attention_data_parallel,
    comm_exposed,
    moe_layers,
    pipeline_stages,
    step_time_comm_fixed,
    step_time_comm_per_sequence,
    tensor_parallel_size,
)
from .decode import expert_miss_probability, flops_per_param_token, step_time_overhead
from .engine_inputs import (
    accepted_tokens_per_step,
    activation_reserve,
    api_overhead,
    concurrency,
    cuda_graph_max_batch,
    engine_layer_overhead,
    engine_request_overhead,
    expert_imbalance,
    kv_memory_basis,
    kv_memory_fraction,
    kv_replication_counted,
    max_num_batched_tokens,
    max_num_seqs,
    prefill_separate,
    speculative_tokens,
    workload,
)
from .inputs import (
    attention,
    batch_size,
    chip_flops,
    context_length,
    d_head,
    decode_flops_efficiency,
    expert_bytes_per_param,
    hbm_bandwidth,
    hbm_capacity,
    input_length,
    kv_lora_rank,
    kv_stream_efficiency,
    mlp,
    n_chips,
    n_experts_per_token,
    n_heads,
    n_kv_heads,
    n_layers,
    output_length,
    prefill_length,
    prefill_mfu,
    qk_rope_head_dim,
    request_rate,
    weight_stream_efficiency,
)
from .memory import active_param_count, expert_params, kv_bytes_per_sequence, param_bytes, routed_expert_params
from .prefill import prefill_attention_flops

GROUP = Group("serve", "Serving a workload", requires=("fits_in_hbm",))
LITTLE = "Little's law in steady state (Kleinrock, Queueing Systems I); see symroof/model/engine.py"

# --- what the engine holds ---
_a = attention_data_parallel
_tp_attn = tensor_parallel_size / _a  # chips one attention group splits its heads over
kv_replication = GROUP.derived(
    "kv_replication", r"\rho_{KV}", "", "Copies of each sequence's KV cache the engine stores: an MLA latent is whole "
    "on every chip of its attention group; GQA heads are split until there are more chips than KV heads.",
    "vLLM/SGLang MLA tensor parallelism; DeepSeek-V3 paper (data-parallel attention)",
    1 + kv_replication_counted * (GROUP.select(attention, {
        "gqa": sympy.Max(1, _tp_attn / n_kv_heads), "mla": _tp_attn}) - 1), requires=())
nonexpert_bytes = param_bytes - routed_expert_params * expert_bytes_per_param
weights_stored = GROUP.derived(
    "weights_stored", r"M_{\text{w}}^{\text{stored}}", "GB", "Weights the replica stores: the attention and dense "
    "weights once per attention group, the routed experts once.", "issue 17: attention data parallelism",
    _a * nonexpert_bytes + routed_expert_params * expert_bytes_per_param, requires=())
_hbm = n_chips * hbm_capacity
_act = n_chips * activation_reserve
kv_pool_bytes = GROUP.derived(
    "kv_pool_bytes", r"M_{\text{KV}}^{\text{pool}}", "GB", "Memory the engine gives the KV cache: by its memory "
    "fraction and what that is a share of.", "engine docs (vLLM gpu_memory_utilization, TensorRT-LLM "
    "free_gpu_memory_fraction, SGLang mem_fraction_static)",
    sympy.Max(0, GROUP.select(kv_memory_basis, {
        "total": kv_memory_fraction * _hbm - weights_stored - _act,
        "free": kv_memory_fraction * (_hbm - weights_stored - _act),
        "static": kv_memory_fraction * _hbm - weights_stored})), requires=(), label="KV pool")
kv_bytes_per_request = GROUP.at(
    "kv_bytes_per_request", r"M_{\text{KV}}^{\text{req}}", "GB/sequence", "KV cache one request occupies in the "
    "pool at its end (input plus output tokens), copies included.", "model config", kv_bytes_per_sequence,
    {context_length: input_length + output_length}, requires=())
kv_pool_sequences = GROUP.derived(
    "kv_pool_sequences", r"N_{\text{KV}}", "sequence", "Requests whose whole KV cache the pool holds at once.",
    "engine memory accounting", kv_pool_bytes / (kv_bytes_per_request * kv_replication), requires=(),
    label="Requests the KV pool holds")
serve_kv_holds_a_request = GROUP.derived(
    "serve_kv_holds_a_request", r"N_{\text{KV}} \ge 1", "", "Whether the KV pool holds at least one request of "
    "the workload.", "engine memory accounting", sympy.GreaterThan(kv_pool_sequences, one("sequence")),
    boolean=True, requires=(),
    says=("The KV pool holds {kv_pool_sequences:,.0f} requests of {input_length:,.0f} + {output_length:,.0f} tokens.",
          "the KV cache cannot hold one request: the pool has {kv_pool_bytes:,.1f} GB and one request of "
          "{input_length:,.0f} + {output_length:,.0f} tokens needs {kv_bytes_per_request:,.2f} GB (x "
          "{kv_replication:,.0f} copies); add chips, shorten the request or raise the memory fraction"))
# --- what one request asks of the engine ---
decode_steps_per_request = GROUP.derived(
    "decode_steps_per_request", "D", "", "Decode steps a request takes after its first token: (output - 1) / "
    "accepted tokens per step.", LITTLE, (output_length / one("token/sequence") - 1) / accepted_tokens_per_step,
    requires=())
prefill_chunk_tokens = GROUP.derived(
    "prefill_chunk_tokens", r"T_{\text{chunk}}", "token", "Prompt tokens of one prefill step: the token budget, or "
    "the whole prompt when it fits.", "engine scheduler (chunked prefill)",
    sympy.Min(max_num_batched_tokens, input_length * one("sequence")), requires=())
prefill_chunks = GROUP.derived(
    "prefill_chunks", r"n_{\text{chunk}}", "", "Steps a prompt's prefill is spread over: ceil(input / token budget).",
    "engine scheduler (chunked prefill)", sympy.ceiling(input_length * one("sequence") / max_num_batched_tokens),
    requires=())
steps_per_request = GROUP.derived(
    "steps_per_request", "K", "", "Steps a request stays in the engine: its prefill chunks and its decode steps.",
    LITTLE, prefill_chunks + decode_steps_per_request, requires=())

serve_token_cap = GROUP.derived(
    "serve_token_cap", r"B^{T}", "sequence", "Most requests the token budget keeps running: each brings its prompt "
    "and its decode tokens over its steps in the engine, and a step carries at most max_num_batched_tokens (a "
    "static batch decodes one token per sequence).", "engine scheduler: one token budget per step (issue 17)",
    GROUP.select(workload, {
        "static": max_num_batched_tokens * one("sequence/token"),
        **{w: max_num_batched_tokens * steps_per_request
           / (input_length + decode_steps_per_request * (1 + speculative_tokens) * one("token/sequence"))
           for w in ("concurrency", "rate", "max")}}), requires=(), label="Requests the token budget keeps")
batch_cap = GROUP.derived(
    "batch_cap", r"B^{\max}", "sequence", "Most requests the engine runs at once: the least of its sequence cap, "
    "what its token budget keeps running and the requests the KV pool holds.", "engine scheduler caps",
    sympy.Min(max_num_seqs, serve_token_cap, kv_pool_sequences), requires=(), label="Most requests running")

# --- what a step costs: a fixed part, a part per decode sequence, a part per prefill token ---
STEP = "the chapter's step model, per engine step (issue 17); see symroof/model/engine.py"
_Y = n_chips
_s = 1 + speculative_tokens  # tokens a decode step computes per sequence
_mean_context = input_length + output_length / 2
serve_kv_bytes_per_sequence = GROUP.at(
    "serve_kv_bytes_per_sequence", r"M_{\text{KV}}^{\bar S}", "GB/sequence", "KV cache of a decoding sequence at "
    "its mean context (input plus half the output).", STEP, kv_bytes_per_sequence,
    {context_length: _mean_context}, requires=())
_width = GROUP.select(attention, {"gqa": 2 * d_head, "mla": 2 * kv_lora_rank + qk_rope_head_dim})
serve_attention_time_per_sequence = GROUP.derived(
    "serve_attention_time_per_sequence", r"\tau_{\text{attn}}", "us/sequence", "Decode attention of one sequence "
    "per step: reading its KV (copies included) or its attention FLOPs (an absorbed MLA latent is multiplied by "
    "every head), the larger.", "DeepSeek-V2 paper (absorbed MLA); FlashMLA README (compute-bound decode)",
    sympy.Max(serve_kv_bytes_per_sequence * kv_replication / (_Y * hbm_bandwidth * kv_stream_efficiency),
              flops_per_param_token * one("parameter") * n_heads * _width * n_layers * _mean_context * _s
              / (_Y * chip_flops * decode_flops_efficiency)), requires=())
serve_flop_params = GROUP.derived(
    "serve_flop_params", r"N_{\text{active}}^{\iota}", "parameter", "Parameters a token's matmuls use, the routed "
    "experts' counted at the most-loaded expert-parallel rank's share.", STEP,
    active_param_count + (expert_imbalance - 1) * GROUP.select(mlp, {
        "dense": 0 * one("parameter"), "moe": moe_layers * n_experts_per_token * expert_params}), requires=())
serve_decode_flops_time = GROUP.derived(
    "serve_decode_flops_time", r"\tau_{F}", "us/sequence", "Matmul FLOPs time of one decode sequence per step "
    "(its own token and any draft tokens it verifies).", STEP,
    flops_per_param_token * serve_flop_params * _s * one("token/sequence")
    / (_Y * chip_flops * decode_flops_efficiency), requires=())
serve_prefill_attention_flops = GROUP.at(
    "serve_prefill_attention_flops", r"F_{\text{attn}}^{P}", "FLOP", "Attention FLOPs of one request's prefill.",
    STEP, prefill_attention_flops, {prefill_length: input_length}, requires=())
serve_prefill_matmul_time = GROUP.derived(
    "serve_prefill_matmul_time", r"\tau_{P}", "us/token", "Matmul FLOPs time of one prompt token inside a step, at "
    "the prefill MFU.", STEP, flops_per_param_token * serve_flop_params / (_Y * chip_flops * prefill_mfu), requires=())
serve_fixed_time = GROUP.derived(
    "serve_fixed_time", r"t_{0}", "ms", "The part of every step that no token changes: the engine's per-step "
    "overhead, every layer's attention latency and the latency of the step's collectives.", STEP,
    step_time_overhead + comm_exposed * step_time_comm_fixed, requires=())
serve_time_per_sequence = GROUP.derived(
    "serve_time_per_sequence", r"\beta", "us/sequence", "What each decode sequence adds to a step besides matmul "
    "FLOPs: attention, the engine's CPU time per sequence, and the bytes of the collectives.", STEP,
    serve_attention_time_per_sequence + engine_request_overhead
    + comm_exposed * step_time_comm_per_sequence * _s, requires=())
serve_time_per_prefill_token = GROUP.derived(
    "serve_time_per_prefill_token", r"\gamma", "us/token", "What each prefill token adds to a step besides its "
    "matmul FLOPs: its share of the causal attention and the bytes of the collectives it sends.", STEP,
    serve_prefill_attention_flops / (input_length * one("sequence") * _Y * chip_flops * prefill_mfu)
    + comm_exposed * step_time_comm_per_sequence * one("sequence/token"), requires=())

# --- the step in steady state: two regimes, each a closed form; then a second pass ---
_n = {"concurrency": sympy.Min(concurrency, batch_cap), "max": batch_cap}
_D, _K, _P = decode_steps_per_request, steps_per_request, input_length  # steps, steps, prompt tokens per request
_rate = request_rate


def _load(beta, gamma):
    """(load per request in step-seconds, as a rate multiplies it): beta D + gamma P."""
    return beta * _D + gamma * _P


def _step(weights, extra):
    """The step time for each workload: the larger of the weights-bound and the FLOPs-bound regime's root."""
    regimes = []
    for fixed, beta, gamma in (
            (serve_fixed_time + extra + weights, serve_time_per_sequence, serve_time_per_prefill_token),
            (serve_fixed_time + extra, serve_time_per_sequence + serve_decode_flops_time,
             serve_time_per_prefill_token + serve_prefill_matmul_time)):
        gamma = gamma + prefill_separate * fixed / prefill_chunk_tokens  # its own steps reload the weights
        x = _rate * _load(beta, gamma)
        regimes.append(GROUP.select(workload, {
            "concurrency": fixed + _n["concurrency"] * _load(beta, gamma) / _K,
            "max": fixed + _n["max"] * _load(beta, gamma) / _K,
            "static": fixed + beta * batch_size,
            "rate": fixed * sympy.Piecewise((1 / (1 - x), x < 1), (sympy.nan, True))}))  # nan: saturated
    return sympy.Max(*regimes)


# a token's path loads every pipeline stage's weights in turn (as step_time_params)
_weights_all = pipeline_stages * weights_stored / (_Y * hbm_bandwidth * weight_stream_efficiency)
serve_first_step_time = GROUP.derived(
    "serve_first_step_time", r"t_{1}", "ms", "The step time of a first pass: every expert's weights loaded, no "
    "eager steps.", STEP, _step(_weights_all, 0 * one("ms")), requires=())
_B = {"concurrency": _n["concurrency"] * _D / _K, "max": _n["max"] * _D / _K, "static": batch_size}
serve_first_decode_batch = GROUP.derived(
    "serve_first_decode_batch", r"B_{1}", "sequence", "Decode sequences per step of the first pass.", LITTLE,
    GROUP.select(workload, {**_B, "rate": _rate * _D * serve_first_step_time}), requires=())
serve_tokens_per_step = GROUP.derived(
    "serve_tokens_per_step", r"T_{\text{step}}", "token", "Tokens a step's matmuls carry (decode and draft tokens, "
    "prefill tokens), by the first pass.", LITTLE,
    serve_first_decode_batch * _s * one("token/sequence") + GROUP.select(workload, {
        "concurrency": _n["concurrency"] * _P / _K, "max": _n["max"] * _P / _K, "static": 0 * one("token"),
        "rate": _rate * _P * serve_first_step_time}), requires=())
serve_experts_loaded = GROUP.derived(
    "serve_experts_loaded", r"f_{E}", "", "Share of the routed experts' weights a step loads: all of a dense "
    "model's; E (1 - (1 - k/E)^T) / E of an MoE layer's for the step's T tokens.",
    "issue 11: B tokens each choosing k of E experts, uniformly and independently",
    GROUP.select(mlp, {"dense": sympy.Integer(1),
                       "moe": 1 - expert_miss_probability ** (serve_tokens_per_step / one("token"))}), requires=())
serve_eager = GROUP.derived(
    "serve_eager", r"\chi_{\text{eager}}", "", "1 when the decode batch is above the largest captured CUDA graph "
    "(the step runs eager), else 0.", "engine CUDA graph capture sizes",
    sympy.Piecewise((1, serve_first_decode_batch > cuda_graph_max_batch), (0, True)), requires=())
_weights_touched = (pipeline_stages * (nonexpert_bytes * _a + routed_expert_params * expert_bytes_per_param
                                       * serve_experts_loaded) / (_Y * hbm_bandwidth * weight_stream_efficiency))
_eager = serve_eager * n_layers * engine_layer_overhead
serve_step_time = GROUP.derived(
    "serve_step_time", r"t_{\text{step}}", "ms", "One engine step in steady state: weights of the experts the "
    "step's tokens touch, KV and attention of the running sequences, the prefill chunk it carries, collectives "
    "and the engine's CPU time.", STEP, _step(_weights_touched, _eager), label="Engine step time")

# --- what the users see ---
OUT = "issue 17: vLLM's benchmark definitions (TTFT, TPOT = (e2e - ttft) / (output - 1)); Little's law"
serve_decode_batch = GROUP.derived(
    "serve_decode_batch", r"B_{\text{dec}}", "sequence", "Sequences a step decodes.", LITTLE,
    GROUP.select(workload, {**_B, "rate": _rate * _D * serve_step_time}), label="Sequences decoded per step")
_c = prefill_chunk_tokens
serve_prefill_step_time = GROUP.derived(
    "serve_prefill_step_time", r"t_{\text{step}}^{P}", "ms", "A step that carries one of the request's prefill "
    "chunks beside the running decodes: at least the mean step, and at least the chunk's own weights-bound or "
    "FLOPs-bound time.", STEP,
    sympy.Max(serve_step_time,
              serve_fixed_time + _eager + _weights_touched + serve_time_per_sequence * serve_decode_batch
              + serve_time_per_prefill_token * _c,
              serve_fixed_time + _eager + (serve_time_per_sequence + serve_decode_flops_time) * serve_decode_batch
              + (serve_time_per_prefill_token + serve_prefill_matmul_time) * _c), requires=())
serve_request_time = GROUP.derived(
    "serve_request_time", r"T_{\text{engine}}", "s", "Time a request spends in the engine: its prefill chunks and "
    "its decode steps.", LITTLE, prefill_chunks * serve_prefill_step_time + _D * serve_step_time, requires=())
itl = GROUP.derived(
    "itl", r"\text{ITL}", "ms", "Mean inter-token latency (vLLM's TPOT): time between a request's tokens after "
    "the first.", OUT, serve_step_time / accepted_tokens_per_step, label="Inter-token latency")
_chunked = prefill_chunks * serve_prefill_step_time
_static_steps = sympy.ceiling(batch_size * input_length / max_num_batched_tokens)
static_prefill_time = GROUP.derived(
    "static_prefill_time", r"T_{P}^{\text{batch}}", "s", "Prefill of a whole static batch: its prompts in steps "
    "of the token budget, each paying the fixed time, the weights or the FLOPs, and attention.", STEP,
    _static_steps * serve_fixed_time + sympy.Max(_static_steps * _weights_all,
                                                 batch_size * input_length * serve_prefill_matmul_time)
    + batch_size * input_length * serve_time_per_prefill_token, requires=())
prefill_share_utilisation = GROUP.derived(
    "prefill_share_utilisation", r"\rho_{P}", "", "Share of each step's token budget the arriving prompts take "
    "(open loop).", "M/D/1 on the prefill share (issue 17)",
    _rate * input_length * serve_step_time / max_num_batched_tokens, requires=())
prefill_queue_wait = GROUP.derived(
    "prefill_queue_wait", r"W_{P}", "ms", "Mean wait of an arriving prompt for room in the token budget (open loop; "
    "M/D/1: rho S / (2 (1 - rho)), S its chunked prefill).", "M/D/1 (Pollaczek-Khinchine, deterministic service)",
    _chunked * sympy.Piecewise((prefill_share_utilisation / (2 * (1 - prefill_share_utilisation)),
                                prefill_share_utilisation < 1), (sympy.nan, True)), requires=())
_closed = {w: sympy.Min(concurrency / (api_overhead + serve_request_time), _n[w] / serve_request_time)
           if w == "concurrency" else _n[w] / serve_request_time for w in _n}
request_throughput = GROUP.derived(
    "request_throughput", r"\lambda_{\text{out}}", "sequence/s", "Requests finished per second.", LITTLE,
    GROUP.select(workload, {**_closed, "rate": _rate,
                            "static": batch_size / (static_prefill_time + _D * serve_step_time)}),
    label="Requests per second")
ttft = GROUP.derived(
    "ttft", r"\text{TTFT}", "ms", "Mean time to first token: the API's time, waiting for a slot (a closed loop "
    "above the engine's cap) or for room in the token budget (an open loop), and the prompt's prefill chunks.",
    OUT, GROUP.select(workload, {
        "concurrency": concurrency / request_throughput - _D * serve_step_time,
        "max": _chunked, "static": static_prefill_time,
        "rate": api_overhead + prefill_queue_wait + _chunked}), label="Time to first token")
e2e_latency = GROUP.derived(
    "e2e_latency", r"T_{\text{e2e}}", "s", "Mean end-to-end latency of a request: its first token, then (output - "
    "1) tokens at the inter-token latency.", OUT, ttft + (output_length / one("token/sequence") - 1) * itl,
    label="End-to-end latency")
served_concurrency = GROUP.derived(
    "served_concurrency", r"\bar{N}", "sequence", "Requests in flight: request throughput x end-to-end latency "
    "(Little's law).", LITTLE, request_throughput * e2e_latency, label="Requests in flight")
running_batch = GROUP.derived(
    "running_batch", r"B_{\text{run}}", "sequence", "Requests the engine holds at once (prefilling or decoding).",
    LITTLE, GROUP.select(workload, {**_n, "static": batch_size, "rate": _rate * serve_request_time}),
    label="Requests the engine runs")
output_throughput = GROUP.derived(
    "output_throughput", r"\text{TPS}_{\text{out}}", "token/s", "Output tokens per second of the replica.", OUT,
    request_throughput * output_length, label="Output tokens per second")
output_throughput_per_chip = GROUP.derived(
    "output_throughput_per_chip", r"\text{TPS}_{\text{out}}^{\text{chip}}", "token/s/chip", "Output tokens per "
    "second per chip.", OUT, output_throughput / n_chips, label="Output tokens per second per chip")
output_throughput_per_user = GROUP.derived(
    "output_throughput_per_user", r"\text{TPS}_{\text{user}}", "token/s/sequence", "Output tokens per second one "
    "request sees after its first (1 / ITL).", OUT, one("token/sequence") / itl,
    label="Output tokens per second per user")
serve_stable = GROUP.derived(
    "serve_stable", r"\lambda < \lambda^{\max}", "", "Whether the engine keeps up with the workload (an open "
    "loop below saturation, its decode batch within the caps; a closed loop always does, its excess waits).",
    "open-loop saturation: r phi < 1 in both regimes", GROUP.select(workload, {
        "concurrency": sympy.true, "max": sympy.true, "static": sympy.LessThan(batch_size, batch_cap),
        "rate": sympy.And(sympy.StrictLessThan(prefill_share_utilisation, 1),
                          sympy.LessThan(running_batch, batch_cap))}),
    boolean=True, requires=(), label="Keeps up with the workload",
    says=("The engine keeps up: {running_batch:,.1f} requests running of at most {batch_cap:,.0f}.",
          "OVERLOADED: the workload needs more than the engine can run (at most {batch_cap:,.0f} requests at "
          "once, {kv_pool_sequences:,.0f} by its KV pool); latency grows without bound"))
