"""Planning: what serving a request rate at a latency target costs.

Builds on the seed's QPS-per-chip and cost arithmetic: pick the largest batch
that both fits in HBM and meets the per-token latency target, count the
replicas (slices of ``n_chips``) a request rate needs at a utilisation, and
price them.

The traffic plan (issue 13) serves prefill and decode on separate fleets of
the same slice (disaggregated, as the chapter's prefill:generate ratio does):
decode replicas for the output tokens at the planning batch; prefill replicas
as an M/M/c queue (Poisson arrivals, one prompt at a time per replica), whose
time to first token at a percentile is the prefill time, plus the Erlang C
wait at that percentile, plus moving the prompt's KV to the decode fleet.
Where that queue model stops being true: prefill time is nearly fixed for a
fixed prompt length (M/D/c waits are shorter, so the percentile is
conservative), real engines batch prompts (fewer replicas needed), and bursty
traffic (not Poisson) waits longer. A colocated fleet (issue 28) is
colocated_replicas engines, each an open loop at its share of the traffic
with prefill chunks riding in its decode steps (symroof/model/engine.py): its
TTFT at the percentile is the engine's mean wait for room in the token budget
with an exponential tail; ``serving_mode`` picks the fleet, and symroof plan
scores both.
"""

from __future__ import annotations

import sympy

from ..declare import Group, one
from ..declare.functions import ErlangC
from .decode import tokens_per_second_per_chip
from .engine import (
    decode_steps_per_request,
    itl,
    kv_pool_sequences,
    prefill_chunks,
    prefill_queue_wait,
    prefill_share_utilisation,
    serve_prefill_chunk_time,
    serve_prefill_step_time,
    serve_prefill_tokens,
    serve_replica_prompt_tokens,
)
from .engine_inputs import (
    accepted_tokens_per_step,
    api_overhead,
    colocated_replicas,
    max_num_seqs,
    serving_mode,
    step_prefill_tokens,
    step_sequences,
)
from .engine_step import (
    engine_replayed_step_time,
    engine_step_time,
    serve_decode_flops_time,
    serve_prefill_matmul_time,
    serve_time_per_prefill_token,
    serve_time_per_sequence,
)
from .engine_thresholds import max_request_rate_for_itl, saturation_request_rate
from .inputs import (
    SCENARIO,
    batch_size,
    chip_hour_cost,
    chip_price,
    input_length,
    n_chips,
    output_length,
    prefill_max_utilisation,
    prefill_replicas,
    reference_cost_per_million_tokens,
    request_rate,
    scale_out_bandwidth,
    scale_up_bandwidth,
    scale_up_domain,
    target_request_rate,
    target_step_time,
    ttft_percentile,
    ttft_target,
    utilisation,
)
from .memory import kv_bytes_per_token, max_batch_size
from .ownership import chip_power
from .serving import cost_per_million_tokens
from .thresholds import generate_rate

GROUP = Group("planning", "Planning")
Q_QPS = "seed: Thinking about throughput, Q: queries per chip (real numbers are about half)"

cost_per_million_tokens_at_utilisation = GROUP.derived(
    "cost_per_million_tokens_at_utilisation", r"\$_{\text{Mtok}}^{U}", "USD/megatoken",
    "Cost of one million output tokens at the utilisation.", Q_QPS, cost_per_million_tokens / utilisation,
    label="Cost per million output tokens at the utilisation", requires=("fits_in_hbm",))
engine_batch_for_step_time = GROUP.solved(
    "engine_batch_for_step_time", r"B_{T}^{\text{eng}}", "sequence",
    "Largest decode batch whose engine step (no prefill: a decode replica) meets the per-token target "
    "(unrounded); with speculative decoding a step may take accepted_tokens_per_step targets.",
    "issue 28: the plan priced through the one engine step",
    sympy.Eq(engine_replayed_step_time, target_step_time * accepted_tokens_per_step), step_sequences,
    combine="min", post=lambda root: sympy.Max(0, root),
    regime="exact in both regimes (the step grows with the batch), replayed from CUDA graphs; at no prefill "
           "tokens in the step (step_prefill_tokens 0); 0 when the weights alone miss the target")
