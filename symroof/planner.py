"""Traffic plans: the fleets, dollars and megawatts for a request rate at its service levels (issue 13).

The model's declared formulas do the work (symroof/model/planning.py); this
module only chooses the one number no closed form gives: the fewest prefill
replicas whose Erlang C queue meets the time-to-first-token percentile (the
Erlang C formula has no closed-form inverse, so the whole numbers from the
stable minimum up are evaluated at once and the first that meets the target
is taken). Every plan is evaluated in both modes, the chapter's bound and the
calibrated estimate, side by side.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy

from . import catalog, search
from .core.errors import InputError
from .engine_settings import bound_note, engine_of, for_mode
from .evaluation import (
    MODES,
    Evaluation,
    Mode,
    Pair,
    check_mode,
    load_calibration,
    parse_overrides,
    refuse_other_spellings,
)
from .evaluation.grid import Grid
from .max_rate import limit
from .replay import Benchmark, replay

PLAN_GROUPS = ("scenario", "serving", "ownership", "planning")


@dataclass(repr=False)
class Plan(Pair):
    """One chip's plan: its evaluation in each mode, with the prefill replicas that meet the TTFT target (read as
    every result: :class:`~symroof.evaluation.Pair`)."""

    model: str
    hardware: str
    evaluations: dict[str, Evaluation]
    settings: dict[str, dict[str, Any]]  # per mode: what was evaluated, the chosen batch and replicas included
    search: search.Scored | None = None  # every configuration the search scored (None: the layout was pinned)
    notes: list[str] = field(default_factory=list)  # the other mode where the searched layout misses in it
    mode: Mode = "bound"  # the mode the plan was searched in: what value() reads by default
    tpot_check: dict[str, Any] | None = None  # a percentile TPOT target: how the plan meets it (plan(tpot_percentile))
    headline = ("serving_mode", "n_chips", "chips_for_traffic", "monthly_cost", "cost_per_million_output_tokens",
                "ttft_at_percentile")

    def shown(self) -> list[str]:
        bound = self.evaluations["bound"]
        return [n for n in bound.names() if bound.spec(n).group in PLAN_GROUPS]

    def title(self) -> str:
        return f"plan: {self.model} on {self.hardware}"


def _evaluate(model, hardware, settings: Mapping[str, Any], mode: str, calibration) -> Evaluation:
    cal = load_calibration(hardware, calibration) if mode == "estimate" else None
    return Evaluation(model, hardware, parse_overrides(for_mode(settings, mode), "--set "), mode=mode,
                      calibration=cal, engine=engine_of(hardware))


def _needs(ev: Evaluation, name: str):
    """``name``'s value (a number, or an array over candidates); InputError naming what is missing."""
    if name in ev.unavailable:
        raise InputError(f"{ev.model.id} on {ev.hardware.id}: {name} is unavailable: {ev.unavailable[name]}")
    value = ev.magnitude(name)
    return float(value) if numpy.ndim(value) == 0 else value


def _at_traffic_lengths(m, h, settings: dict) -> None:
    """Size the KV at the traffic's own requests (input + output tokens at their end) unless context_length
    is set."""
    if "context_length" not in settings:
        first = _evaluate(m, h, settings, "bound", None)
        settings["context_length"] = (f"{first.magnitude('input_length') + first.magnitude('output_length')!r} "
                                      "token/sequence")


def fewest_prefill_replicas(ev: Evaluation, settings: Mapping[str, Any]) -> int:
    """The fewest prefill replicas whose TTFT at the percentile meets the target (InputError when none can)."""
    if not ev.holds("plan_feasible"):
        raise InputError(ev.says("plan_feasible"))
    load = _needs(ev, "prefill_offered_load")
    prefill, transfer = _needs(ev, "request_prefill_time"), _needs(ev, "kv_transfer_time")
    target = _needs(ev, "ttft_target")
    if prefill + transfer >= target:
        raise InputError(
            f"the TTFT target of {target:g} s cannot be met on {ev.hardware.id}: one prompt's prefill takes "
            f"{prefill:.4g} s and moving its KV {transfer:.4g} s, {prefill + transfer - target:.4g} s over the "
            "target with no wait at all; add chips per replica (--set n_chips=...) or relax the target")
    if load > search.MAX_PREFILL_LOAD:
        raise InputError(f"the traffic offers {load:,.0f} prefill replicas' worth of work on {ev.hardware.id}, "
                         f"beyond the {search.MAX_PREFILL_LOAD:,} the queue model plans: split the traffic over "
                         "fleets (a lower --rate) or give each replica more chips")
    given = parse_overrides(for_mode(settings, ev.mode), "--set ")
    found = search.fewest_prefill_replicas(
        lambda c: Evaluation(ev.model, ev.hardware, {**given, "prefill_replicas": c}, mode=ev.mode,
                             calibration=ev.calibration, engine=ev.engine), ev)
    return int(found)


