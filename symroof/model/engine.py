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

from ..declare import one
from ..declare.functions import Saturation
from .engine_inputs import (
    accepted_tokens_per_step,
    activation_reserve,
    api_overhead,
    colocated_replicas,
    concurrency,
    cuda_graph_max_batch,
    kv_memory_basis,
    kv_memory_fraction,
    max_num_batched_tokens,
    max_num_seqs,
    prefill_separate,
    serving_mode,
    speculative_tokens,
    workload,
)
from .engine_step import (
    GROUP,
    STEP,
    eager_time,
    experts_share,
    kv_replication,
    prefill_chunk_tokens,
    serve_decode_flops_time,
    serve_fixed_time,
    serve_prefill_matmul_time,
    serve_prefill_tokens,
    serve_time_per_prefill_token,
    serve_time_per_sequence,
    weights_stored,
    weights_time,
)
from .inputs import (
    batch_size,
    context_length,
    hbm_capacity,
    input_length,
    n_chips,
    output_length,
    request_rate,
)
from .memory import kv_bytes_per_sequence

_s = 1 + speculative_tokens  # tokens a decode step computes per sequence
LITTLE = "Little's law in steady state (Kleinrock, Queueing Systems I); see symroof/model/engine.py"

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
serve_token_budget_holds_a_step = GROUP.derived(
    "serve_token_budget_holds_a_step", r"T^{\max} \ge 1 + n_{\text{draft}}", "", "Whether the token budget holds "
    "one sequence's decode step (its own token and the draft tokens it verifies).", "engine scheduler (issue 28)",
    sympy.GreaterThan(max_num_batched_tokens, (1 + speculative_tokens) * one("token")), boolean=True, requires=(),
    on_false="refuse",
    says=("A step's token budget holds {max_num_batched_tokens:,.0f} tokens.",
          "max_num_batched_tokens ({max_num_batched_tokens}) is below the {speculative_tokens} + 1 tokens one "
          "sequence's decode step carries: no step could run; raise it"))
serve_seq_cap_whole = GROUP.derived(
    "serve_seq_cap_whole", r"N_{\text{seqs}}^{\max} \in \mathbb{N}", "", "Whether the sequence cap is a whole "
    "number of sequences, at least one.", "engine scheduler (issue 28)",
    sympy.And(sympy.GreaterThan(max_num_seqs, one("sequence")),
              sympy.Eq(sympy.floor(max_num_seqs / one("sequence")) * one("sequence"), max_num_seqs)),
    boolean=True, requires=(), on_false="refuse",
    says=("At most {max_num_seqs:,.0f} sequences run at once.",
          "max_num_seqs ({max_num_seqs}) must be a whole number of sequences, at least 1"))
# --- what one request asks of the engine ---
decode_steps_per_request = GROUP.derived(
    "decode_steps_per_request", "D", "", "Decode steps a request takes after its first token: (output - 1) / "
    "accepted tokens per step.", LITTLE, (output_length / one("token/sequence") - 1) / accepted_tokens_per_step,
    requires=())
_Pn = serve_prefill_tokens
prefill_chunks = GROUP.derived(
    "prefill_chunks", r"n_{\text{chunk}}", "", "Steps a prompt's prefill is spread over: ceil(input / token budget).",
    "engine scheduler (chunked prefill)", sympy.ceiling(_Pn * one("sequence") / max_num_batched_tokens),
    requires=())
steps_per_request = GROUP.derived(
    "steps_per_request", "K", "", "Steps a request stays in the engine: its prefill chunks and its decode steps "
    "(only the decode steps when a prefill fleet of its own prefills it).", LITTLE,
    GROUP.select(serving_mode, {"colocated": prefill_chunks + decode_steps_per_request,
                                "disaggregated": decode_steps_per_request}), requires=())
serve_replica_prompt_tokens = GROUP.derived(
    "serve_replica_prompt_tokens", r"P_{\text{here}}", "token/sequence", "Prompt tokens per request this replica's "
    "steps prefill: its uncached prompt (colocated), none (disaggregated: a prefill fleet of its own does).",
    "issue 28", GROUP.select(serving_mode, {"colocated": _Pn, "disaggregated": 0 * one("token/sequence")}),
    requires=())
_P = serve_replica_prompt_tokens

serve_token_cap = GROUP.derived(
    "serve_token_cap", r"B^{T}", "sequence", "Most requests the token budget keeps running: each brings its prompt "
    "and its decode tokens over its steps in the engine, and a step carries at most max_num_batched_tokens (a "
    "static batch decodes one token per sequence).", "engine scheduler: one token budget per step (issue 17)",
    GROUP.select(workload, {
        "static": max_num_batched_tokens * one("sequence/token"),
        **{w: max_num_batched_tokens * steps_per_request
           / (_P + decode_steps_per_request * (1 + speculative_tokens) * one("token/sequence"))
           for w in ("concurrency", "rate", "max")}}), requires=(), label="Requests the token budget keeps")