latency_batch_size = GROUP.derived(
    "latency_batch_size", r"B_{\text{plan}}", "sequence",
    "Largest whole batch that fits in HBM (and the engine's KV pool and sequence cap) and whose engine step meets "
    "the latency target (0 when none does).", "seed: worked problem 3; issue 28 (the engine step)",
    sympy.floor(sympy.Min(engine_batch_for_step_time, max_batch_size, kv_pool_sequences, max_num_seqs)
                / one("sequence")) * one("sequence"),
    label="Largest batch that fits in HBM and meets the latency target")
# some open-loop rate meets the per-token target (a positive symbol's "> 0" would fold to true)
_some_rate = max_request_rate_for_itl * one("s/sequence") >= 1e-9
plan_feasible = GROUP.derived(
    "plan_feasible", r"\text{plan}_{\text{ok}}", "", "Whether some batch both fits in HBM and meets the latency target "
    "(1 = yes); colocated, whether some request rate does (the step's fixed time alone is under the target).",
    "seed: worked problem 3", sympy.GreaterThan(GROUP.select(serving_mode, {
        "disaggregated": latency_batch_size / one("sequence"),
        "colocated": sympy.Piecewise((1, _some_rate), (0, True))}), 1), boolean=True,
    label="Latency target can be met",
    says=("Meets the latency target of {target_step_time:,.1f} ms per token at a batch of "
          "{latency_batch_size:,.0f} on a {n_chips:,.0f}-chip slice.",
          "NOT FEASIBLE: no batch both fits in HBM (largest {max_batch_size:,.0f}) and meets the latency target of "
          "{target_step_time:,.1f} ms (the weights alone take {step_time_params:,.1f} ms per step on a "
          "{n_chips:,.0f}-chip slice); the plan uses batch 1 and misses the target: add chips or relax the target."))
plan_batch_size = GROUP.derived(
    "plan_batch_size", r"B_{\text{priced}}", "sequence",
    "Batch the plan prices: the largest that fits and meets the latency target, or 1 when none does.",
    "seed: worked problem 3", sympy.Max(one("sequence"), latency_batch_size), label="Batch the plan prices")
priced_step_time = GROUP.at(
    "priced_step_time", r"T_{\text{step}}^{\text{priced}}", "ms", "The engine's decode step at the batch the plan "
    "prices, no prefill in it (a decode replica).", "seed: worked problem 3; issue 28 (the engine step)",
    engine_step_time, {step_sequences: plan_batch_size, step_prefill_tokens: 0 * one("token")},
    requires=("fits_in_hbm",), label="Step time at the priced batch")
_per_token = priced_step_time / accepted_tokens_per_step  # each step gains accepted tokens per sequence
plan_time_per_token = GROUP.derived(
    "plan_time_per_token", r"T_{\text{tok}}^{\text{plan}}", "ms", "Time between a user's output tokens in the plan: "
    "the priced step over the tokens it accepts (disaggregated), or the inter-token latency of a colocated "
    "replica at its share of the traffic.", "issue 28: the plan priced through the one engine step",
    GROUP.select(serving_mode, {"disaggregated": _per_token, "colocated": itl}), requires=("fits_in_hbm",),
    label="Time per output token")
tpot_met = GROUP.derived(
    "tpot_met", r"T_{\text{step}}^{\text{priced}} \le T^{\text{target}}", "", "Whether the step at the batch the "
    "plan prices meets the per-token target (a batch set by hand may not).", "seed: worked problem 3",
    sympy.LessThan(plan_time_per_token, target_step_time), boolean=True, on_false="warn", requires=("fits_in_hbm",),
    label="Meets the per-token target",
    says=("Meets the per-token target: {plan_time_per_token:,.2f} ms of {target_step_time:,.1f} ms.",
          "misses the per-token target: {plan_time_per_token:,.2f} ms per token against {target_step_time:,.1f} ms "
          "(colocated: at one replica's share of the traffic); lower the batch or the load per replica, or add chips"))
