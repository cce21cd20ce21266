"""The plan frontier figure: cost per million output tokens against output tokens/s per user over every layout
and batch (symroof plan --frontier), and beside it the TTFT at the percentile planned; the configuration
``symroof plan`` chooses with the same inputs marked (planner.plan's own answer, not worked out again), the
per-token target as a line at 1 / TPOT in both panels and the TTFT target as a line in the second, and the
traffic (request rate, input and output lengths) in the title.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy
import pandas

from .. import planner, search
from ..core.errors import InputError
from ..core.units import Q_
from ..evaluation import Evaluation, evaluate
from .common import CHOSEN_COLOUR, MODE_COLOURS, TARGET_COLOUR, matplotlib_figure, page, plotly, target, tick, write

X = ("plan_tokens_per_second_per_user", "output tokens/s per user")
PANELS = (
    ("cost_per_million_output_tokens", "USD per million output tokens", "log"),
    ("ttft_at_percentile", "TTFT at the planned percentile, s", "linear"),
)
MEETS, MISSES = "frontier: meets every target", "frontier: misses the per-token target"


@dataclass
class PlanFrontier:
    """What the figure shows: the frontier's rows, the chosen plan (None, with ``why``, where no configuration
    meets the targets), the traffic and targets, and the mode."""

    rows: pandas.DataFrame
    chosen: dict | None
    why: str
    traffic: dict
    mode: str


def _traffic(ev: Evaluation) -> dict:
    """The traffic and the targets as the evaluation holds them; the TPOT target as a per-user speed."""
    speed = (Q_(1, "token/sequence") / ev.value("target_step_time")).to("token/s/sequence").magnitude
    return {
        "request_rate": ev.magnitude("request_rate"),
        "input_length": ev.magnitude("input_length"),
        "output_length": ev.magnitude("output_length"),
        "ttft_target": ev.value("ttft_target").to("s").magnitude,
        "ttft_percentile": ev.magnitude("ttft_percentile"),
        "target_step_time": ev.magnitude("target_step_time"),
        "tpot_speed": speed,
    }


def plan_frontier_data(
    model: str,
    hardware: str,
    settings: Mapping[str, Any] | None = None,
    mode: str = "bound",
    calibration: str | None = None,
) -> PlanFrontier:
    """The frontier (planner.frontier) and the plan symroof plan chooses (planner.plan), same inputs, same mode."""
    settings = dict(settings or {})
    rows = planner.frontier(model, hardware, settings, mode, calibration)
    try:
        chosen_plan = planner.plan(model, hardware, settings, mode=mode, calibration=calibration)
    except InputError as e:
        ev = evaluate(model, hardware, settings, mode=mode, calibration=calibration)
        return PlanFrontier(rows, None, str(e), _traffic(ev), mode)
    ev = chosen_plan.evaluations[mode]
    chosen = {n: ev.magnitude(n) for n in (X[0], "plan_batch_size", "chips_for_traffic", "monthly_cost")}
    chosen.update(
        {
            n: ev.value(n).to(unit).magnitude
            for n, unit in zip((p for p, *_ in PANELS), ("USD/megatoken", "s"), strict=True)
        }
    )
    chosen["described"] = f"{search.described(ev)}, batch {chosen['plan_batch_size']:,.0f}"
    return PlanFrontier(rows, chosen, "", _traffic(ev), mode)


def heading(model: str, hardware: str, data: PlanFrontier) -> str:
    t = data.traffic
    return (
        f"{model} on {hardware}, plan frontier ({data.mode}): {t['request_rate']:,.4g} requests/s, "
        f"{t['input_length']:,.0f} tokens in, {t['output_length']:,.0f} out per request\n"
        f"targets: TTFT p{t['ttft_percentile']:g} {t['ttft_target']:.3g} s, TPOT {t['target_step_time']:.3g} ms "
        f"(= {t['tpot_speed']:,.4g} tokens/s per user)"
        + ("" if data.chosen else "\n" + textwrap.fill(f"no plan chosen: {data.why}", 150))
    )


def _hover(r: pandas.Series) -> str:
    return (
        f"{search.describe(r)}, batch {r['plan_batch_size']:g}, TTFT p {r['ttft_at_percentile']:.3g} s, "
        f"{r['monthly_cost']:,.0f} USD/month{'' if r['meets'] else ' (misses the per-token target)'}"
    )


def traces(data: PlanFrontier) -> list[dict]:
    """Every trace, for both back ends: panel, name, colour, style, points. Names appear once in the legend."""
    rows, colour, out = data.rows, MODE_COLOURS[data.mode], []
    t = data.traffic
    for col, (y, _, scale) in enumerate(PANELS, start=1):
        first = col == 1
        out.append(
            {
                "col": col,
                "name": "cost frontier (every layout and batch)",
                "colour": colour,
                "style": "line",
                "legend": first,
                "x": rows[X[0]].to_numpy(),
                "y": rows[y].to_numpy(),
                "text": None,
            }
        )
        for name, held, style in ((MEETS, rows["meets"], "filled"), (MISSES, ~rows["meets"], "open")):
            part = rows[held.to_numpy(dtype=bool)]
            if not part.empty:
                out.append(
                    {
                        "col": col,
                        "name": name,
                        "colour": colour,
                        "style": style,
                        "legend": first,
                        "x": part[X[0]].to_numpy(),
                        "y": part[y].to_numpy(),
                        "text": [_hover(r) for _, r in part.iterrows()],
                    }
                )
        spread = numpy.concatenate([rows[y].to_numpy(), [data.chosen[y]] if data.chosen else []])
        if col == 2:
            spread = numpy.append(spread, t["ttft_target"])
        low = float(numpy.nanmin(spread)) / 1.2 if scale == "log" else 0.0
        high = float(numpy.nanmax(spread)) * 1.2
        out.append(
            {
                "col": col,
                "name": f"TPOT target {t['target_step_time']:.3g} ms ({t['tpot_speed']:,.4g} tokens/s per user)",
                "colour": TARGET_COLOUR,
                "style": "dash",
                "legend": first,
                "x": numpy.array([t["tpot_speed"]] * 2),
                "y": numpy.array([low, high]),
                "text": None,
            }
        )
        if col == 2:
            speeds = numpy.append(rows[X[0]].to_numpy(), t["tpot_speed"])
            out.append(
                {
                    "col": col,
                    "name": f"TTFT p{t['ttft_percentile']:g} target {t['ttft_target']:.3g} s",
                    "colour": TARGET_COLOUR,
                    "style": "dot",
                    "legend": True,
                    "x": numpy.array([speeds.min() / 1.1, speeds.max() * 1.1]),
                    "y": numpy.array([t["ttft_target"]] * 2),
                    "text": None,
                }
            )
        if data.chosen:
            out.append(
                {
                    "col": col,
                    "name": f"chosen plan (symroof plan): {data.chosen['described']}",
                    "colour": CHOSEN_COLOUR,
                    "style": "star",
                    "legend": first,
                    "x": numpy.array([data.chosen[X[0]]]),
                    "y": numpy.array([data.chosen[y]]),
                    "text": [
                        f"{data.chosen['described']}, {data.chosen['chips_for_traffic']:,.0f} chips, "
                        f"{data.chosen['monthly_cost']:,.0f} USD/month"
                    ],
                }
            )
    return out


def _limits(data: PlanFrontier) -> tuple[set, list]:
    """Both panels' x range (the TTFT target's line spans it) and each panel's y range (the TPOT target's line)."""
    lines = traces(data)
    xs = {tuple(t["x"]) for t in lines if t["style"] == "dot"}
    return xs, [tuple(t["y"]) for t in lines if t["style"] == "dash"]


def frontier_plotly(data: PlanFrontier, title: str):
    go, make_subplots = plotly()
    fig = make_subplots(rows=1, cols=2, subplot_titles=[f"{words} against {X[1]}" for _, words, _ in PANELS])
    styles = {
        "line": ("lines", "circle", 0, None),
        "filled": ("markers", "circle", 8, None),
        "open": ("markers", "circle-open", 8, None),
        "dash": ("lines", "circle", 0, "dash"),
        "dot": ("lines", "circle", 0, "dot"),
        "star": ("markers", "star", 18, None),
    }
    for t in traces(data):
        mode, symbol, size, dash = styles[t["style"]]
        fig.add_trace(
            go.Scatter(
                x=t["x"],
                y=t["y"],
                name=t["name"],
                legendgroup=t["name"],
                showlegend=t["legend"],
                mode=mode,
                line={"color": t["colour"], "dash": dash},
                marker={
                    "color": t["colour"],
                    "symbol": symbol,
                    "size": size,
                    "line": {"color": t["colour"], "width": 1.5},
                },
                text=t["text"],
                hoverinfo="text+x+y" if t["text"] else "x+y",
            ),
            row=1,
            col=t["col"],
        )
    (xs,), ys = _limits(data)
    for col, (_, words, scale) in enumerate(PANELS, start=1):
        fig.update_xaxes(title=X[1], type="log", range=numpy.log10(xs).tolist(), row=1, col=col)
        y = numpy.log10(ys[col - 1]) if scale == "log" else ys[col - 1]
        fig.update_yaxes(title=words, type=scale, range=list(y), row=1, col=col)
    fig.update_layout(
        title={"text": title.replace("\n", "<br>"), "font": {"size": 13}},
        legend={"orientation": "h", "y": -0.2},
        margin={"t": 120},
    )
    return fig


def frontier_matplotlib(data: PlanFrontier, title: str):
    fig = matplotlib_figure(figsize=(12, 5.8), dpi=110)
    axes = [fig.add_subplot(1, 2, col) for col in (1, 2)]
    styles = {
        "line": {"ls": "-", "lw": 1.2},
        "filled": {"ls": "", "marker": "o", "ms": 5},
        "open": {"ls": "", "marker": "o", "ms": 5, "mfc": "none"},
        "dash": {"ls": "--", "lw": 1.2},
        "dot": {"ls": ":", "lw": 1.5},
        "star": {"ls": "", "marker": "*", "ms": 16, "zorder": 5},
    }
    for t in traces(data):
        axes[t["col"] - 1].plot(
            t["x"], t["y"], color=t["colour"], label=t["name"] if t["legend"] else "_nolegend_", **styles[t["style"]]
        )
    from matplotlib.ticker import FuncFormatter  # the plot extra, present once a figure is drawn

    (xs,), ys = _limits(data)
    for ax, (_, words, scale), y in zip(axes, PANELS, ys, strict=True):
        ax.set_xscale("log")
        ax.set_yscale(scale)
        ax.set_xlim(*xs)
        ax.set_ylim(*y)
        for axis in (ax.xaxis, ax.yaxis) if scale == "log" else (ax.xaxis,):
            axis.set_major_formatter(FuncFormatter(tick))
            axis.set_minor_formatter(FuncFormatter(tick))
        ax.set_xlabel(X[1])
        ax.set_ylabel(words)
        ax.grid(alpha=0.3, which="both")
    handles, names = [], []
    for ax in axes:
        h, n = ax.get_legend_handles_labels()
        handles, names = handles + h, names + n
    fig.legend(handles, names, fontsize=8, loc="lower center", ncol=2)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    return fig


def plot_plan_frontier(
    model: str,
    hardware: str,
    output: str | Path,
    settings: Mapping[str, Any] | None = None,
    mode: str = "bound",
    calibration: str | None = None,
) -> Path:
    """Write the configuration search's cost frontier (symroof plan --frontier) with the chosen plan marked."""
    path, suffix = target(output)
    data = plan_frontier_data(model, hardware, settings, mode, calibration)
    title = heading(model, hardware, data)
    if suffix == ".html":
        return write(page(frontier_plotly(data, title)), path, suffix)
    return write(frontier_matplotlib(data, title), path, suffix)
