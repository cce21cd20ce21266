"""plan: fleets, dollars a month and megawatts for a traffic profile, bound and estimate side by side."""

from __future__ import annotations

import argparse
import json
import re

from .. import search
from ..core.errors import InputError
from ..core.values import parse_value
from ..derive import table as table_spec
from ..planner import compare, frontier, frontier_json, plan
from .common import parse_sets, refuse_empty
from .notes import notes
from .parsing import length, rate
from .render import number, quantity, sections, table, value_text

#: What the plan table shows, in order: (section, quantity).
ROWS = (
    ("Traffic and targets", ("request_rate", "input_length", "output_length", "ttft_target", "ttft_percentile",
                             "target_step_time")),
    ("Fleets", ("serving_mode", "n_chips", "latency_batch_size", "decode_replicas", "prefill_replicas",
                "prefill_utilisation", "colocated_replicas", "chips_for_traffic")),
    ("Latency", ("priced_step_time", "plan_time_per_token", "request_prefill_time", "ttft_queue_wait",
                 "kv_transfer_time", "ttft_at_percentile")),
    ("Cost", ("chip_hour_cost", "monthly_cost", "cost_per_million_input_tokens", "cost_per_million_output_tokens",
              "break_even_chip_price", "self_hosting_break_even_tokens")),
    ("Power", ("power_draw", "energy_per_token")),
)
RENT_KINDS = ("on-demand", "reserved-1y", "reserved-3y", "spot")


def with_unit(text: str | None, option: str, example: str) -> str | None:
    """A target with its unit; a bare number is refused (2 would be seconds for one target, ms for another)."""
    if text is not None and re.fullmatch(r"\s*[0-9.eE+-]+\s*", text):
        raise InputError(f"{option} {text!r}: give the unit too, like {example}")
    return text


def _ttft(args: argparse.Namespace) -> None:
    """One TTFT target and one percentile: ``--ttft-p99 2s --ttft-p95 1s`` kept the last without a word."""
    targets, percentiles = args.ttft or [], args.ttft_percentile or []
    if len(targets) > 1 or len(percentiles) > 1:
        given = "; ".join(f"{option} {', '.join(values)}" for option, values in
                          (("--ttft", targets), ("--ttft-percentile", percentiles)) if values)
        raise InputError(f"two TTFT targets ({given}): a plan meets one time-to-first-token percentile; give one "
                         "--ttft-pNN, or --ttft and --ttft-percentile once each")
    args.ttft = targets[0] if targets else None
    args.ttft_percentile = percentiles[0] if percentiles else None


def refuse_tpot_percentile(args: argparse.Namespace) -> None:
    """``--tpot-p99 33ms`` on the plan frontier (plot frontier): it marks the mean target, said in one line."""
    if getattr(args, "tpot_percentile", None):
        raise InputError(f"--tpot-p{args.tpot_percentile[0]}: the plan frontier marks the mean time per output "
                         "token (give --tpot 33ms); symroof plan --tpot-pNN checks a percentile by the replay, as "
                         "symroof serve --max-rate --tpot-pNN does")


def _tpot(args: argparse.Namespace) -> None:
    """One per-token target: ``--tpot T`` (the mean) or ``--tpot-pNN T`` (a percentile, replayed: planner.plan's
    tpot_percentile); ``--tpot 33ms --tpot-p99 33ms`` is two."""
    targets, percentiles = args.tpot or [], args.tpot_percentile or []
    if len(targets) > 1 or len(percentiles) > 1:
        given = "; ".join(f"{option} {', '.join(values)}" for option, values in
                          (("--tpot", targets), ("--tpot-percentile", percentiles)) if values)
        raise InputError(f"two per-token targets ({given}): a plan meets one time per output token; give --tpot T "
                         "(the mean) or --tpot-pNN T (a percentile), once")
    if percentiles and not targets:
        raise InputError(f"--tpot-percentile {percentiles[0]} needs its target: give --tpot-p{percentiles[0]} 33ms")
    args.tpot = targets[0] if targets else None
    args.tpot_percentile = percentiles[0] if percentiles else None