def fewest_colocated_replicas(ev: Evaluation, settings: Mapping[str, Any]) -> int:
    """The fewest colocated replicas whose ITL and TTFT at the percentile meet their targets (InputError when
    none can)."""
    if not ev.holds("plan_feasible"):
        raise InputError(f"colocated: {ev.says('plan_feasible')}")
    given = parse_overrides(for_mode(settings, ev.mode), "--set ")
    found = search.fewest_colocated_replicas(
        lambda c: Evaluation(ev.model, ev.hardware, {**given, "colocated_replicas": c}, mode=ev.mode,
                             calibration=ev.calibration, engine=ev.engine), ev)
    if not numpy.isfinite(found):
        raise InputError(f"colocated: the TTFT target of {ev.magnitude('ttft_target'):g} s cannot be met on "
                         f"{ev.hardware.id}: the API's time and a prompt's chunks take "
                         f"{float(search.colocated_floor(ev)):.4g} s with no wait; add chips per replica "
                         "(--set n_chips=...) or relax the target")
    return int(found)


def _layout_free(settings: Mapping[str, Any]) -> bool:
    return not all(n in settings for n in search.LAYOUT)


def plan(model: str, hardware: str, overrides: Mapping[str, Any] | None = None, *, mode: Mode = "bound",
         calibration: str | None = None, searched: bool = True, allow_dtype: Sequence[str] = (),
         tpot_percentile: float | None = None, **unknown: Any) -> Plan:
    """The plan for ``model`` on ``hardware``: both modes, each with its own batch and fewest prefill replicas.

    With ``searched`` (the default), the layout (chips per replica, tensor / pipeline / expert /
    attention-data parallelism, and the weight dtype where ``allow_dtype`` lets it vary) is the cheapest that
    meets every target in ``mode`` (:mod:`symroof.search`); ``overrides`` (what ``--set`` gives) pin any of it.
    Without, the layout is the default slice, as before the search.

    ``tpot_percentile`` (like 99): the per-token target (``target_step_time``) is that percentile of each
    request's time per output token, not the mean (:func:`_meet_tpot_percentile`; ``Plan.tpot_check``)."""
    refuse_other_spellings("plan", unknown)
    check_mode(mode)
    check = limit("tpot", tpot_percentile, "1 s") if tpot_percentile is not None else None  # (0, 100), said
    m, h = catalog.load("model", model), catalog.load("hardware", hardware)
    settings = dict(overrides or {})
    _serve_only(settings)
    _at_traffic_lengths(m, h, settings)
    found = _plan(m, h, dict(settings), mode, calibration, searched, allow_dtype)
    if check is None:
        return found
    return _meet_tpot_percentile(found, check, lambda mean: _plan(
        m, h, {**settings, "target_step_time": f"{mean * 1e3!r} ms"}, mode, calibration, searched, allow_dtype))


#: Rounds of lowering a colocated plan's mean per-token target until the replayed percentile meets the target,
#: and the margin each round lowers it by beyond the ratio (a finite replay's percentile is not quite linear).
ROUNDS, MARGIN = 6, 0.98


