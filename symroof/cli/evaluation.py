"""list, eval and explain: the declared model, evaluated and explained."""

from __future__ import annotations

import argparse
import csv
import io
import json

from .. import catalog
from ..derive import table
from .common import evaluation, fmt, load_pair, warn, wrapped
from .notes import notes
from .render import number, sections, value_text

#: A table line is at most this wide; a formula longer than its column points to ``symroof explain NAME``.
WIDTH = 240
FORMULA = WIDTH - 74
#: Lines of the short view are at most this wide.
SHORT = 110


def formula_cell(s, text: str | None, name: str, width: int = FORMULA) -> str:
    """One line for a formula: the whole of it when it fits, else the equation a threshold solves or the
    formula's start, each pointing to ``symroof explain NAME`` for the whole."""
    text = text or ""
    if len(text) <= width:
        return text
    tail = f" ... (symroof explain {name})"
    if s.equation is not None:
        solved = f"solves {s.equation.replace(', solved for ', ' for ')}; symroof explain {name}"
        if len(solved) <= width:
            return solved
    return text[: max(0, width - len(tail))] + tail


def render_table(ev) -> str:
    """The evaluation as an aligned text table, one section per group: every quantity (``eval --all``)."""
    marked = set(ev.infeasible_quantities())
    shown = set(ev.names()) | set(ev.unavailable)
    parts = []
    for group, group_title in ev.table.groups:
        rows = []
        for s in ev.table:
            if s.group != group or s.name not in shown:
                continue
            if s.name in ev.unavailable:
                rows.append((s.name, "n/a", formula_cell(s, ev.unavailable[s.name], s.name)))
                continue
            note = formula_cell(s, ev.formula_text(s.name), s.name) if ev.kind(s.name) == "derived" \
                else str(ev.provenance[s.name])
            if s.name in marked:
                note = f"NOT FEASIBLE (does not fit in HBM); {formula_cell(s, note, s.name, FORMULA - 35)}"
            rows.append((s.name, value_text(ev, s.name), note))
        parts.append((group_title, rows))
    lines = [title(ev), "", *sections(parts, ("left", "left", "left"))]
    for n in notes(ev):
        lines.append("\n" + wrapped(f"note: {n}", WIDTH))
    for w in ev.warnings():
        lines.append("\n" + wrapped(f"warning: {w}", WIDTH))
    return "\n".join(lines)


def title(ev) -> str:
    """``LLaMA 3 70B on TPU v5e``, and the calibration in estimate mode."""
    text = f"{ev.model.name} on {ev.hardware.name}"
    if ev.mode != "bound":
        text += f" (estimate: {ev.calibration.name if ev.calibration is not None else 'no calibration'})"
    return text


#: The short view: the chapter's answers, (section, ((label, quantity), ...)); a label may name the compute dtype.
SUMMARY = (
    ("Hardware, per chip", (("HBM", "hbm_capacity"), ("HBM bandwidth", "hbm_bandwidth"),
                            ("FLOP rate ({compute_dtype})", "chip_flops"), ("Price (on demand)", "chip_price"))),
    ("Memory", (("Weights", "param_bytes"), ("KV cache per token", "kv_bytes_per_token"),
                ("KV cache per sequence", "kv_bytes_per_sequence"), ("KV cache of the batch", "kv_cache_bytes"),
                ("Weights plus KV cache", "total_memory_bytes"), ("Smallest slice that holds them", "min_slice_chips"),
                ("Largest batch that fits", "max_batch_size"))),
    ("Decode", (("Step time (per output token)", "step_time"), ("  loading the weights", "step_time_params"),
                ("  loading the KV cache", "step_time_kv"), ("  matmul FLOPs at peak", "step_time_flops"),
                ("  fixed overheads", "step_time_overhead"), ("  communication{comm}", "step_time_comm"),
                ("Tokens per second per chip", "tokens_per_second_per_chip"),
                ("Step time at the largest batch", "step_time_at_max_batch"),
                ("Critical batch (compute-bound above)", "critical_batch_size"))),
    ("Prefill", (("Prefill time of one sequence", "prefill_time"),
                 ("Prefill servers per generate server", "prefill_to_generate_ratio"))),
    ("Cost", (("FLOP per dollar", "flops_per_dollar"), ("Cost per million output tokens", "cost_per_million_tokens"))),
)
#: Rows of the short view left out in bound mode (zero there by definition).
ESTIMATE_ONLY = frozenset({"step_time_overhead"})


