"""The seed's two figures: the latency-throughput frontier and the decode latency breakdown.

Without a model and chip the figure is the seed's own (LLaMA 3-70B on a TPU
v5e 4x4, int8, 8.2e11 byte/s HBM) and its title says so; with them, every
value comes from that model's config and that chip's datasheet (and
``--set``). Static figures (PNG, SVG) use matplotlib, drawn on a figure object
of their own so the caller's backend is never touched; the interactive HTML,
with a context-length slider like the seed's, uses plotly with its JavaScript
embedded, so it opens with no network access.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy
import pandas

from ..core.errors import InputError
from ..evaluation import evaluate
from ..sweep import sweep
from .common import matplotlib_figure, page, plotly, target, write

#: The seed's figure: LLaMA 3-70B on a TPU v5e 4x4, int8 weights and KV, bf16 FLOPs, 8.2e11 byte/s HBM.
SEED_FIGURE = {
    "n_chips": 16,
    "weight_dtype": "int8",
    "kv_dtype": "int8",
    "compute_dtype": "bf16",
    "hbm_bandwidth": "8.2e11 byte/s",
}
SEED_PAIR = ("llama-3-70b", "tpu-v5e")
SEED_CONTEXTS = (2048, 4096, 8192, 16384, 32768, 65536)
KINDS = ("frontier", "breakdown", "serving")
BREAKDOWN = (
    ("step_time_params", "parameter load", "#1f77b4"),
    ("step_time_kv", "KV cache load", "#d62728"),
    ("step_time_flops", "matmul FLOPs", "#2ca02c"),
)
COMM = ("step_time_comm", "collectives", "#9467bd")
QUANTITIES = (
    "step_time",
    "step_time_kv",
    "step_time_flops",
    "step_time_params",
    "step_time_comm",
    "tokens_per_second_per_chip",
)


def figure_data(
    model: str | None = None,
    hardware: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    contexts: Sequence[float] = SEED_CONTEXTS,
    mode: str = "bound",
    calibration: str | None = None,
) -> tuple[pandas.DataFrame, float, dict]:
    """Every batch that fits, from 1 to the largest, at each context length; the critical batch; the scenario.

    Without ``model`` and ``hardware``, the seed's figure scenario; with them,
    the catalog's values and ``overrides`` only. The slice is held fixed across
    the figure (the smallest slice of the scenario unless ``n_chips`` is set).
    """
    seed = model is None and hardware is None
    if (model is None) != (hardware is None):
        raise InputError("give both MODEL and HARDWARE, or neither for the seed's figure")
    model, hardware = (model, hardware) if not seed else SEED_PAIR
    settings = {**(SEED_FIGURE if seed else {}), **(overrides or {})}
    estimate = mode == "estimate" or calibration is not None
    base = evaluate(model, hardware, settings, estimate=estimate, calibration=calibration)
    settings.setdefault("n_chips", base.magnitude("n_chips"))
    shortest = evaluate(
        model, hardware, {**settings, "context_length": min(contexts)}, estimate=estimate, calibration=calibration
    )
    largest = int(min(max(shortest.magnitude("max_batch_size"), 1), 8192))
    frame = sweep(
        model,
        hardware,
        {"batch_size": list(range(1, largest + 1)), "context_length": list(contexts)},
        settings,
        quantities=QUANTITIES,
        drop_unfit=True,
        mode="estimate" if estimate else "bound",
        calibration=calibration,
    )
    if frame.empty:
        raise InputError(
            f"no batch fits in the HBM of {settings['n_chips']:g} chips at these context lengths; "
            "set more chips (--set n_chips=...) or shorten the context"
        )
    scenario = {
        "seed": seed,
        "model": base.model.name,
        "hardware": base.hardware.name,
        "estimate": estimate,
        "n_chips": float(shortest.magnitude("n_chips")),
        "weight_dtype": shortest.magnitude("weight_dtype"),
        "kv_dtype": shortest.magnitude("kv_dtype"),
        "hbm_bandwidth": shortest.magnitude("hbm_bandwidth") * 1e-12,
    }
    return frame, shortest.magnitude("critical_batch_size"), scenario


def title(kind: str, scenario: dict) -> str:
    what = "latency vs throughput" if kind == "frontier" else "decode latency breakdown"
    if scenario.get("estimate"):
        what += " (calibrated estimate)"
    chips = f"{scenario['n_chips']:g} chips"
    if scenario["seed"]:
        return (
            f"The seed's figure, {what}: {scenario['model']} on a {scenario['hardware']} 4x4 ({chips}), "
            f"int8 weights and KV, 8.2e11 byte/s HBM"
        )
    return (
        f"{scenario['model']} on {scenario['hardware']}, {what}: {chips}, {scenario['weight_dtype']} weights, "
        f"{scenario['kv_dtype']} KV, {scenario['hbm_bandwidth']:.3g} TB/s HBM per chip"
    )


def _label(context: float) -> str:
    return f"{int(context) // 1024}k context" if context >= 1024 else f"{int(context)} context"


def frontier_png(frame: pandas.DataFrame, heading: str):
    """Per-token latency against throughput per chip, one curve per context, the largest batch marked."""
    fig = matplotlib_figure(figsize=(10, 5.2), dpi=120)
    ax = fig.add_subplot()
    for context, group in frame.groupby("context_length"):
        group = group.sort_values("batch_size")
        (line,) = ax.plot(group["step_time"], group["tokens_per_second_per_chip"], label=_label(context), lw=1.5)
        ax.plot(
            group["step_time"].iloc[-1:],
            group["tokens_per_second_per_chip"].iloc[-1:],
            "o",
            color=line.get_color(),
            ms=4,
        )
    ax.set_xlabel("time per decode step, ms (= ms per output token)")
    ax.set_ylabel("output tokens per second per chip")
    ax.set_title(heading, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(
        title="dot: largest batch\nthat fits in HBM",
        fontsize=8,
        title_fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
    )
    fig.tight_layout()
    return fig


def _terms(frame: pandas.DataFrame, estimate: bool) -> list[tuple[str, str, str]]:
    """The breakdown's terms: the chapter's three, and the collectives where chips talk (drawn beside them; the
    bound leaves them out of the step time, the estimate adds their exposed part)."""
    if not (frame["step_time_comm"] > 0).any():
        return list(BREAKDOWN)
    name, label, colour = COMM
    return [*BREAKDOWN, (name, label + ("" if estimate else " (not in the bound's step time)"), colour)]


def breakdown_png(frame: pandas.DataFrame, critical: float, heading: str, estimate: bool = False):
    """Decode latency split into parameter load, KV load, FLOPs and collectives, log scale, one panel per
    context."""
    contexts = sorted(frame["context_length"].unique())
    cols = min(3, len(contexts))
    rows = int(numpy.ceil(len(contexts) / cols))
    fig = matplotlib_figure(figsize=(4.2 * cols + 2.2, 3.4 * rows + 0.6), dpi=110)
    axes = numpy.atleast_2d(fig.subplots(rows, cols, squeeze=False, sharey=True))
    for ax, context in zip(axes.flat, contexts, strict=False):
        g = frame[frame["context_length"] == context]
        for name, label, colour in _terms(frame, estimate):
            ax.plot(g["batch_size"], g[name], label=label, lw=1.5, color=colour)
        ax.plot(g["batch_size"], g["step_time"], "k--", lw=1, label="step time")
        if critical < g["batch_size"].max():
            ax.axvspan(critical, g["batch_size"].max(), color="red", alpha=0.12, label="matmuls compute-bound")
        ax.set_yscale("log")
        ax.set_title(_label(context), fontsize=10)
        ax.set_xlabel("batch size (sequences)")
        ax.grid(alpha=0.3, which="both")
    for ax in axes.flat[len(contexts) :]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("time per decode step, ms")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="center right")
    fig.suptitle(heading, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1 - 2.0 / fig.get_figwidth(), 1))
    return fig


def html(frame: pandas.DataFrame, kind: str, critical: float, heading: str, estimate: bool = False) -> str:
    """A self-contained HTML page with a context-length slider (plotly's JavaScript inline)."""
    go, _ = plotly()
    contexts = sorted(frame["context_length"].unique())
    fig = go.Figure()
    series = [("step_time", "step time", "black")] if kind == "breakdown" else []
    terms = _terms(frame, estimate)
    per = 1 if kind == "frontier" else len(terms) + 1
    for context in contexts:
        g = frame[frame["context_length"] == context]
        visible = context == contexts[len(contexts) // 2]
        if kind == "frontier":
            fig.add_trace(
                go.Scatter(
                    x=g["step_time"],
                    y=g["tokens_per_second_per_chip"],
                    mode="lines+markers",
                    name=_label(context),
                    visible=visible,
                    marker={"size": 3},
                    customdata=g["batch_size"],
                    hovertemplate="batch %{customdata}<br>%{x:.3g} ms<br>%{y:.4g} tok/s/chip",
                )
            )
        else:
            for name, label, colour in (*terms, *series):
                fig.add_trace(
                    go.Scatter(
                        x=g["batch_size"], y=g[name], mode="lines", name=label, visible=visible, line={"color": colour}
                    )
                )
    steps = []
    for i, context in enumerate(contexts):
        visible = [False] * (per * len(contexts))
        visible[i * per : (i + 1) * per] = [True] * per
        steps.append({"method": "update", "label": _label(context), "args": [{"visible": visible}]})
    fig.update_layout(
        title={"text": heading, "font": {"size": 12}},
        sliders=[{"active": len(contexts) // 2, "steps": steps, "currentvalue": {"prefix": "sequence length: "}}],
    )
    if kind == "frontier":
        fig.update_xaxes(title="time per decode step, ms (= ms per output token)")
        fig.update_yaxes(title="output tokens per second per chip")
    else:
        fig.add_vrect(
            x0=critical, x1=max(frame["batch_size"].max(), critical), fillcolor="red", opacity=0.12, line_width=0
        )
        fig.update_xaxes(title="batch size (sequences)")
        fig.update_yaxes(title="time per decode step, ms", type="log")
    return page(fig)


def plot(
    kind: str,
    model: str | None,
    hardware: str | None,
    output: str | Path,
    overrides: Mapping[str, Any] | None = None,
    contexts: Sequence[float] = SEED_CONTEXTS,
    *,
    mode: str = "bound",
    calibration: str | None = None,
) -> Path:
    """Write the ``frontier`` or ``breakdown`` figure to ``output`` (.png, .svg or .html)."""
    if kind not in KINDS:
        raise InputError(f"unknown figure {kind!r}; choose {' or '.join(KINDS)}")
    path, suffix = target(output)
    if kind == "serving":
        raise InputError(
            "plot serving needs its workload: use plot_serving (symroof plot serving MODEL CHIP "
            "--input N --output-tokens N)"
        )
    frame, critical, scenario = figure_data(model, hardware, overrides, contexts, mode, calibration)
    heading = title(kind, scenario)
    if suffix == ".html":
        return write(html(frame, kind, critical, heading, scenario["estimate"]), path, suffix)
    return write(
        frontier_png(frame, heading)
        if kind == "frontier"
        else breakdown_png(frame, critical, heading, scenario["estimate"]),
        path,
        suffix,
    )
