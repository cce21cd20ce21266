"""The serving figure, in the form serving benchmarks publish: output throughput per chip against output tokens/s
per user (1 / ITL), one point per concurrency, the concurrency written at each point; beside it the same points
against the time to first token. The chapter's idealised engine (bound) and the engine profile (estimate) each
keep one colour in both panels and the legend; a point where an engine cap (max_num_seqs, the token budget, the
KV pool) holds the running batch below the concurrency is ringed with that cap's symbol, named in the legend.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy
import pandas

from ..evaluation.text import NO_CAP
from ..serve import serve
from .common import MODE_COLOURS, matplotlib_figure, page, plotly, target, tick, write

#: The concurrencies of the serving figure: a benchmark's usual sweep, 1 to 1024 users.
CONCURRENCIES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
#: The quantities each point holds (the declared ones: output_throughput_per_user is 1 / ITL).
SERVED = ("output_throughput_per_chip", "output_throughput_per_user", "itl", "ttft", "running_batch")
#: The engine caps (Served.binding's names): the quantity holding each, its words, its marker in plotly and
#: matplotlib.
CAPS = {
    "max_num_seqs": ("max_num_seqs", "max_num_seqs", "square-open", "s"),
    "max_num_batched_tokens": ("serve_token_cap", "token budget", "diamond-open", "D"),
    "kv_pool": ("kv_pool_sequences", "KV pool", "triangle-up-open", "^"),
}
MODE_NAMES = {"bound": "bound (the chapter's idealised engine)", "estimate": "estimate ({engine}, calibrated)"}
PANELS = (
    ("output_throughput_per_user", "output tokens/s per user (1 / ITL)", "linear"),
    ("ttft_s", "time to first token, s", "log"),
)
Y_TITLE = "output tokens/s per chip"


def serving_data(
    model: str,
    hardware: str,
    input_length: float,
    output_length: float,
    engine: str = "vllm",
    overrides: Mapping[str, Any] | None = None,
    calibration: str | None = None,
) -> pandas.DataFrame:
    """Throughput per chip and per user, ITL and TTFT as concurrency grows, bound and estimate, with the cap that
    binds and the value of each cap (requests running)."""
    rows = []
    for n in CONCURRENCIES:
        r = serve(
            model,
            hardware,
            input_length,
            output_length,
            concurrency=n,
            engine=engine,
            calibration=calibration,
            overrides=overrides,
        )
        for mode, ev in r.evaluations.items():
            rows.append(
                {
                    "concurrency": n,
                    "mode": mode,
                    "binding": r.binding(mode),
                    **{q: ev.magnitude(q) for q in SERVED},
                    **{cap: ev.magnitude(name) for cap, (name, *_) in CAPS.items()},
                    "token_budget": ev.magnitude("max_num_batched_tokens"),
                }
            )
    frame = pandas.DataFrame(rows)
    frame["ttft_s"] = frame["ttft"] / 1000  # declared in ms
    return frame


def labels(part: pandas.DataFrame, x: str) -> list[str]:
    """The concurrency written at each point; points that coincide (past a cap the running batch, and so every
    value, stays the same) carry one label, ``256-1024``, on the first of them."""
    out = [""] * len(part)
    xs, ys, cs = part[x].to_numpy(), part["output_throughput_per_chip"].to_numpy(), part["concurrency"].to_numpy()
    i = 0
    while i < len(part):
        j = i
        while (
            j + 1 < len(part)
            and numpy.isclose(xs[j + 1], xs[i], rtol=1e-9)
            and numpy.isclose(ys[j + 1], ys[i], rtol=1e-9)
        ):
            j += 1
        out[i] = f"{cs[i]:g}" if j == i else f"{cs[i]:g}-{cs[j]:g}"
        i = j + 1
    return out


def cap_text(part: pandas.DataFrame) -> str:
    """A mode's caps in words: ``max_num_seqs 1,024, token budget 8,192 tokens (4,098 requests), KV pool 201
    requests`` ("none" where the engine sets no cap)."""
    first = part.iloc[0]

    def said(value: float, unit: str) -> str:
        return "none" if value >= NO_CAP else f"{value:,.0f} {unit}"

    budget = said(first["token_budget"], "tokens")
    if first["token_budget"] < NO_CAP:
        budget += f" per step ({said(first['max_num_batched_tokens'], 'requests')})"
    return (
        f"max_num_seqs {said(first['max_num_seqs'], 'requests')}, token budget {budget}, KV pool "
        f"{said(first['kv_pool'], 'requests')}"
    )


def traces(frame: pandas.DataFrame, engine: str) -> list[dict]:
    """Every trace of the figure, for both back ends: its panel, name, colour, marker, points and labels; the
    legend names each once (the second panel's copies in the same colours, not named again)."""
    out = []
    for col, (x, _, _) in enumerate(PANELS, start=1):
        for mode, part in frame.groupby("mode", sort=False):
            part = part.sort_values("concurrency")
            colour, name = MODE_COLOURS[mode], MODE_NAMES[mode].format(engine=engine)
            out.append(
                {
                    "col": col,
                    "name": name,
                    "group": mode,
                    "colour": colour,
                    "legend": col == 1,
                    "x": part[x].to_numpy(),
                    "y": part["output_throughput_per_chip"].to_numpy(),
                    "concurrency": part["concurrency"].to_numpy(),
                    "labels": labels(part, x),
                    "line": True,
                    "symbol": ("circle", "o"),
                    "binding": part["binding"].to_list(),
                }
            )
            for cap, (_, words, symbol, mark) in CAPS.items():
                held = part[part["binding"] == cap]
                if held.empty:
                    continue
                out.append(
                    {
                        "col": col,
                        "name": f"{mode}: {words} binds ({held.iloc[0][cap]:,.0f} requests)",
                        "group": f"{mode} {cap}",
                        "colour": colour,
                        "legend": col == 1,
                        "x": held[x].to_numpy(),
                        "y": held["output_throughput_per_chip"].to_numpy(),
                        "concurrency": held["concurrency"].to_numpy(),
                        "labels": None,
                        "line": False,
                        "symbol": (symbol, mark),
                        "binding": held["binding"].to_list(),
                    }
                )
    return out


def heading(
    model: str, hardware: str, input_length: float, output_length: float, engine: str, frame: pandas.DataFrame
) -> str:
    caps = "".join(f"\ncaps, {mode}: {cap_text(part)}" for mode, part in frame.groupby("mode", sort=False))
    return (
        f"{model} on {hardware}: {input_length:,.0f} tokens in, {output_length:,.0f} out per request, "
        f"concurrency {CONCURRENCIES[0]} to {CONCURRENCIES[-1]:,} ({engine}){caps}"
    )


def serving_plotly(frame: pandas.DataFrame, title: str, engine: str = "vllm"):
    """The plotly figure (two panels, the concurrency at each point)."""
    go, make_subplots = plotly()
    fig = make_subplots(rows=1, cols=2, subplot_titles=["labels: concurrency"] * 2)
    for t in traces(frame, engine):
        line = t["line"]
        fig.add_trace(
            go.Scatter(
                x=t["x"],
                y=t["y"],
                name=t["name"],
                legendgroup=t["group"],
                showlegend=t["legend"],
                mode="lines+markers+text" if line else "markers",
                text=t["labels"] if line else None,
                textposition="top center",
                textfont={"size": 9, "color": t["colour"]},
                line={"color": t["colour"]},
                marker={
                    "color": t["colour"],
                    "symbol": t["symbol"][0],
                    "size": 7 if line else 15,
                    "line": {"color": t["colour"], "width": 2},
                },
                customdata=numpy.column_stack([t["concurrency"], t["binding"]]),
                hovertemplate="concurrency %{customdata[0]}, cap: %{customdata[1]}<br>%{x:.4g}, %{y:.4g} tok/s/chip"
                f"<extra>{t['group']}</extra>",
            ),
            row=1,
            col=t["col"],
        )
    for col, (_, words, scale) in enumerate(PANELS, start=1):
        fig.update_xaxes(title=words, type=scale, row=1, col=col)
    fig.update_yaxes(title=Y_TITLE, rangemode="tozero")
    fig.update_layout(
        title={"text": title.replace("\n", "<br>"), "font": {"size": 13}},
        legend={"orientation": "h", "y": -0.2},
        margin={"t": 130},
    )
    return fig


def serving_matplotlib(frame: pandas.DataFrame, title: str, engine: str = "vllm"):
    """The static figure: the same traces, colours, labels and legend as the page."""
    fig = matplotlib_figure(figsize=(12, 5.6), dpi=110)
    axes = [fig.add_subplot(1, 2, col) for col in (1, 2)]
    for t in traces(frame, engine):
        ax = axes[t["col"] - 1]
        label = t["name"] if t["legend"] else "_nolegend_"
        if t["line"]:
            ax.plot(t["x"], t["y"], "-o", color=t["colour"], label=label, ms=4)
            for text, xv, yv in zip(t["labels"], t["x"], t["y"], strict=True):
                if text:
                    ax.annotate(
                        text,
                        (xv, yv),
                        fontsize=7,
                        xytext=(0, 4),
                        textcoords="offset points",
                        ha="center",
                        color=t["colour"],
                    )
        else:
            ax.plot(t["x"], t["y"], t["symbol"][1], mfc="none", mec=t["colour"], ms=12, mew=1.5, label=label)
    from matplotlib.ticker import FuncFormatter  # the plot extra, present once a figure is drawn

    for ax, (_, words, scale) in zip(axes, PANELS, strict=True):
        ax.set_xscale(scale)
        if scale == "log":
            ax.xaxis.set_major_formatter(FuncFormatter(tick))
            ax.xaxis.set_minor_formatter(FuncFormatter(tick))
        ax.set_xlabel(words)
        ax.set_ylabel(Y_TITLE)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.set_title("labels: concurrency", fontsize=8)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, fontsize=8, loc="lower center", ncol=min(3, len(names)))
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def plot_serving(
    model: str,
    hardware: str,
    output: str | Path,
    input_length: float,
    output_length: float,
    engine: str = "vllm",
    overrides: Mapping[str, Any] | None = None,
    calibration: str | None = None,
) -> Path:
    """Write the serving figure (.png, .svg or .html)."""
    path, suffix = target(output)
    frame = serving_data(model, hardware, input_length, output_length, engine, overrides, calibration)
    title = heading(model, hardware, input_length, output_length, engine, frame)
    if suffix == ".html":
        return write(page(serving_plotly(frame, title, engine)), path, suffix)
    return write(serving_matplotlib(frame, title, engine), path, suffix)
