"""What every figure shares: the optional libraries, the colours, the target path, and the atomic write."""

from __future__ import annotations

import io
from pathlib import Path

import numpy

from ..core.errors import InputError
from ..core.files import check_target, shown, write_text_atomically

MISSING_EXTRA = 'figures need the plot extra: pip install "symroof[plot]" (or pip install ".[plot]" from a checkout)'
#: One colour per mode, the same in every panel, legend and format.
MODE_COLOURS = {"bound": "#1f77b4", "estimate": "#ff7f0e"}
#: The chosen plan and the targets on the plan frontier.
CHOSEN_COLOUR, TARGET_COLOUR = "#d62728", "#2f2f2f"


def matplotlib_figure(**kwargs):
    """A matplotlib figure drawn off-screen, without changing the pyplot backend."""
    try:
        from matplotlib.figure import Figure  # the optional "plot" extra: imported when a figure is drawn
    except ImportError:
        raise InputError(MISSING_EXTRA) from None
    return Figure(**kwargs)


def plotly():
    """plotly's graph objects and make_subplots (the optional "plot" extra)."""
    try:
        import plotly.graph_objects as go  # imported when a page is drawn
        from plotly.subplots import make_subplots
    except ImportError:
        raise InputError(MISSING_EXTRA) from None
    return go, make_subplots


def page(fig) -> str:
    """A self-contained HTML page: plotly's JavaScript inline, so it opens with no network access."""
    return fig.to_html(include_plotlyjs=True, full_html=True)


def target(output: str | Path) -> tuple[Path, str]:
    """The figure's path and its suffix, refused up front unless .png, .svg or .html and a path this system can
    create."""
    path = Path(output)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg", ".html"):
        raise InputError(f"{shown(path)}: write .png, .svg or .html")
    return check_target(path), suffix


def write(fig, path: Path, suffix: str) -> Path:
    """Write an HTML text or a matplotlib figure at once (atomically: no half-written file)."""
    if suffix == ".html":
        write_text_atomically(fig, path)
        return path
    buf = io.BytesIO()
    fig.savefig(buf, format=suffix[1:])
    write_text_atomically(buf.getvalue(), path)
    return path


def tick(x: float, _) -> str:
    """A log axis labelled at 1, 2 and 5 times each power of ten, written plainly (20, not 2 x 10^1)."""
    lead = x / 10 ** numpy.floor(numpy.log10(x)) if x > 0 else 0
    return f"{x:g}" if any(abs(lead - d) < 1e-6 for d in (1, 2, 5)) else ""
