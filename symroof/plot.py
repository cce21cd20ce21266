"""The seed's two figures: the latency-throughput frontier and the decode latency breakdown.

Static figures (PNG, SVG) use matplotlib; the interactive HTML, with a
context-length slider like the seed's, uses plotly with its JavaScript
embedded, so it opens with no network access.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy
import pandas

from .errors import InputError
from .evaluate import evaluate
from .files import write_text_atomically
from .sweep import sweep

#: The seed's figure: LLaMA 3-70B on a TPU v5e 4x4, int8 weights and KV, bf16 FLOPs, 8.2e11 byte/s HBM.
SEED_FIGURE = {"n_chips": 16, "weight_dtype": "int8", "kv_dtype": "int8", "compute_dtype": "bf16",
               "hbm_bandwidth": "8.2e11 byte/s"}
SEED_CONTEXTS = (2048, 4096, 8192, 16384, 32768, 65536)
KINDS = ("frontier", "breakdown")
BREAKDOWN = (("step_time_params", "parameter load"), ("step_time_kv", "KV load"), ("step_time_flops", "FLOPs"))


def figure_data(model: str, hardware: str, overrides: Mapping[str, Any] | None = None,
                contexts: Sequence[float] = SEED_CONTEXTS) -> tuple[pandas.DataFrame, float]:
    """Every batch that fits, from 1 to the largest, at each context length; and the critical batch size."""
    settings = {**SEED_FIGURE, **(overrides or {})}
    shortest = evaluate(model, hardware, {**settings, "context_length": min(contexts)})
    largest = int(min(max(shortest.magnitude("max_batch_size"), 1), 8192))
    frame = sweep(model, hardware, {"batch_size": list(range(1, largest + 1)), "context_length": list(contexts)},
                  settings, quantities=("step_time", "step_time_kv", "step_time_flops", "step_time_params",
                                        "tokens_per_second_per_chip", "cost_per_million_tokens"), drop_unfit=True)
    if frame.empty:
        raise InputError("no batch fits in HBM at these context lengths; add chips or shorten the context")
    return frame, shortest.magnitude("critical_batch_size")


def _matplotlib():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("figures need matplotlib: pip install 'symroof[plot]'") from None
    return plt


def _label(context: float) -> str:
    return f"{int(context) // 1024}k context" if context >= 1024 else f"{int(context)} context"


def frontier_png(frame: pandas.DataFrame, title: str):
    """Per-token latency against throughput per chip, one curve per context, frontier points marked."""
    plt = _matplotlib()
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for context, group in frame.groupby("context_length"):
        group = group.sort_values("batch_size")
        line, = ax.plot(group["step_time"], group["tokens_per_second_per_chip"], label=_label(context), lw=1.5)
        ax.plot(group["step_time"].iloc[-1:], group["tokens_per_second_per_chip"].iloc[-1:], "o",
                color=line.get_color(), ms=4)
    ax.set_xlabel("latency per decode step (ms per token)")
    ax.set_ylabel("throughput (tokens / s / chip)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(title="largest batch that fits: dot", fontsize=8)
    fig.tight_layout()
    return fig


def breakdown_png(frame: pandas.DataFrame, critical: float, title: str):
    """Decode latency split into parameter load, KV load and FLOPs, log scale, one panel per context."""
    plt = _matplotlib()
    contexts = sorted(frame["context_length"].unique())
    cols = min(3, len(contexts))
    rows = int(numpy.ceil(len(contexts) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), dpi=110, squeeze=False, sharey=True)
    for ax, context in zip(axes.flat, contexts, strict=False):
        g = frame[frame["context_length"] == context]
        for name, label in BREAKDOWN:
            ax.plot(g["batch_size"], g[name], label=label, lw=1.5)
        ax.plot(g["batch_size"], g["step_time"], "k--", lw=1, label="step time")
        if critical < g["batch_size"].max():
            ax.axvspan(critical, g["batch_size"].max(), color="red", alpha=0.12, label="MLP compute-bound")
        ax.set_yscale("log")
        ax.set_title(_label(context), fontsize=10)
        ax.set_xlabel("batch size")
        ax.grid(alpha=0.3, which="both")
    for ax in axes.flat[len(contexts):]:
        ax.set_visible(False)
    axes[0, 0].set_ylabel("time per step (ms)")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def html(frame: pandas.DataFrame, kind: str, critical: float, title: str) -> str:
    """A self-contained HTML page with a context-length slider (plotly's JavaScript inline)."""
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise InputError("the HTML figure needs plotly: pip install 'symroof[plot]'") from None
    contexts = sorted(frame["context_length"].unique())
    fig = go.Figure()
    per = 1 if kind == "frontier" else len(BREAKDOWN) + 1
    for context in contexts:
        g = frame[frame["context_length"] == context]
        visible = context == contexts[len(contexts) // 2]
        if kind == "frontier":
            fig.add_trace(go.Scatter(x=g["step_time"], y=g["tokens_per_second_per_chip"], mode="lines+markers",
                                     name=_label(context), visible=visible, marker={"size": 3},
                                     customdata=g["batch_size"],
                                     hovertemplate="batch %{customdata}<br>%{x:.3g} ms<br>%{y:.4g} tok/s/chip"))
        else:
            for name, label in BREAKDOWN + (("step_time", "step time"),):
                fig.add_trace(go.Scatter(x=g["batch_size"], y=g[name], mode="lines", name=label, visible=visible))
    steps = []
    for i, context in enumerate(contexts):
        visible = [False] * (per * len(contexts))
        visible[i * per:(i + 1) * per] = [True] * per
        steps.append({"method": "update", "label": _label(context), "args": [{"visible": visible}]})
    fig.update_layout(title=title, sliders=[{"active": len(contexts) // 2, "steps": steps,
                                             "currentvalue": {"prefix": "sequence length: "}}])
    if kind == "frontier":
        fig.update_xaxes(title="latency per decode step (ms per token)")
        fig.update_yaxes(title="throughput (tokens / s / chip)")
    else:
        fig.add_vrect(x0=critical, x1=max(frame["batch_size"].max(), critical), fillcolor="red", opacity=0.12,
                      line_width=0)
        fig.update_xaxes(title="batch size")
        fig.update_yaxes(title="time per step (ms)", type="log")
    return fig.to_html(include_plotlyjs=True, full_html=True)


def plot(kind: str, model: str, hardware: str, output: str | Path, overrides: Mapping[str, Any] | None = None,
         contexts: Sequence[float] = SEED_CONTEXTS) -> Path:
    """Write the ``frontier`` or ``breakdown`` figure to ``output`` (.png, .svg or .html)."""
    if kind not in KINDS:
        raise InputError(f"unknown figure {kind!r}; choose {' or '.join(KINDS)}")
    path = Path(output)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg", ".html"):
        raise InputError(f"{path}: write .png, .svg or .html")
    frame, critical = figure_data(model, hardware, overrides, contexts)
    title = f"{model} on {hardware}: " + ("latency vs throughput" if kind == "frontier" else "decode latency breakdown")
    if suffix == ".html":
        write_text_atomically(html(frame, kind, critical, title), path)
        return path
    fig = frontier_png(frame, title) if kind == "frontier" else breakdown_png(frame, critical, title)
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format=suffix[1:])
    _matplotlib().close(fig)
    write_text_atomically(buf.getvalue(), path)
    return path
