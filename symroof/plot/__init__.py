"""Figures: the seed's latency-throughput frontier and decode latency breakdown (:mod:`.seed`), the serving
figure in the form serving benchmarks publish (:mod:`.serving`), and the plan frontier with the chosen plan,
the targets and the traffic (:mod:`.plan_frontier`). PNG and SVG through matplotlib, drawn off-screen; the
interactive HTML through plotly, its JavaScript inline. Both back ends draw the same traces, with the same
names and colours (each module's ``traces``)."""

from .plan_frontier import PlanFrontier, frontier_plotly, plan_frontier_data, plot_plan_frontier
from .seed import (
    BREAKDOWN,
    COMM,
    KINDS,
    QUANTITIES,
    SEED_CONTEXTS,
    SEED_FIGURE,
    SEED_PAIR,
    breakdown_png,
    figure_data,
    frontier_png,
    html,
    plot,
    title,
)
from .serving import CONCURRENCIES, plot_serving, serving_data, serving_plotly

__all__ = [
    "BREAKDOWN",
    "COMM",
    "CONCURRENCIES",
    "KINDS",
    "QUANTITIES",
    "SEED_CONTEXTS",
    "SEED_FIGURE",
    "SEED_PAIR",
    "PlanFrontier",
    "breakdown_png",
    "figure_data",
    "frontier_plotly",
    "frontier_png",
    "html",
    "plan_frontier_data",
    "plot",
    "plot_plan_frontier",
    "plot_serving",
    "serving_data",
    "serving_plotly",
    "title",
]
