"""plan: fleets, dollars a month and megawatts for a traffic profile, bound and estimate side by side."""

from __future__ import annotations

import argparse
import json
import re

from ..core.errors import InputError
from ..planner import compare, plan
from ..serve import rate_text, tokens
from .common import fmt, parse_sets
from .notes import notes

#: What the plan table shows, in order: (section, quantity).
ROWS = (
    ("Traffic and targets", ("request_rate", "input_length", "output_length", "ttft_target", "ttft_percentile",
                             "target_step_time")),
    ("Fleets", ("n_chips", "latency_batch_size", "decode_replicas", "prefill_replicas", "prefill_utilisation",
                "chips_for_traffic")),
    ("Latency", ("step_time", "request_prefill_time", "ttft_queue_wait", "kv_transfer_time", "ttft_at_percentile")),
    ("Cost", ("chip_hour_cost", "monthly_cost", "cost_per_million_input_tokens", "cost_per_million_output_tokens",
              "break_even_chip_price", "self_hosting_break_even_tokens")),
    ("Power", ("power_draw", "energy_per_token")),
)
RENT_KINDS = ("on-demand", "reserved-1y", "reserved-3y", "spot")


def _with_unit(text: str | None, option: str, example: str) -> str | None:
    """A target with its unit; a bare number is refused (2 would be seconds for one target, ms for another)."""
    if text is not None and re.fullmatch(r"\s*[0-9.eE+-]+\s*", text):
        raise InputError(f"{option} {text!r}: give the unit too, like {example}")
    return text


def _settings(args: argparse.Namespace) -> dict[str, str]:
    settings = parse_sets(args.set)
    args.ttft, args.tpot = _with_unit(args.ttft, "--ttft", "2s"), _with_unit(args.tpot, "--tpot", "33ms")
    given = {"request_rate": rate_text(args.rate) if args.rate else None,
             "input_length": f"{tokens(args.input, 'input')!r} token/sequence" if args.input is not None else None,
             "output_length": f"{tokens(args.output, 'output')!r} token/sequence" if args.output is not None else None,
             "ttft_target": args.ttft if args.ttft else None,
             "ttft_percentile": args.ttft_percentile,
             "target_step_time": args.tpot if args.tpot else None,
             "cost_mode": "own" if args.own else None,
             "rent_kind": args.rent.replace("-", "_") if args.rent else None}
    for name, value in given.items():
        if value is None:
            continue
        if name in settings:
            raise InputError(f"{name} is given twice (an option and --set); give it once")
        settings[name] = value
    if args.rent not in (None, *RENT_KINDS):
        raise InputError(f"--rent {args.rent}: choose one of {', '.join(RENT_KINDS)}")
    return settings


def _cell(plan, name: str, mode: str) -> str:
    ev = plan.evaluations[mode]
    if name in ev.unavailable or name not in ev.base:
        return "n/a"
    s = ev.table.specs[name]
    value = ev.magnitude(name)
    return ("yes" if value else "no") if s.boolean else fmt(value)


def render(plan) -> str:
    bound, est = plan.evaluations["bound"], plan.evaluations["estimate"]
    cal = est.calibration.name if est.calibration is not None else "generic"
    lines = [f"{bound.model.name} on {bound.hardware.name}: plan ({bound.magnitude('cost_mode')}ing the chips)",
             f"  {'':<36} {'bound':>14} {'estimate':>14}  unit   (estimate: {cal})"]
    for section, names in ROWS:
        lines += ["", section]
        for name in names:
            unit = bound.table.specs[name].unit_short
            lines.append(f"  {name:<36} {_cell(plan, name, 'bound'):>14} {_cell(plan, name, 'estimate'):>14}  {unit}")
    for mode, ev in plan.evaluations.items():
        for w in ev.warnings():
            lines.append(f"\nwarning ({mode}): {w}")
    lines.append("\nassumptions: disaggregated prefill and decode fleets of n_chips each; prefill replicas an M/M/c "
                 "queue (one prompt at a time); a year is 365 days, a month 730 hours; see symroof explain NAME")
    return "\n".join(lines)


def render_compare(plans, mode: str) -> str:
    head = (f"{'hardware':<14} {'n_chips':>8} {'chips':>8} {'USD/month':>14} {'USD/Mtok in':>12} "
            f"{'USD/Mtok out':>13} {'MW':>9} {'TTFT p (s)':>11} {'break-even USD/chip-h':>22}")
    lines = [f"{plans[0].evaluations[mode].model.name}: chips ranked by cost per million output tokens ({mode})",
             head]
    for p in plans:
        c = lambda n, p=p: _cell(p, n, mode)  # noqa: E731
        lines.append(f"{p.hardware:<14} {c('n_chips'):>8} {c('chips_for_traffic'):>8} {c('monthly_cost'):>14} "
                     f"{c('cost_per_million_input_tokens'):>12} {c('cost_per_million_output_tokens'):>13} "
                     f"{c('power_draw'):>9} {c('ttft_at_percentile'):>11} {c('break_even_chip_price'):>22}")
    lines.append("\nbreak-even: the chip-hour cost at which each chip's cost per million output tokens equals the "
                 "cheapest's")
    return "\n".join(lines)


def cmd_plan(args: argparse.Namespace) -> str:
    settings = _settings(args)
    mode = "estimate" if args.estimate or args.calibration else "bound"
    if args.compare:
        chips = list(dict.fromkeys([args.hardware, *[c.strip() for c in args.compare.split(",") if c.strip()]]))
        plans = compare(args.model, chips, settings, mode, args.calibration)
        if args.format == "json":
            return json.dumps([{**p.evaluations[mode].to_dict(), "notes": notes(p.evaluations[mode])}
                               for p in plans], indent=2)
        return render_compare(plans, mode)
    p = plan(args.model, args.hardware, settings, args.calibration)
    if args.format == "json":
        ev = p.evaluations[mode]
        return json.dumps({**ev.to_dict(), "notes": notes(ev)}, indent=2)
    return render(p)