def _meet_tpot_percentile(p: Plan, reading, replan) -> Plan:
    """``p`` (planned with its per-token target T as the mean) meeting T at ``reading``'s percentile (a
    :class:`symroof.max_rate.Limit` on the replay's per-request TPOT) in its own mode.

    A disaggregated decode replica runs its planned batch every step, so every request's time per output token
    is that step: the percentile is the mean, met as planned. A colocated replica mixes prefill chunks into its
    steps: one replica's share of the traffic is replayed (:func:`symroof.replay.replay`, its defaults: 1,000
    Poisson requests, seed 0) and, while its percentile exceeds T, the mean target is lowered to the plan's own
    mean time per token times the ratio (T over the percentile, times MARGIN) and the plan made again
    (``replan(mean seconds)``), up to ROUNDS plans; none met: InputError with the closest."""
    ev, percentile = p.evaluations[p.mode], reading.percentile
    target, name = float(ev.base["target_step_time"]), f"tpot_p{percentile:g}"
    option, mean, closest = f"--tpot-p{percentile:g} {target * 1e3:.4g} ms", target, None
    for rounds in range(1, ROUNDS + 1):
        ev = p.evaluations[p.mode]
        check = {"percentile": percentile, "target": target, "mean_target": mean, "rounds": rounds,
                 "serving_mode": ev.magnitude("serving_mode"), "replayed": None, "replay": None}
        if check["serving_mode"] != "colocated":
            p.tpot_check = {**check, "note": (
                f"{name}: disaggregated decode replicas run their planned batch every step, so each request's time "
                f"per output token is that step ({ev.base['plan_time_per_token'] * 1e3:.4g} ms): its p"
                f"{percentile:g} is the mean, planned at most {mean * 1e3:.4g} ms")}
            return p
        r = replay(ev, Benchmark())
        got = reading.value(r)
        if not math.isfinite(got):
            raise InputError(f"{option} with one output token per request: such a request has no time per output "
                             "token; give --output 2 or more, or give the mean target with --tpot")
        closest = min(closest or (got, mean), (got, mean))
        if got <= target:
            lowered = f"planned at a mean target of {mean * 1e3:.4g} ms" if rounds > 1 else "as planned"
            p.tpot_check = {**check, "replayed": got, "replay": r.description, "note": (
                f"{name}: {got * 1e3:.4g} ms replayed on one colocated replica's share of the traffic ({p.mode}; "
                f"{r.description}), within the target {target * 1e3:.4g} ms, {lowered}")}
            return p
        if rounds == ROUNDS:
            break
        mean = min(mean, float(ev.base["plan_time_per_token"])) * target / got * MARGIN  # the plan's own mean down
        try:
            p = replan(mean)
        except InputError as e:
            raise InputError(f"{option}: no {p.mode} plan meets it: at a mean target of {mean * 1e3:.4g} ms, {e}; "
                             f"the closest replays {closest[0] * 1e3:.4g} ms at a mean target of "
                             f"{closest[1] * 1e3:.4g} ms") from None
    raise InputError(f"{option}: no {p.mode} plan of {p.model} on {p.hardware} meets it in {ROUNDS} rounds of "
                     f"lowering the mean target; the closest replays {closest[0] * 1e3:.4g} ms at a mean target of "
                     f"{closest[1] * 1e3:.4g} ms")


def _plan(m, h, settings: dict, mode: Mode, calibration, searched: bool, allow_dtype: Sequence[str]) -> Plan:
    """One plan at ``settings`` (the traffic's lengths already sized): the body of :func:`plan`."""
    scored = None
    if searched and (_layout_free(settings) or allow_dtype):
        scored = search.score(m, h, settings, mode, calibration, allow_dtype)
        if scored.best is None:
            raise InputError(closest(scored))
        settings.update(scored.layout(scored.best))
    elif "serving_mode" not in settings:  # a pinned layout: the cheaper serving mode that meets the targets
        settings["serving_mode"] = _cheaper_mode(m, h, settings, mode, calibration)
    quiet = frozenset()
    if "batch_size" in settings and "plan_batch_size" not in settings:  # a batch set is the batch priced
        settings["plan_batch_size"] = settings["batch_size"]
        quiet = frozenset({"plan_batch_size"})
    evaluations, chosen_by_mode, notes = {}, {}, []
    for each in sorted(MODES, key=lambda k: k != mode):  # the searched mode first: the other follows its choice
        try:
            ev, chosen = _plan_mode(m, h, settings, each, calibration)
        except InputError as e:
            if each == mode:
                raise
            notes.append(f"{each}: {e}")
            chosen = chosen_by_mode[mode]
            ev = _evaluate(m, h, chosen, each, calibration)
        ev.quiet_pins = quiet
        evaluations[each], chosen_by_mode[each] = ev, chosen
    evaluations = {k: evaluations[k] for k in MODES}
    notes += [f"bound: {note}" for note in bound_note(settings)]
    return Plan(m.id, h.id, evaluations, {k: chosen_by_mode[k] for k in MODES}, scored, notes, mode)