batch_cap = GROUP.derived(
    "batch_cap", r"B^{\max}", "sequence", "Most requests the engine runs at once: the least of its sequence cap, "
    "what its token budget keeps running and the requests the KV pool holds.", "engine scheduler caps",
    sympy.Min(max_num_seqs, serve_token_cap, kv_pool_sequences), requires=(), label="Most requests running")

# --- the step in steady state: two regimes, each a closed form; then a second pass ---
_n = {"concurrency": sympy.Min(concurrency, batch_cap), "max": batch_cap}
_D, _K = decode_steps_per_request, steps_per_request  # decode steps, steps in the engine per request
_rate = request_rate / colocated_replicas  # one replica's share of the traffic (serve: all of it)


def regimes(weights, extra, chunk_weights=None) -> list[tuple]:
    """The step's two regimes, weights-bound then FLOPs-bound: (fixed time, load one request brings in
    step-seconds, time per decode sequence). A step is the larger of the two; every workload's closed form
    and every serving threshold is written on these. ``chunk_weights``: what a prefill chunk's own step loads
    (prefill_separate), by default ``weights``."""
    chunk_weights = weights if chunk_weights is None else chunk_weights
    out = []
    for fixed, own, beta, gamma in (
            (serve_fixed_time + extra + weights, serve_fixed_time + extra + chunk_weights, serve_time_per_sequence,
             serve_time_per_prefill_token),
            (serve_fixed_time + extra, serve_fixed_time + extra, serve_time_per_sequence + serve_decode_flops_time,
             serve_time_per_prefill_token + serve_prefill_matmul_time)):
        gamma = gamma + prefill_separate * own / prefill_chunk_tokens  # its own steps reload the weights
        out.append((fixed, beta * _D + gamma * _P, beta))
    return out


def _step(weights, extra, chunk_weights=None):
    """The step time for each workload: the larger of the weights-bound and the FLOPs-bound regime's root."""
    steps = []
    for fixed, load, beta in regimes(weights, extra, chunk_weights):
        x = _rate * load
        steps.append(GROUP.select(workload, {
            "concurrency": fixed + _n["concurrency"] * load / _K,
            "max": fixed + _n["max"] * load / _K,
            "static": fixed + beta * batch_size,
            # nan once saturated, added rather than multiplied, so that a fixed time of 0 (bound mode) keeps it
            "rate": fixed / (1 - x) + one("ms") * Saturation(x)}))
    return sympy.Max(*steps)


_weights_all = weights_time(1)  # every expert's weights: a first pass, and a prefill chunk's own step
serve_first_step_time = GROUP.derived(
    "serve_first_step_time", r"t_{1}", "ms", "The step time of a first pass: every expert's weights loaded, no "
    "eager steps.", STEP, _step(_weights_all, 0 * one("ms")), requires=())
_B = {"concurrency": _n["concurrency"] * _D / _K, "max": _n["max"] * _D / _K, "static": batch_size}


def _decode_batch(t):
    """Decode sequences per step when a step takes ``t`` (an open loop's batch grows with its step)."""
    return GROUP.select(workload, {**_B, "rate": _rate * _D * t})


def _tokens(t):
    """Tokens a step's matmuls carry when a step takes ``t``: decode and draft tokens, and prefill tokens."""
    return _decode_batch(t) * _s * one("token/sequence") + GROUP.select(workload, {
        "concurrency": _n["concurrency"] * _P / _K, "max": _n["max"] * _P / _K, "static": 0 * one("token"),
        "rate": _rate * _P * t})


_c = _Pn * one("sequence") / prefill_chunks  # the mean chunk: a remainder chunk is not charged as a full one


def _mixed_share(t):
    """Share of the routed experts' weights a step loads on average when a step takes ``t``: the steps that carry
    prompt tokens (a chunk, or the mean prompt tokens when more) touch the experts of their decodes and that
    chunk, the others the experts of their decodes alone, each step by its own tokens; where prefill chunks run
    as steps of their own, every decode step reads its decodes' experts alone (issue 30)."""
    decode = _decode_batch(t) * _s * one("token/sequence")
    chunk = sympy.Max(_c, _tokens(t) - decode)  # prompt tokens of a step that carries any
    # share of the decode steps that carry prompt tokens (none where prefill chunks run as steps of their own)
    carrying = (1 - prefill_separate) * (_tokens(t) - decode) / chunk
    return carrying * experts_share(decode + chunk) + (1 - carrying) * experts_share(decode)