plan_tokens_per_second_per_user = GROUP.derived(
    "plan_tokens_per_second_per_user", r"\text{TPS}_{\text{user}}^{\text{priced}}", "token/s/sequence", "Output "
    "tokens per second each user sees at the batch the plan prices (accepted tokens per step).",
    "seed: worked problem 3",
    one("token/sequence") / plan_time_per_token, requires=("fits_in_hbm",), label="Output tokens/s per user")
replica_request_rate = GROUP.at(
    "replica_request_rate", r"R_{\text{replica}}", "sequence/s",
    "Requests one slice of n_chips finishes per second at the planning batch (decode only).", Q_QPS,
    generate_rate, {batch_size: plan_batch_size}, label="Requests per second one replica serves",
    requires=("fits_in_hbm", "plan_feasible"))
replicas_for_request_rate = GROUP.derived(
    "replicas_for_request_rate", r"N_{\text{replicas}}", "",
    "Slices needed to serve the request rate at the utilisation.", "assumption: decode servers only",
    sympy.ceiling(target_request_rate / (utilisation * replica_request_rate)), label="Replicas needed",
    requires=("fits_in_hbm", "plan_feasible"))
chips_for_request_rate = GROUP.derived(
    "chips_for_request_rate", r"N_{\text{chips}}^{\lambda}", "chip", "Chips for the request rate (decode only).",
    "assumption: decode servers only", replicas_for_request_rate * n_chips, label="Chips needed",
    requires=("fits_in_hbm", "plan_feasible"))
decode_monthly_cost = GROUP.derived(
    "decode_monthly_cost", r"\$_{\text{month}}^{\text{decode}}", "USD/month", "Chip cost per month of the decode "
    "servers for target_request_rate at chip_price (what monthly_cost was before the traffic plan).",
    "chip price x chips; a month is 730 hours", chips_for_request_rate * chip_price,
    label="Chip cost per month (decode servers only)", requires=("fits_in_hbm", "plan_feasible"))

# --- the traffic plan: prefill and decode fleets for request_rate at the service levels (issue 13) ---
Q_PLAN = "issue 13: disaggregated prefill and decode fleets; see symroof/model/planning.py"
Q_QUEUE = "M/M/c queue (Erlang C): P(wait > t) = C(c, a) exp(-(c - a) t / S); Kleinrock, Queueing Systems I"
_PLAN = ("fits_in_hbm", "plan_feasible")
prompt_tokens_computed = GROUP.derived(
    "prompt_tokens_computed", r"P_{\text{new}}", "token/sequence", "Prompt tokens a request's prefill computes: "
    "those not found in the prefix cache (the engine's count: at least the last one).", Q_PLAN,
    serve_prefill_tokens)
request_prefill_time = GROUP.derived(
    "request_prefill_time", r"S_{P}", "s", "Prefill time of one request's uncached prompt on one prefill replica: "
    "its chunks, each an engine step with no decodes (peak FLOPs in bound mode; the chapter's prefill_time keeps "
    "its 40% MFU).", "issue 28: the prefill fleet priced through the one engine step",
    prefill_chunks * serve_prefill_chunk_time, requires=("fits_in_hbm",), label="Prefill time per request")
prefill_offered_load = GROUP.derived(
    "prefill_offered_load", r"a_{P}", "", "Prefill work the traffic offers, in replicas kept busy (erlangs): "
    "request rate x prefill time.", Q_QUEUE, request_rate * request_prefill_time / one("sequence"),
    requires=("fits_in_hbm",), label="Prefill load (busy replicas)")