def render_summary(ev) -> str:
    """The short view (``eval``): the operating point and the chapter's answers, on one screen."""
    comm = " (left out in bound mode)" if ev.mode == "bound" else " (its exposed part counts)"
    dtype = ev.magnitude("compute_dtype") if "compute_dtype" in ev.base else ""
    marked = set(ev.infeasible_quantities())
    parts = []
    for section, rows in SUMMARY:
        shown = []
        for label, name in rows:
            if name not in ev.table.specs or (ev.mode == "bound" and name in ESTIMATE_ONLY):
                continue
            if name in ev.unavailable:
                shown.append((label, "n/a", f"{name}: {ev.unavailable[name]}"[:100]))
            elif name in ev.base:
                flag = " (NOT FEASIBLE)" if name in marked else ""
                shown.append((label.format(compute_dtype=dtype, comm=comm), value_text(ev, name), name + flag))
        parts.append((section, shown))
    point = ", ".join(text.format(value_text(ev, n) if ev.spec(n).categorical else number(ev.magnitude(n)))
                      for text, n in (("batch {}", "batch_size"), ("{} tokens of context", "context_length"),
                                      ("{} chips", "n_chips"), ("weights {}", "weight_dtype"),
                                      ("KV cache {}", "kv_dtype")) if n in ev.base)
    lines = [title(ev), f"  {point}"]
    if ev.infeasible():
        lines.append("  NOT FEASIBLE: parameters plus KV cache do not fit in HBM (see the warning below)")
    lines += ["", *sections(parts, ("left", "left", "left"))]
    said = [wrapped(f"note: {n}", SHORT) for n in notes(ev)] + [wrapped(f"warning: {w}", SHORT)
                                                                 for w in ev.warnings()]
    lines += ["", *said] if said else []
    lines.append(f"every quantity ({len(ev.names())}), with formulas and sources: add --all")
    return "\n".join(lines)


def render_csv(ev) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["name", "value", "unit", "kind", "source"])
    for name in ev.names():
        writer.writerow([name, fmt(ev.magnitude(name)), ev.table.specs[name].unit_text, ev.kind(name),
                         ev.source(name)])
    return buf.getvalue().rstrip("\n")


def cmd_list(args: argparse.Namespace) -> str:
    if args.what == "quantities":
        rows = [s for s in table() if s.kind != "constant"]
        if args.format == "json":
            return json.dumps([{"name": s.name, "kind": s.kind, "unit": s.unit_text, "group": s.group,
                                "description": s.description} for s in rows], indent=2)
        return "\n".join(f"{s.name:<38} {s.kind:<8} {s.unit_short:<14} {s.group:<12} {s.description}" for s in rows)
    kind = "model" if args.what == "models" else "hardware"
    alias_of = {a: target for a, (target, _) in catalog.aliases(kind).items()}
    entries = [catalog.load(kind, i) for i in catalog.known(kind)]  # ids and aliases, sorted together
    if args.format == "json":
        return json.dumps([{"id": e.id, "name": e.name, "alias_of": alias_of.get(e.id)} for e in entries], indent=2)
    return "\n".join(f"{e.id:<14} {e.name}" + (f" (same architecture as {alias_of[e.id]})" if e.id in alias_of else "")
                     for e in entries)


def cmd_eval(args: argparse.Namespace) -> str:
    model, hardware = load_pair(args.model, args.hardware)
    ev = evaluation(model, hardware, args)
    if args.format == "json":
            return json.dumps({**ev.to_dict(), "notes": notes(ev)}, indent=2)
    if args.format == "csv":
        warn(ev.warnings())
        return render_csv(ev)
    return render_table(ev) if args.all else render_summary(ev)


def _formula_lines(label: str, s, mode: str) -> list[str]:
    """``name = formula``; a long one as its short form with each repeated part on a "where" line."""
    short = s.where.get(mode)
    if short is None:
        return [f"  {label:<11} {s.name} = {s.formula_text(mode)}"]
    formula, parts = short
    return [f"  {label:<11} {s.name} = {formula}", *(f"  {'where' if i == 0 else '':<11} {x} = {part}"
                                                    for i, (x, part) in enumerate(parts))]


def cmd_explain(args: argparse.Namespace) -> str:
    s = table().get(args.name)
    lines = [
        f"{s.name} ({s.kind}, {s.group})",
        f"  {s.description}",
        f"  unit:       {s.unit_text or 'dimensionless'}",
        f"  symbol:     {s.display}",
        f"  source:     {s.source}",
    ]
    if s.categorical:
        lines.append(f"  choices:    {', '.join(s.choices)} (default {s.default_choice})")
    if s.kind == "derived":
        lines += _formula_lines("formula:", s, "bound")
        if s.formula_text("estimate") != s.formula_text():
            lines += _formula_lines("estimate:", s, "estimate")
        lines.append(f"  latex:      {s.latex['bound']}")
    elif s.default_text is not None:
        lines.append(f"  default:    {s.name} = {s.default_text}")
        if s.has_rule:
            lines.append(f"  latex:      {s.latex['bound']}")
    if s.neutral is not None:
        lines.append(f"  bound mode: {s.neutral:g} (an estimate factor)")
    if s.deps:
        lines.append(f"  depends on: {', '.join(s.deps)}")
    if s.equation is not None:
        lines.append(f"  solved:     {s.equation}")
    if s.regime:
        lines.append(f"  holds when: {s.regime}")
    if s.users:
        lines.append(f"  used by:    {', '.join(s.users)}")
    return "\n".join(lines)
