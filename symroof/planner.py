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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy

from . import catalog
from .core.errors import InputError
from .evaluation import Evaluation, load_calibration, parse_overrides
from .evaluation.display import frame, html_table

MODES = ("bound", "estimate")
PLAN_GROUPS = ("scenario", "serving", "ownership", "planning")


@dataclass
class Plan:
    """One chip's plan: its evaluation in each mode, with the prefill replicas that meet the TTFT target."""

    model: str
    hardware: str
    evaluations: dict[str, Evaluation]
    settings: dict[str, dict[str, Any]]  # per mode: what was evaluated, the chosen batch and replicas included

    def value(self, name: str, mode: str = "bound") -> float:
        return self.evaluations[mode].magnitude(name)

    def _repr_html_(self) -> str:
        """Jupyter's rich display: the plan's quantities, bound and estimate side by side."""
        return html_table(self.evaluations, [n for n in self.evaluations["bound"].names()
                                             if self.evaluations["bound"].spec(n).group in PLAN_GROUPS],
                          title=f"plan: {self.model} on {self.hardware}")

    def to_frame(self):
        """Every quantity of both modes, one row each (a pandas DataFrame; units in ``attrs["units"]``)."""
        return frame(self.evaluations)


def _evaluate(model, hardware, settings: Mapping[str, Any], mode: str, calibration) -> Evaluation:
    cal = load_calibration(hardware, calibration) if mode == "estimate" else None
    return Evaluation(model, hardware, parse_overrides(dict(settings), "--set "), mode=mode, calibration=cal)


def _needs(ev: Evaluation, name: str):
    """``name``'s value (a number, or an array over candidates); InputError naming what is missing."""
    if name in ev.unavailable:
        raise InputError(f"{ev.model.id} on {ev.hardware.id}: {name} is unavailable: {ev.unavailable[name]}")
    value = ev.magnitude(name)
    return float(value) if numpy.ndim(value) == 0 else value


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
    first = math.floor(load) + 1
    span = int(max(64, 8 * math.sqrt(load) + 16))  # square-root staffing: the answer lies within a few sqrt(a)
    for _ in range(64):  # the wait falls towards 0 as replicas are added: a few spans always reach the target
        candidates = numpy.arange(first, first + span, dtype=float)
        trial = Evaluation(ev.model, ev.hardware, parse_overrides({**settings, "prefill_replicas": candidates},
                                                                  "--set "), mode=ev.mode, calibration=ev.calibration)
        ttft = numpy.asarray(_needs(trial, "ttft_at_percentile"))
        if numpy.isnan(ttft).all():
            break
        met = ttft <= target
        if met.any():
            return int(candidates[int(numpy.argmax(met))])
        first += span
    raise InputError(f"no number of prefill replicas from {math.floor(load) + 1} to {first - 1} meets the TTFT "
                     f"target of {target:g} s on {ev.hardware.id}")


def plan(model: str, hardware: str, settings: Mapping[str, Any] | None = None,
         calibration: str | None = None) -> Plan:
    """The plan for ``model`` on ``hardware``: both modes, each with its own fewest prefill replicas."""
    m, h = catalog.load("model", model), catalog.load("hardware", hardware)
    settings = dict(settings or {})
    if "context_length" not in settings:  # the traffic's own requests hold input + output tokens at their end
        first = _evaluate(m, h, settings, "bound", None)
        settings["context_length"] = (f"{first.magnitude('input_length') + first.magnitude('output_length')!r} "
                                      "token/sequence")
    if "batch_size" in settings and "plan_batch_size" not in settings:  # a batch set is the batch priced
        settings["plan_batch_size"] = settings["batch_size"]
    evaluations, chosen_by_mode = {}, {}
    for mode in MODES:
        ev = _evaluate(m, h, settings, mode, calibration)
        chosen = dict(settings)
        if "batch_size" not in settings:  # the decode batch the plan prices, as the finance workbook holds it
            chosen["batch_size"] = f"{ev.magnitude('plan_batch_size')!r} sequence"
            ev = _evaluate(m, h, chosen, mode, calibration)
        if "prefill_replicas" not in settings:
            chosen["prefill_replicas"] = fewest_prefill_replicas(ev, chosen)
            ev = _evaluate(m, h, chosen, mode, calibration)
        if ev.holds("prefill_queue_stable") is False:
            raise InputError(f"{mode}: {ev.says('prefill_queue_stable')}")
        for name in ("monthly_cost", "chips_for_traffic", "cost_per_million_output_tokens"):
            _needs(ev, name)
        evaluations[mode], chosen_by_mode[mode] = ev, chosen
    return Plan(m.id, h.id, evaluations, chosen_by_mode)


def compare(model: str, chips: list[str], settings: Mapping[str, Any] | None = None, mode: str = "bound",
            calibration: str | None = None) -> list[Plan]:
    """Plans for each chip at the same traffic and service level, cheapest first per million output tokens (in
    ``mode``); each evaluated with the cheapest's cost as reference_cost_per_million_tokens, so its
    break_even_chip_price is the chip-hour cost at which it would match the cheapest."""
    for chip in chips:  # every name checked before any plan is made: an unknown chip is the error to report
        catalog.load("hardware", chip)
    ranked = sorted((plan(model, chip, settings, calibration) for chip in chips),
                    key=lambda p: p.value("cost_per_million_output_tokens", mode))
    reference = {"reference_cost_per_million_tokens":
                 f"{ranked[0].value('cost_per_million_output_tokens', mode)!r} USD/megatoken"}
    m = catalog.load("model", model)
    for p in ranked:  # the reference changes no plan, only the break-even: evaluate again, do not plan again
        h = catalog.load("hardware", p.hardware)
        p.settings = {k: {**v, **reference} for k, v in p.settings.items()}
        p.evaluations = {k: _evaluate(m, h, p.settings[k], k, calibration) for k in MODES}
    return ranked