_chunk_weights = weights_time(experts_share(prefill_chunk_tokens))  # a prefill chunk's own step (prefill_separate)
serve_first_decode_batch = GROUP.derived(
    "serve_first_decode_batch", r"B_{1}", "sequence", "Decode sequences per step of the first pass.", LITTLE,
    _decode_batch(serve_first_step_time), requires=())
serve_tokens_per_step = GROUP.derived(
    "serve_tokens_per_step", r"T_{\text{step}}", "token", "Tokens a step's matmuls carry (decode and draft tokens, "
    "prefill tokens), by the first pass.", LITTLE, _tokens(serve_first_step_time), requires=())
serve_experts_loaded = GROUP.derived(
    "serve_experts_loaded", r"f_{E}", "", "Share of the routed experts' weights a step loads: all of a dense "
    "model's; E (1 - (1 - k/E)^T) / E of an MoE layer's for each step's own T tokens (its decodes, and the prefill "
    "chunk of the steps that carry one), averaged over the steps (by the first pass).",
    "issue 11: B tokens each choosing k of E experts, uniformly and independently; issue 30: each step's own tokens",
    _mixed_share(serve_first_step_time), requires=())
serve_eager = GROUP.derived(
    "serve_eager", r"\chi_{\text{eager}}", "", "1 when the decode batch is above the largest captured CUDA graph "
    "(the step runs eager), else 0.", "engine CUDA graph capture sizes",
    sympy.Piecewise((1, serve_first_decode_batch > cuda_graph_max_batch), (0, True)), requires=())
# the first pass loads every expert, so its step, batch and tokens are too large: each pass from above comes
# closer to the fixed point t = step(experts touched by the tokens of a step of t)
serve_second_step_time = GROUP.derived(
    "serve_second_step_time", r"t_{2}", "ms", "The step time of a second pass: the experts the first pass's tokens "
    "touch, eager above the largest CUDA graph.", STEP,
    _step(weights_time(serve_experts_loaded), eager_time(serve_first_decode_batch), _chunk_weights), requires=())
serve_second_tokens_per_step = GROUP.derived(
    "serve_second_tokens_per_step", r"T_{2}", "token", "Tokens a step carries, by the second pass.", LITTLE,
    _tokens(serve_second_step_time), requires=())
_second_batch = _decode_batch(serve_second_step_time)
serve_step_time = GROUP.derived(
    "serve_step_time", r"t_{\text{step}}", "ms", "One engine step in steady state: weights of the experts the "
    "step's tokens touch, KV and attention of the running sequences, the prefill chunk it carries, collectives "
    "and the engine's CPU time (a third pass: the experts the second pass's tokens touch).", STEP,
    _step(weights_time(_mixed_share(serve_second_step_time)), eager_time(_second_batch), _chunk_weights),
    label="Engine step time")
_eager = eager_time(_second_batch)

# --- what the users see ---
OUT = "issue 17: vLLM's benchmark definitions (TTFT, TPOT = (e2e - ttft) / (output - 1)); Little's law"
serve_decode_batch = GROUP.derived(
    "serve_decode_batch", r"B_{\text{dec}}", "sequence", "Sequences a step decodes.", LITTLE,
    GROUP.select(workload, {**_B, "rate": _rate * _D * serve_step_time}), label="Sequences decoded per step")
# a step carrying a chunk beside the decodes touches the experts of its own tokens
_weights_touched = weights_time(experts_share(serve_decode_batch * _s * one("token/sequence") + _c))
serve_prefill_chunk_time = GROUP.derived(
    "serve_prefill_chunk_time", r"t_{\text{chunk}}^{P}", "ms", "A step that carries only one of a prompt's prefill "
    "chunks (a prefill replica of its own): the fixed time, then the weights or the chunk's FLOPs, the larger, "
    "and its attention.", STEP, sympy.Max(
        serve_fixed_time + _weights_all + serve_time_per_prefill_token * _c,
        serve_fixed_time + (serve_time_per_prefill_token + serve_prefill_matmul_time) * _c), requires=())
serve_prefill_step_time = GROUP.derived(
    "serve_prefill_step_time", r"t_{\text{step}}^{P}", "ms", "A step that carries one of the request's prefill "
    "chunks beside the running decodes: at least the mean step, and at least the chunk's own weights-bound or "
    "FLOPs-bound time; on a prefill fleet of its own, the chunk's step with no decodes.", STEP,
    GROUP.select(serving_mode, {"disaggregated": serve_prefill_chunk_time, "colocated": sympy.Max(
        serve_step_time,
              serve_fixed_time + _eager + _weights_touched + serve_time_per_sequence * serve_decode_batch
              + serve_time_per_prefill_token * _c,
              serve_fixed_time + _eager + (serve_time_per_sequence + serve_decode_flops_time) * serve_decode_batch
              + (serve_time_per_prefill_token + serve_prefill_matmul_time) * _c)}), requires=())