SCENARIO.set_default(prefill_replicas, sympy.ceiling(prefill_offered_load / prefill_max_utilisation))
prefill_queue_stable = GROUP.derived(
    "prefill_queue_stable", r"a_{P} < N_{P}", "", "Whether the prefill replicas keep up with the prompts (their "
    "utilisation is below 1).", Q_QUEUE, sympy.StrictLessThan(prefill_offered_load, prefill_replicas),
    boolean=True, on_false="warn", label="Prefill keeps up",
    says=("The prefill replicas keep up.",
          "the prefill queue cannot keep up: {request_rate:,.1f} requests/s of {prefill_offered_load:,.2f} "
          "replicas' worth of prefill (each {request_prefill_time:,.3f} s) on {prefill_replicas:,.0f} prefill "
          "replicas is a utilisation at or above 1; set prefill_replicas above {prefill_offered_load:,.2f}"))
ttft_percentile_valid = GROUP.derived(
    "ttft_percentile_valid", r"0 < p < 100", "", "Whether the TTFT percentile lies strictly between 0 and 100.",
    Q_QUEUE, sympy.And(ttft_percentile > 0, ttft_percentile < 100), boolean=True, on_false="refuse",
    says=("The percentile is valid.", "ttft_percentile must lie strictly between 0 and 100, got {ttft_percentile}"))
prefill_utilisation = GROUP.derived(
    "prefill_utilisation", r"\rho_{P}", "", "How busy the prefill replicas are.", Q_QUEUE,
    prefill_offered_load / prefill_replicas, requires=("fits_in_hbm",), label="Prefill utilisation")
prefill_wait_probability = GROUP.derived(
    "prefill_wait_probability", r"C(N_P, a_P)", "", "Chance a prompt waits for a prefill replica (Erlang C).",
    Q_QUEUE, ErlangC(prefill_replicas, prefill_offered_load), requires=("fits_in_hbm",),
    label="Chance a prompt waits")
_rho = prefill_share_utilisation
_colocated_wait = sympy.Piecewise(  # none waits beyond the percentile while fewer than 1 - p wait at all
    (0 * one("ms"), _rho <= 1 - ttft_percentile / 100),
    (prefill_queue_wait / _rho * sympy.log(_rho / (1 - ttft_percentile / 100)), True))
ttft_queue_wait = GROUP.derived(
    "ttft_queue_wait", r"W_{p}", "s", "Wait before a prompt's prefill at the TTFT percentile. Disaggregated: for a "
    "prefill replica, max(0, ln(C / (1 - p)) S / (c - a)) (Erlang C). Colocated: for room in a replica's token "
    "budget, the M/D/1 mean wait W with the M/M/1 tail P(wait > t) = rho exp(-rho t / W).",
    f"{Q_QUEUE}; M/G/1 exponential tail with the M/D/1 mean (Pollaczek-Khinchine)",
    GROUP.select(serving_mode, {
        "disaggregated": request_prefill_time * sympy.Piecewise(  # a queue that cannot keep up: n/a, not a number
            (sympy.Max(0, sympy.log(prefill_wait_probability / (1 - ttft_percentile / 100))
                       / (prefill_replicas - prefill_offered_load)), prefill_replicas > prefill_offered_load),
            (sympy.nan, True)),
        "colocated": _colocated_wait}), requires=("fits_in_hbm", "prefill_queue_stable"),
    label="Queue wait at the percentile")
kv_transfer_time = GROUP.derived(
    "kv_transfer_time", r"T_{\text{KV move}}", "s", "Moving a prompt's KV cache from the prefill to the decode "
    "replica, every chip of the slice sending its share: over the scale-up network when a prefill and a decode "
    "replica fit in one scale-up domain together (2 n_chips <= its size), else over the scale-out network.",
    Q_PLAN, kv_bytes_per_token * input_length * one("sequence") / (n_chips * sympy.Piecewise(
        (scale_up_bandwidth, 2 * n_chips <= scale_up_domain), (scale_out_bandwidth, True))), requires=(),
    label="KV transfer to the decode fleet")