#: Inputs of a serving workload: a plan is its own (an open loop at the traffic's rate, over disaggregated decode
#: replicas at the batch it prices or colocated replicas at their share), so setting one would change nothing.
SERVE_ONLY = ("workload", "concurrency", "step_sequences", "step_prefill_tokens")


def _serve_only(settings: Mapping[str, Any]) -> None:
    """Refuse a setting the plan would drop without a word."""
    unused = sorted(n for n in settings if n in SERVE_ONLY)
    if unused:
        raise InputError(f"--set {unused[0]}: a plan is its own workload (the traffic's rate over its fleets); "
                         "symroof serve takes workloads")


def _cheaper_mode(m, h, settings: dict, mode: str, calibration) -> str:
    """The serving mode whose plan in ``mode`` meets the targets for less (fewer chips when unpriced)."""
    found, errors = {}, []
    for serving in search.SERVING_MODES:
        try:
            ev, _ = _plan_mode(m, h, {**settings, "serving_mode": serving}, mode, calibration)
        except InputError as e:
            errors.append(e)
            continue
        cost = ev.magnitude("monthly_cost") if "monthly_cost" not in ev.unavailable else numpy.inf
        found[serving] = (cost, ev.magnitude("chips_for_traffic"))
    if not found:
        raise errors[0]
    return min(found, key=found.get)


def _plan_mode(m, h, settings: dict, mode: str, calibration) -> tuple[Evaluation, dict]:
    ev = _evaluate(m, h, settings, mode, calibration)
    chosen = dict(settings)
    if "batch_size" not in settings:  # the decode batch the plan prices, as the finance workbook holds it
        chosen["batch_size"] = f"{ev.magnitude('plan_batch_size')!r} sequence"
        ev = _evaluate(m, h, chosen, mode, calibration)
    if ev.magnitude("serving_mode") == "colocated":
        if "colocated_replicas" not in settings:
            chosen["colocated_replicas"] = fewest_colocated_replicas(ev, chosen)
            ev = _evaluate(m, h, chosen, mode, calibration)
        if ev.holds("serve_stable") is False:
            raise InputError(f"{mode}: colocated: {ev.says('serve_stable')}")
    elif "prefill_replicas" not in settings:
        chosen["prefill_replicas"] = fewest_prefill_replicas(ev, chosen)
        ev = _evaluate(m, h, chosen, mode, calibration)
    if ev.holds("prefill_queue_stable") is False:
        raise InputError(f"{mode}: {ev.says('prefill_queue_stable')}")
    _needs(ev, "chips_for_traffic")
    if "monthly_cost" not in ev.unavailable:  # an unpriced chip plans its fleets; its cost is n/a (said)
        _needs(ev, "cost_per_million_output_tokens")
    return ev, chosen


def closest(scored: search.Scored) -> str:
    """No configuration meets the targets: the one that comes nearest, and by how much it misses."""
    frame = scored.frame
    fitting = frame[frame["fits_in_hbm"] > 0]
    head = f"no configuration of {scored.model} on {scored.hardware} meets the targets ({len(frame)} scored)"
    if fitting.empty:
        return f"{head}: none fits in HBM, up to {frame['n_chips'].max():g} chips per replica"
    fitting = fitting.assign(colocated=fitting["serving_mode"] == "colocated")  # ties: the disaggregated row
    row = fitting.sort_values(["priced_step_time", "n_chips", "colocated"], kind="stable").iloc[0]
    return f"{head}; closest: {search.describe(row)}: {row['why']}"


