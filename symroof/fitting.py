"""Least squares on log time, for a few parameters: the Nelder-Mead simplex, written out.

Calibration fits two or three factors at a time on a few dozen rows; a
derivative-free simplex on transformed parameters (an efficiency through a
logistic, a latency through an exponential) is plenty, and it keeps the fit
free of SciPy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy


@dataclass(frozen=True)
class Fitted:
    """The best parameters, the loss there, and whether the simplex converged."""

    values: tuple[float, ...]
    loss: float
    converged: bool
    iterations: int


def nelder_mead(loss: Callable[[numpy.ndarray], float], start: Sequence[float], *, step: float = 0.5,
                tolerance: float = 1e-12, max_iterations: int = 4000) -> Fitted:
    """Minimise ``loss`` over unconstrained parameters from ``start`` (standard coefficients 1, 2, 1/2, 1/2)."""
    n = len(start)
    simplex = [numpy.asarray(start, dtype=float)]
    for i in range(n):
        point = numpy.array(start, dtype=float)
        point[i] += step
        simplex.append(point)
    values = [loss(p) for p in simplex]
    for iteration in range(1, max_iterations + 1):
        order = numpy.argsort(values)
        simplex = [simplex[i] for i in order]
        values = [values[i] for i in order]
        if abs(values[-1] - values[0]) <= tolerance * (1 + abs(values[0])) and numpy.max(
                numpy.abs(numpy.array(simplex[1:]) - simplex[0])) < 1e-9:
            return Fitted(tuple(simplex[0]), values[0], True, iteration)
        centroid = numpy.mean(simplex[:-1], axis=0)
        reflected = centroid + (centroid - simplex[-1])
        r = loss(reflected)
        if values[0] <= r < values[-2]:
            simplex[-1], values[-1] = reflected, r
        elif r < values[0]:
            expanded = centroid + 2 * (centroid - simplex[-1])
            e = loss(expanded)
            simplex[-1], values[-1] = (expanded, e) if e < r else (reflected, r)
        else:
            contracted = centroid + 0.5 * (simplex[-1] - centroid)
            c = loss(contracted)
            if c < values[-1]:
                simplex[-1], values[-1] = contracted, c
            else:  # shrink towards the best point
                simplex = [simplex[0]] + [simplex[0] + 0.5 * (p - simplex[0]) for p in simplex[1:]]
                values = [values[0]] + [loss(p) for p in simplex[1:]]
    best = int(numpy.argmin(values))
    return Fitted(tuple(simplex[best]), values[best], False, max_iterations)


def fraction(x: float) -> float:
    """An unconstrained number as an efficiency in (0, 1)."""
    return float(1.0 / (1.0 + numpy.exp(-x)))


def fraction_inverse(f: float) -> float:
    return float(numpy.log(f / (1.0 - f)))


def log_errors(measured: numpy.ndarray, predicted: numpy.ndarray) -> numpy.ndarray:
    """ln(measured / predicted) per row: the residual a fit on log time minimises."""
    return numpy.log(numpy.asarray(measured, dtype=float) / numpy.asarray(predicted, dtype=float))


def summary(errors: numpy.ndarray) -> tuple[float, float]:
    """(geometric-mean relative error, largest relative error) of log residuals: exp(mean |e|) - 1, exp(max |e|) - 1."""
    a = numpy.abs(errors)
    return float(numpy.exp(a.mean()) - 1), float(numpy.exp(a.max()) - 1)