ttft_at_percentile = GROUP.derived(
    "ttft_at_percentile", r"T_{\text{TTFT}}^{p}", "s", "Time to first token at the percentile. Disaggregated: "
    "prefill, the queue wait at the percentile, and the KV transfer. Colocated: the API's time, the wait at the "
    "percentile and the prompt's chunks riding in a replica's steps.", Q_QUEUE,
    GROUP.select(serving_mode, {
        "disaggregated": request_prefill_time + ttft_queue_wait + kv_transfer_time,
        "colocated": api_overhead + ttft_queue_wait + prefill_chunks * serve_prefill_step_time}),
    requires=("fits_in_hbm", "prefill_queue_stable"), label="Time to first token at the percentile")
ttft_met = GROUP.derived(
    "ttft_met", r"T_{\text{TTFT}}^{p} \le T^{\text{target}}", "", "Whether the time to first token at the "
    "percentile meets its target.", Q_QUEUE, sympy.LessThan(ttft_at_percentile, ttft_target), boolean=True,
    on_false="warn", requires=("fits_in_hbm", "prefill_queue_stable"), label="Meets the TTFT target",
    says=("Meets the TTFT target: p{ttft_percentile} is {ttft_at_percentile:,.3f} s of {ttft_target:,.3f} s.",
          "misses the TTFT target: p{ttft_percentile} is {ttft_at_percentile:,.3f} s against {ttft_target:,.3f} s "
          "(prefill alone {request_prefill_time:,.3f} s); add prefill replicas (symroof plan finds how many) or "
          "chips per replica"))
decode_replica_rate = GROUP.derived(
    "decode_replica_rate", r"R_{G}^{\text{plan}}", "sequence/s", "Requests one decode replica finishes per "
    "second at the batch the plan prices and the traffic's output length (the engine's step; speculative "
    "decoding's accepted tokens per step included).", Q_PLAN,
    plan_batch_size * one("token/sequence") / (output_length * _per_token), requires=_PLAN,
    label="Requests per second per decode replica")
decode_replicas = GROUP.derived(
    "decode_replicas", r"N_{G}", "", "Decode replicas for the request rate at the utilisation.", Q_PLAN,
    sympy.ceiling(request_rate / (utilisation * decode_replica_rate)), requires=_PLAN, label="Decode replicas")
# the fewest replicas whose ITL meets the target at the utilisation; where no rate does, those keeping each
# replica at the utilisation of its saturation rate (a steady state, which the plan then calls infeasible)
SCENARIO.set_default(colocated_replicas, sympy.Max(1, sympy.ceiling(request_rate / (utilisation * sympy.Piecewise(
    (max_request_rate_for_itl, _some_rate), (saturation_request_rate, True))))))
Q_COLOCATED = "issue 28: a colocated fleet, each replica an open loop at its share (symroof/model/engine.py)"
colocated_prefill_share = GROUP.derived(
    "colocated_prefill_share", r"\sigma_{P}", "", "Share of a colocated replica's work that is prefill: a "
    "request's prompt tokens against its decode steps, each at its FLOPs-bound cost per token (what the "
    "fleet's cost is split by between input and output tokens).", Q_COLOCATED,
    serve_replica_prompt_tokens * (serve_time_per_prefill_token + serve_prefill_matmul_time)
    / (serve_replica_prompt_tokens * (serve_time_per_prefill_token + serve_prefill_matmul_time)
       + decode_steps_per_request * one("token/sequence") * (serve_time_per_sequence + serve_decode_flops_time)
       * one("sequence/token")), requires=(), label="Prefill share of the work")
_fleet_replicas = GROUP.select(serving_mode, {"disaggregated": prefill_replicas + decode_replicas,
                                              "colocated": colocated_replicas})
chips_for_traffic = GROUP.derived(
    "chips_for_traffic", r"N_{\text{chips}}", "chip", "Chips of the fleets, replicas of n_chips each: prefill and "
    "decode replicas (disaggregated), or the colocated replicas.", Q_PLAN, _fleet_replicas * n_chips,
    requires=_PLAN, label="Chips for the traffic")
