"""Serving thresholds, solved in closed form on the one engine step (issue 29).

The questions an SLO asks of an engine: the highest open-loop request rate, or
the most users of a closed loop, whose inter-token latency meets the per-token
target (``target_step_time``, what ``plan --tpot`` sets), and the rate where
the time to first token grows without bound. Each is the root of the step's
own closed form in its two regimes (``engine.regimes``): an open loop's step
``t0 / (1 - r L)`` and a closed loop's ``t0 + n L / K`` are increasing in the
load, so the root is the smaller regime's. They count every expert's weights
(exact for a dense model; for an MoE model a floor, since a step at the
threshold touches fewer experts) and hold below the engine's caps.
"""

from __future__ import annotations

import sympy

from ..declare import one
from .engine import batch_cap, regimes, serve_replica_prompt_tokens, steps_per_request
from .engine_inputs import accepted_tokens_per_step, concurrency, max_num_batched_tokens
from .engine_step import GROUP, weights_time
from .inputs import request_rate, target_step_time

_REGIMES = regimes(weights_time(1), 0 * one("ms"))
_TARGET = target_step_time * accepted_tokens_per_step  # the step that gives the per-token target
SOURCE = "issue 29: the engine step's closed forms (symroof/model/engine.py), solved for the load"

# the steps the thresholds solve: each a Max over the two regimes, which the solver takes one regime at a time
serve_open_loop_itl_load = GROUP.derived(
    "serve_open_loop_itl_load", r"\rho_{\text{ITL}}", "", "How near an open loop at request_rate is to the per-token "
    "target: r L + t0 / T in the slower regime, since its step t0 / (1 - r L) reaches T exactly when this is 1 "
    "(what max_request_rate_for_itl solves).", SOURCE,
    sympy.Max(*[request_rate * load + fixed / _TARGET for fixed, load, _ in _REGIMES]), requires=())
serve_closed_loop_step = GROUP.derived(
    "serve_closed_loop_step", r"t_{N}", "ms", "A closed loop's step at concurrency users below the caps, every "
    "expert's weights loaded: t0 + N L / K in the slower regime (what max_concurrency_for_itl solves).", SOURCE,
    sympy.Max(*[fixed + concurrency * load / steps_per_request for fixed, load, _ in _REGIMES]), requires=())
serve_open_loop_utilisation = GROUP.derived(
    "serve_open_loop_utilisation", r"\rho_{\lambda}", "", "How much of the engine an open loop at request_rate "
    "keeps busy, in the busier regime: its load r L with the fixed time it adds, until the prompts fill the token "
    "budget (r P t of it) or the running requests the batch cap (r K t of it); 1 at saturation.",
    SOURCE, sympy.Max(*[request_rate * (load + fixed * sympy.Max(serve_replica_prompt_tokens / max_num_batched_tokens,
                                                                 steps_per_request / batch_cap))
                        for fixed, load, _ in _REGIMES]), requires=())
saturation_request_rate = GROUP.solved(
    "saturation_request_rate", r"\lambda_{\text{sat}}", "sequence/s", "Open-loop request rate at which the engine "
    "stops keeping up (its step, or the prompts' share of its token budget, grows without bound): beyond it the "
    "time to first token has no steady state.", SOURCE,
    sympy.Eq(serve_open_loop_utilisation, 1), request_rate, combine="min",
    regime="open loop; every expert's weights counted (exact for dense models, a floor for MoE); a request holds "
           "its place K steps of the mean step (exact disaggregated; colocated an upper limit where a prompt's "
           "chunk takes longer than a mean step)",
    label="Saturation request rate")
max_request_rate_for_itl = GROUP.solved(
    "max_request_rate_for_itl", r"\lambda_{\text{ITL}}", "sequence/s", "Highest open-loop request rate whose "
    "inter-token latency meets the per-token target (target_step_time).", SOURCE,
    sympy.Eq(serve_open_loop_itl_load, 1), request_rate, combine="min",
    post=lambda root: sympy.Max(0, sympy.Min(root, saturation_request_rate)),
    regime="open loop below saturation and the engine's caps; every expert's weights counted (exact for dense "
           "models, a floor for MoE); 0 when the step's fixed time alone misses the target",
    label="Highest request rate meeting the per-token target")
max_concurrency_for_itl = GROUP.solved(
    "max_concurrency_for_itl", r"N_{\text{ITL}}", "sequence", "Most users of a closed loop whose inter-token "
    "latency meets the per-token target (target_step_time).", SOURCE,
    sympy.Eq(serve_closed_loop_step, _TARGET), concurrency, combine="min", post=lambda root: sympy.Max(0, root),
    regime="closed loop below the engine's caps (above batch_cap every concurrency runs batch_cap); every "
           "expert's weights counted; 0 when the step's fixed time alone misses the target",
    label="Most users meeting the per-token target")