serve_request_time = GROUP.derived(
    "serve_request_time", r"T_{\text{engine}}", "s", "Time a request spends in the engine: its prefill chunks and "
    "its decode steps.", LITTLE, prefill_chunks * serve_prefill_step_time + _D * serve_step_time, requires=())
itl = GROUP.derived(
    "itl", r"\text{ITL}", "ms", "Mean inter-token latency (vLLM's TPOT): time between a request's tokens after "
    "the first.", OUT, serve_step_time / accepted_tokens_per_step, label="Inter-token latency")
_chunked = prefill_chunks * serve_prefill_step_time
_static_steps = sympy.ceiling(batch_size * _Pn / max_num_batched_tokens)
static_prefill_time = GROUP.derived(
    "static_prefill_time", r"T_{P}^{\text{batch}}", "s", "Prefill of a whole static batch: its prompts in steps "
    "of the token budget, each paying the fixed time, the weights or the FLOPs, and attention.", STEP,
    _static_steps * serve_fixed_time + sympy.Max(_static_steps * _weights_all,
                                                 batch_size * _Pn * serve_prefill_matmul_time)
    + batch_size * _Pn * serve_time_per_prefill_token, requires=())
prefill_share_utilisation = GROUP.derived(
    "prefill_share_utilisation", r"\rho_{P}", "", "Share of each step's token budget the arriving prompts take "
    "(open loop).", "M/D/1 on the prefill share (issue 17)",
    _rate * _P * serve_step_time / max_num_batched_tokens, requires=())
prefill_queue_wait = GROUP.derived(
    "prefill_queue_wait", r"W_{P}", "ms", "Mean wait of an arriving prompt for room in the token budget (open loop; "
    "M/D/1: rho S / (2 (1 - rho)), S its chunked prefill).", "M/D/1 (Pollaczek-Khinchine, deterministic service)",
    _chunked * (prefill_share_utilisation / (2 * (1 - prefill_share_utilisation))
                + Saturation(prefill_share_utilisation)), requires=())
# how long a request holds a place in this replica: all of its time, or only its decode steps (disaggregated)
_held = GROUP.select(serving_mode, {"colocated": serve_request_time, "disaggregated": _D * serve_step_time})
_closed = {"concurrency": GROUP.select(serving_mode, {
    "colocated": sympy.Min(concurrency / (api_overhead + serve_request_time), _n["concurrency"] / serve_request_time),
    "disaggregated": _n["concurrency"] / _held}), "max": _n["max"] / _held}
request_throughput = GROUP.derived(
    "request_throughput", r"\lambda_{\text{out}}", "sequence/s", "Requests finished per second.", LITTLE,
    GROUP.select(workload, {**_closed, "rate": _rate,
                            "static": batch_size / (static_prefill_time + _D * serve_step_time)}),
    label="Requests per second")
ttft = GROUP.derived(
    "ttft", r"\text{TTFT}", "ms", "Mean time to first token: the API's time, waiting for a slot (a closed loop "
    "above the engine's cap) or for room in the token budget (an open loop), and the prompt's prefill chunks.",
    OUT, api_overhead + GROUP.select(workload, {
        "concurrency": GROUP.select(serving_mode, {  # a user's cycle is the API's time, its wait and its request
            "colocated": concurrency / request_throughput - _D * serve_step_time - api_overhead,
            "disaggregated": _chunked}),
        "max": _chunked, "static": static_prefill_time,
        "rate": GROUP.select(serving_mode, {"colocated": prefill_queue_wait,
                                            "disaggregated": 0 * one("ms")}) + _chunked}),
    label="Time to first token")
e2e_latency = GROUP.derived(
    "e2e_latency", r"T_{\text{e2e}}", "s", "Mean end-to-end latency of a request: its first token, then (output - "
    "1) tokens at the inter-token latency.", OUT, ttft + (output_length / one("token/sequence") - 1) * itl,
    label="End-to-end latency")
served_concurrency = GROUP.derived(
    "served_concurrency", r"\bar{N}", "sequence", "Requests in flight: request throughput x end-to-end latency "
    "(Little's law).", LITTLE, request_throughput * e2e_latency, label="Requests in flight")
running_batch = GROUP.derived(
    "running_batch", r"B_{\text{run}}", "sequence", "Requests the engine holds at once (prefilling or decoding).",
    LITTLE, GROUP.select(workload, {**_n, "static": batch_size, "rate": _rate * _held}),
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