monthly_cost = GROUP.derived(
    "monthly_cost", r"\$_{\text{month}}", "USD/month", "What the fleets cost a month (730 hours) at the chip-hour "
    "cost (rented or owned).", "chips x cost per chip-hour; a month is 730 hours (a 365-day year / 12)",
    chips_for_traffic * chip_hour_cost, label="Cost per month (both fleets)", requires=_PLAN)
power_draw = GROUP.derived(
    "power_draw", r"P_{\text{fleet}}", "MW", "Facility power of both fleets at full draw (TDP, server share, PUE).",
    "chips x facility power per chip", chips_for_traffic * chip_power, label="Facility power", requires=_PLAN)
energy_per_token = GROUP.derived(
    "energy_per_token", r"E_{\text{tok}}", "J/token", "Facility energy per output token (prefill included) at "
    "full draw.", "power / output tokens per second", power_draw / (request_rate * output_length),
    label="Energy per output token", requires=_PLAN)
cost_per_million_input_tokens = GROUP.derived(
    "cost_per_million_input_tokens", r"\$_{\text{Mtok}}^{\text{in}}", "USD/megatoken", "The prefill fleet's cost "
    "per million input tokens (as API prices quote them); colocated, the fleet's prefill share.", Q_PLAN,
    GROUP.select(serving_mode, {"disaggregated": prefill_replicas,
                                "colocated": colocated_replicas * colocated_prefill_share})
    * n_chips * chip_hour_cost / (request_rate * input_length),
    label="Cost per million input tokens", requires=_PLAN)
cost_per_million_output_tokens = GROUP.derived(
    "cost_per_million_output_tokens", r"\$_{\text{Mtok}}^{\text{out}}", "USD/megatoken", "The decode fleet's cost "
    "per million output tokens; colocated, the fleet's decode share.", Q_PLAN,
    GROUP.select(serving_mode, {"disaggregated": decode_replicas,
                                "colocated": colocated_replicas * (1 - colocated_prefill_share)})
    * n_chips * chip_hour_cost / (request_rate * output_length),
    label="Cost per million output tokens", requires=_PLAN)
decode_cost_per_million_tokens = GROUP.derived(
    "decode_cost_per_million_tokens", r"\$_{\text{Mtok}}^{\text{smooth}}", "USD/megatoken", "Cost per million output "
    "tokens of decode at the batch and the utilisation, at the chip-hour cost, replicas not rounded up: the smooth "
    "cost whose elasticities the comparison's tornado shows.", Q_PLAN,
    chip_hour_cost / (tokens_per_second_per_chip * utilisation), label="Decode cost per million tokens (smooth)",
    requires=("fits_in_hbm",))
break_even_chip_price = GROUP.solved(
    "break_even_chip_price", r"\$_{\text{chip-h}}^{=}", "USD/hour/chip", "Chip-hour cost at which "
    "cost_per_million_output_tokens equals reference_cost_per_million_tokens (another chip's, or an API price).",
    "issue 13: solved for chip_hour_cost", sympy.Eq(cost_per_million_output_tokens, reference_cost_per_million_tokens),
    chip_hour_cost, regime="the same traffic, service level and fleet", label="Break-even cost per chip-hour")
_smallest_fleet = GROUP.select(serving_mode, {"disaggregated": 2, "colocated": 1}) * n_chips * chip_hour_cost
self_hosting_break_even_tokens = GROUP.derived(
    "self_hosting_break_even_tokens", r"V^{=}", "gigatoken/month", "Monthly output tokens above which self-hosting "
    "(the smallest fleet: one prefill and one decode replica, or one colocated replica) costs less than "
    "buying them at the reference price; none (n/a) when the reference is below this plan's own cost per "
    "million output tokens.", Q_PLAN,
    _smallest_fleet / reference_cost_per_million_tokens
    * sympy.Piecewise((1, reference_cost_per_million_tokens > cost_per_million_output_tokens), (sympy.nan, True)),
    label="Self-hosting break-even volume", requires=_PLAN)