def _settings(args: argparse.Namespace) -> dict[str, str]:
    _tpot(args)
    _ttft(args)
    refuse_empty({"--rate": args.rate, "--ttft": args.ttft, "--ttft-percentile": args.ttft_percentile,
                  "--tpot": args.tpot, "--input": args.input, "--output": args.output, "--rent": args.rent,
                  "--compare": args.compare, "--allow-dtype": args.allow_dtype})
    settings = parse_sets(args.set)
    args.ttft, args.tpot = with_unit(args.ttft, "--ttft", "2s"), with_unit(args.tpot, "--tpot", "33ms")
    for option, name, text in (("--ttft", "ttft_target", args.ttft), ("--tpot", "target_step_time", args.tpot),
                               ("--ttft-percentile", "ttft_percentile", args.ttft_percentile)):
        if text is not None:  # refused in the option's own words, not as the --set it becomes
            parse_value(table_spec().get(name), text, f"{option} {text.strip()!r}")
    given = {"request_rate": rate(args.rate) if args.rate else None,
             "input_length": length(args.input, "input") if args.input is not None else None,
             "output_length": length(args.output, "output") if args.output is not None else None,
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
    if "chip_price" in settings and (args.own or args.rent not in (None, "on-demand")):  # it would be dropped
        kind = "chip_purchase_price" if args.own else f"chip_price_{args.rent.replace('-', '_')}"
        how = "--own" if args.own else f"--rent {args.rent}"
        raise InputError(f"--set chip_price is the on-demand price, which {how} does not use: set {kind} instead")
    return settings


def _cell(plan, name: str, mode: str) -> str:
    return value_text(plan.evaluations[mode], name)


def render(plan) -> str:
    bound, est = plan.evaluations["bound"], plan.evaluations["estimate"]
    cal = est.calibration.name if est.calibration is not None else "generic"
    parts = [(section, [(name, _cell(plan, name, "bound"), _cell(plan, name, "estimate")) for name in names])
             for section, names in ROWS]
    lines = [f"{bound.model.name} on {bound.hardware.name}: plan ({bound.magnitude('cost_mode')}ing the chips; "
             f"estimate: {cal})", *sections(parts, ("left", "right", "right"), headers=("", "bound", "estimate"))]
    for mode, ev in plan.evaluations.items():
        for w in ev.warnings():
            lines.append(f"\nwarning ({mode}): {w}")
    fleets = ("colocated replicas of n_chips each, an open loop at their share of the rate (TTFT: the token "
              "budget's M/D/1 wait with an exponential tail)" if bound.magnitude("serving_mode") == "colocated" else
              "disaggregated prefill and decode fleets of n_chips each; prefill replicas an M/M/c queue (one prompt "
              "at a time)")
    lines.append(f"\nassumptions: {fleets}; a year is 365 days, a month 730 hours; see symroof explain NAME")
    if plan.tpot_check is not None:
        lines.append(f"per-token target ({plan.mode}): {plan.tpot_check['note']}")
    return "\n".join(lines)


def _tpot_json(p) -> dict:
    """A percentile per-token target's part of the plan's JSON (none without): how the plan met it, and the
    replayed percentile among the quantities of the mode it was checked in (added to ``out`` by the caller)."""
    check = p.tpot_check
    if check is None:
        return {}
    return {"tpot_percentile": {**{k: v for k, v in check.items() if k != "note"}, "mode": p.mode, "unit": "second",
                                "note": check["note"]}}


def _plan_json(p, mode: str) -> dict:
    """One plan's JSON in ``mode``: the evaluation's contract, its notes, the search and the percentile check."""
    ev = p.evaluations[mode]
    out = {**ev.to_dict(), "notes": notes(ev), **_search_json(p), **_tpot_json(p)}
    check = p.tpot_check
    if check is not None and mode == p.mode:
        out["notes"] = [*out["notes"], check["note"]]
        if check["replayed"] is not None:
            unit = ev.spec("target_step_time")
            out["quantities"][f"tpot_p{check['percentile']:g}_replayed"] = {
                "value": check["replayed"] / unit.factor, "unit": unit.unit_text, "kind": "replay", "formula": None,
                "source": f"{check['replay']}: each request's (e2e - TTFT) / (output - 1), vLLM's TPOT"}
    return out


#: The comparison's columns after hardware and layout: (heading, quantity).
COMPARED = (("chips", "chips_for_traffic"), ("per month", "monthly_cost"),
            ("per Mtok in", "cost_per_million_input_tokens"), ("per Mtok out", "cost_per_million_output_tokens"),
            ("power", "power_draw"), ("TTFT p", "ttft_at_percentile"), ("break-even price", "break_even_chip_price"))


def render_compare(plans, mode: str) -> str:
    rows = [(p.hardware, search.described(p.evaluations[mode]), *(_cell(p, n, mode) for _, n in COMPARED))
            for p in plans]
    lines = [f"{plans[0].evaluations[mode].model.name}: chips ranked by cost per million output tokens ({mode})",
             *table(rows, ("left", "left", *("right",) * len(COMPARED)),
                    headers=("hardware", "layout", *(h for h, _ in COMPARED)))]
    lines.append("\nbreak-even: the chip-hour cost at which each chip's cost per million output tokens equals the "
                 "cheapest's")
    unpriced = [p.hardware for p in plans if "cost_per_million_output_tokens" in p.evaluations[mode].unavailable]
    if unpriced:
        lines.append(f"{', '.join(unpriced)}: no published price ({mode}), ranked last; its break-even price is the "
                     f"most its chip-hour could cost to match {plans[0].hardware}")
    return "\n".join(lines)


def _allowed(text: str | None) -> list[str]:
    allowed = [d.strip() for d in (text or "").split(",") if d.strip()]
    if text is not None and not allowed:  # ",": no dtype, which would search the model's own without a word
        raise InputError(f"--allow-dtype {text!r} names no dtype; give them, like fp8,fp4, or leave the option out")
    return allowed


def render_search(plan) -> str:
    """The layout the search chose, how much it scored, and the runners-up with why each lost."""
    scored = plan.search
    if scored is None:
        return ""
    best = scored.best
    cost = "" if best["unpriced"] else f", {quantity(best['monthly_cost'], 'USD/month')}"
    lines = [f"\nlayout chosen ({scored.mode}): {search.describe(best)}{cost}; {len(scored.frame)} configurations "
             f"scored ({'; '.join(scored.pruned)})"]
    lines += [f"  runner-up {text}: {why}" for text, why in scored.runners_up()]
    if best["pipeline_parallel"] > 1:
        lines.append("  note: a pipeline stage is counted as adding its bandwidth to every token's path (the step "
                     "model divides the weights over all chips); real per-token latency across stages is longer")
    return "\n".join(lines)


def render_frontier(rows) -> str:
    specs = table_spec()
    shown = ("plan_tokens_per_second_per_user", "cost_per_million_output_tokens", "ttft_at_percentile",
             "monthly_cost")
    cells = [(search.describe(r), number(r["plan_batch_size"]),
              *(quantity(r[n], specs.get(n).unit_text) for n in shown), "yes" if r["meets"] else "no")
             for _, r in rows.iterrows()]
    lines = ["\nfrontier: cost per million output tokens against output tokens/s per user (none both cheaper and "
             "faster)",
             *table(cells, ("left", *("right",) * 5, "left"),
                    headers=("layout", "batch", "per user", "per Mtok out", "TTFT p", "per month", "meets"))]
    return "\n".join(lines)


def cmd_plan(args: argparse.Namespace) -> str:
    settings = _settings(args)
    mode = "estimate" if args.estimate or args.calibration else "bound"
    allow = _allowed(args.allow_dtype)
    if args.no_search and (allow or args.frontier):
        raise InputError("--no-search plans the default slice; --allow-dtype and --frontier search layouts")
    percentile = args.tpot_percentile
    if percentile is not None and args.frontier:
        raise InputError(f"--tpot-p{percentile} with --frontier: the frontier marks the mean per-token target; give "
                         "--tpot T, or drop --frontier")
    if args.compare and args.frontier:
        raise InputError("--frontier is one chip's frontier; drop --compare (or plan each chip with --frontier)")
    if args.compare:
        chips = list(dict.fromkeys([args.hardware, *[c.strip() for c in args.compare.split(",") if c.strip()]]))
        if len(chips) < 2:
            raise InputError(f"--compare {args.compare!r} names no chip besides {args.hardware}; give others, "
                             "like h100,b200")
        plans = compare(args.model, chips, settings, mode, args.calibration, searched=not args.no_search,
                        allow_dtype=allow, tpot_percentile=percentile)
        if args.format == "json":
            return json.dumps([_plan_json(p, mode) for p in plans], indent=2)
        return render_compare(plans, mode)
    p = plan(args.model, args.hardware, settings, mode=mode, calibration=args.calibration,
             searched=not args.no_search, allow_dtype=allow, tpot_percentile=percentile)
    rows = frontier(args.model, args.hardware, settings, mode, args.calibration, allow) if args.frontier else None
    if args.format == "json":
        out = _plan_json(p, mode)
        if rows is not None:
            out["frontier"] = frontier_json(rows)
        return json.dumps(out, indent=2)
    return render(p) + render_search(p) + (render_frontier(rows) if rows is not None else "")


def _search_json(p) -> dict:
    """The search's part of the plan's JSON: the layout chosen, what was scored, the runners-up."""
    if p.search is None:
        return {}
    best = p.search.best
    ev = p.evaluations[p.search.mode]
    return {"search": {"layout": {**{n: float(best[n]) for n in search.LAYOUT},
                                  "weight_dtype": ev.magnitude("weight_dtype"),
                                  "batch_size": float(ev.magnitude("plan_batch_size")),
                                  "decode_replicas": float(ev.magnitude("decode_replicas")),
                                  "prefill_replicas": float(ev.magnitude("prefill_replicas")),
                                  "colocated_replicas": float(ev.magnitude("colocated_replicas")),
                                  "serving_mode": ev.magnitude("serving_mode")},
                       "described": search.describe(best), "mode": p.search.mode,
                       "configurations_scored": len(p.search.frame), "space": p.search.pruned,
                       "runners_up": [{"layout": text, "why": why} for text, why in p.search.runners_up()],
                       "other_mode": p.notes}}