def compare(model: str, chips: list[str], overrides: Mapping[str, Any] | None = None, mode: Mode = "bound",
            calibration: str | None = None, *, searched: bool = True, allow_dtype: Sequence[str] = (),
            tpot_percentile: float | None = None, **unknown: Any) -> list[Plan]:
    """Plans for each chip at the same traffic and service level, cheapest first per million output tokens (in
    ``mode``), each chip at its own best layout (searched independently); each evaluated with the cheapest's
    cost as reference_cost_per_million_tokens, so its break_even_chip_price is the chip-hour cost at which it
    would match the cheapest."""
    refuse_other_spellings("compare", unknown)
    check_mode(mode)
    for chip in chips:  # every name checked before any plan is made: an unknown chip is the error to report
        catalog.load("hardware", chip)
    plans = [plan(model, chip, overrides, mode=mode, calibration=calibration, searched=searched,
                  allow_dtype=allow_dtype, tpot_percentile=tpot_percentile) for chip in chips]
    ranked = sorted(plans, key=lambda p: _priced_cost(p, mode))  # a chip with no published price last
    if not math.isfinite(_priced_cost(ranked[0], mode)):
        raise InputError(f"none of {', '.join(chips)} has a price to rank by; set one (--set chip_price=...) and "
                         "the others get their break-even price against it")
    reference = {"reference_cost_per_million_tokens": ranked[0].value("cost_per_million_output_tokens", mode)}
    m = catalog.load("model", model)
    for p in ranked:  # the reference changes no plan, only the break-even: evaluate again, do not plan again
        h = catalog.load("hardware", p.hardware)
        p.settings = {k: {**v, **reference} for k, v in p.settings.items()}
        p.evaluations = {k: _evaluate(m, h, p.settings[k], k, calibration) for k in MODES}
    return ranked


def _priced_cost(p: Plan, mode: Mode) -> float:
    """The plan's cost per million output tokens; infinite for a chip whose price is not published (issue 31:
    --compare b300 refused the unpriced chip that plan b300 alone plans, whose break-even price is the answer)."""
    if "cost_per_million_output_tokens" in p.evaluations[mode].unavailable:
        return math.inf
    return float(p.magnitude("cost_per_million_output_tokens", mode))


def frontier(model: str, hardware: str, overrides: Mapping[str, Any] | None = None, mode: Mode = "bound",
             calibration: str | None = None, allow_dtype: Sequence[str] = (), **unknown: Any):
    """The Pareto frontier over every layout and batch (powers of two that fit): cost per million output tokens
    against output tokens/s per user, each point with the fewest prefill replicas meeting the TTFT target; a
    pandas DataFrame, fastest first, ``meets`` saying whether the point meets the per-token target too."""
    refuse_other_spellings("frontier", unknown)
    check_mode(mode)
    m, h = catalog.load("model", model), catalog.load("hardware", hardware)
    settings = dict(overrides or {})
    for pinned in ("batch_size", "plan_batch_size"):
        if pinned in settings:
            raise InputError(f"--frontier varies the batch; drop --set {pinned}")
    _at_traffic_lengths(m, h, settings)
    scored = search.score(m, h, settings, mode, calibration, allow_dtype, batches=search.FRONTIER_BATCHES)
    rows = search.frontier(scored)
    if rows.empty:
        raise InputError(closest(scored))
    return Grid.of(rows, mode)  # a DataFrame that reads as every result does (value, magnitude, to_frame)


#: A frontier row's quantities in JSON, with their units (the plan's own names).
FRONTIER_QUANTITIES = (("plan_batch_size", "sequence"), ("plan_tokens_per_second_per_user", "token/s/sequence"),
                       ("priced_step_time", "ms"), ("cost_per_million_output_tokens", "USD/megatoken"),
                       ("cost_per_million_input_tokens", "USD/megatoken"), ("ttft_at_percentile", "s"),
                       ("monthly_cost", "USD/month"), ("chips_for_traffic", "chip"), ("decode_replicas", ""),
                       ("prefill_replicas", ""))


def frontier_json(rows) -> list[dict]:
    """The frontier as JSON rows: the layout, and the quantities as eval writes them (value and unit)."""
    out = []
    for _, r in rows.iterrows():
        layout = {n: float(r[n]) for n in search.LAYOUT}
        if r["weight_dtype"]:
            layout["weight_dtype"] = r["weight_dtype"]
        out.append({"layout": layout, "described": search.describe(r), "meets_targets": bool(r["meets"]),
                    "quantities": {n: {"value": float(r[n]), "unit": u} for n, u in FRONTIER_QUANTITIES}})
    return out
