"""The validation report as a table, JSON or CSV: per point, and the error per set of points and mode."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import Counter

from .dataset import Point

MODES = ("bound", "estimate", "held_out", "replay", "held_out_replay")
#: estimate and held out are the closed form's; replay and held-out replay the benchmark replayed over the same step
TITLES = {"bound": "bound", "estimate": "estimate (in-sample)", "held_out": "held out (by source)",
          "replay": "replay (in-sample)", "held_out_replay": "replay held out"}


def error(points: list[Point], mode: str) -> tuple[float, float, int]:
    """(geometric-mean error, geometric-mean measured/predicted, points) of the points predicted in ``mode``."""
    ratios = [p.measured / getattr(p, mode) for p in points if getattr(p, mode)]
    if not ratios:
        return math.nan, math.nan, 0
    logs = [math.log(x) for x in ratios]
    return (math.exp(sum(abs(v) for v in logs) / len(logs)) - 1, math.exp(sum(logs) / len(logs)), len(ratios))


def family(model: str) -> str:
    """A model's family by its catalog id: llama, deepseek, gpt-oss, mixtral, qwen3, ..."""
    m = re.match(r"[a-z]+(?:-oss)?\d?", model)
    return m.group(0) if m else model


def groups(points: list[Point]) -> dict[str, list[Point]]:
    out: dict[str, list[Point]] = {"all": points}
    for p in points:
        out.setdefault(p.family, []).append(p)
    for p in points:
        out.setdefault(p.kind, []).append(p)
    for p in points:
        out.setdefault(f"{p.family} {p.kind}", []).append(p)
    for p in sorted(points, key=lambda p: p.row["model"]):
        out.setdefault(f"family {family(p.row['model'])}", []).append(p)
    for p in sorted(points, key=lambda p: p.harness):
        out.setdefault(f"engine {p.harness}", []).append(p)
    for p in sorted(points, key=lambda p: p.dtype):
        out.setdefault(f"dtype {p.dtype}", []).append(p)
    for p in sorted(points, key=lambda p: p.vendor):
        out.setdefault(f"vendor {p.vendor}", []).append(p)
    for p in points:
        if p.benchmark:
            out.setdefault("benchmark rows (replayed)", []).append(p)
    for p in points:
        if p.excluded:
            out.setdefault("excluded from fit", []).append(p)
    return out


def not_predicted(points: list[Point]) -> dict[str, int]:
    """Rows not predicted, counted per reason (an engine without a profile, a metric per node, ...)."""
    reasons = (re.sub(r"^\w+ is unavailable: ", "a quantity is unavailable: ", p.skipped) for p in points
               if p.skipped is not None)
    return dict(Counter(reasons).most_common())


def summary(points: list[Point]) -> dict:
    return {name: {m: dict(zip(("error", "measured_over_predicted", "points"), error(ps, m), strict=True))
                   for m in MODES} for name, ps in groups(points).items()}


def _ratio(p: Point, mode: str) -> str:
    value = getattr(p, mode)
    return f"{p.measured / value:8.2f}" if value else f"{'n/a':>8}"


def _finite(value):
    """``value`` with every NaN or infinite float (in dicts, lists and tuples) made None, for strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(x) for k, x in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(x) for x in value]
    return value


def render(v, fmt: str = "table", show_rows: bool = True) -> str:
    done = v.predicted()
    table = summary(done)
    if fmt == "json":  # no points of a mode is an undefined error: null, never a bare NaN (not JSON)
        out = {"summary": table, "fitted": {e: {"values": vals, "error": err, "points": n}
                                            for e, (vals, err, n) in v.fitted.items()},
               "not_predicted": not_predicted(v.points),
               "not_replayed": dict(Counter(p.replay_error for p in v.points if p.replay_error).most_common())}
        if show_rows:
            out["points"] = [{"line": p.line, "label": p.label, "measured": p.measured, "bound": p.bound,
                              "estimate": p.estimate, "held_out": p.held_out, "replay": p.replay,
                              "held_out_replay": p.held_out_replay, "skipped": p.skipped,
                              "excluded_from_fit": p.excluded or None, "source": p.row["source"]}
                             for p in v.points]
        return json.dumps(_finite(out), indent=1, allow_nan=False)
    if fmt == "csv" and not show_rows:  # the summary: one row per set of points and mode
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["set", "mode", "error", "measured_over_predicted", "points"])
        for name, s in table.items():
            for m in MODES:
                w.writerow([name, m, *(f"{x:.6g}" if s[m]["points"] else "" for x in
                                       (s[m]["error"], s[m]["measured_over_predicted"])), s[m]["points"]])
        return buf.getvalue().rstrip("\n")
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["line", "point", "measured", *MODES, *(f"measured_over_{m}" for m in MODES), "skipped",
                    "excluded_from_fit"])
        for p in v.points:
            values = [getattr(p, m) for m in MODES]
            w.writerow([p.line, p.label, p.measured, *(x or "" for x in values),
                        *(f"{p.measured / x:.4f}" if x else "" for x in values), p.skipped or "", p.excluded])
        return buf.getvalue().rstrip("\n")
    lines = []
    if show_rows:
        lines.append(f"{'measured / predicted':>20}  {'bound':>6} {'estimate':>8} {'held out':>8} {'replay':>8} "
                     f"{'held out':>8}  point")
        for p in done:
            lines.append(f"{'':>20}" + " ".join(_ratio(p, m) for m in MODES) + f"  {p.label}")
        skipped = [p for p in v.points if p.skipped is not None]
        if skipped:
            lines.append(f"\nnot predicted ({len(skipped)} points): " + "; ".join(sorted({p.skipped for p in skipped})))
        lines.append("")
    titles = TITLES if v.fitted else {**TITLES, "estimate": "estimate (as shipped)", "replay": "replay (as shipped)"}
    shown = [m for m in MODES if any(getattr(p, m) for p in done)] or ["bound"]
    lines.append(f"{'error (geometric mean)':<44}" + "".join(f"{titles[m]:>26}" for m in shown))
    for name, s in table.items():
        cells = "".join(f"{s[m]['error']:10.1%} (x{s[m]['measured_over_predicted']:4.2f}, {s[m]['points']:4d})"
                        if s[m]["points"] else f"{'n/a':>26}" for m in shown)
        lines.append(f"  {name:<42}{cells}")
    lines.append("(x: geometric mean of measured / predicted; then the points. held out: each source predicted "
                 "with engine CPU times fitted on the other sources; replay: the source's benchmark replayed step "
                 "by step, --replay)")
    lines.append("not predicted: " + "; ".join(f"{n} {why}" for why, n in not_predicted(v.points).items()))
    failed = Counter(p.replay_error for p in v.points if p.replay_error)
    if failed:
        lines.append("not replayed: " + "; ".join(f"{n} {why}" for why, n in failed.most_common()))
    if v.fitted:
        lines.append("fitted engine CPU times (all points): " + "; ".join(
            f"{e} " + ", ".join(f"{k}={x:g}" for k, x in vals.items()) + f" ({err:.1%} on {n})"
            for e, (vals, err, n) in v.fitted.items()))
    return "\n".join(lines)
