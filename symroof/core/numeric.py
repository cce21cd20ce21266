"""What code that symroof prints (the derivation cache, sweeps) may refer to; no sympy here."""

from __future__ import annotations

import numpy

#: Halley steps of :func:`lambertw`: the workbook's helper cells take exactly these steps too.
LAMBERTW_STEPS = 12
#: Below this argument the first guess is the series at the branch point -1/e, above it log(1 + x).
LAMBERTW_SWITCH = -0.25


def no_option(key: str, choice: str):
    """A ``Select`` met a choice it has no option for."""
    raise KeyError(f"{key}: no option for {choice!r}")


def lambertw_start(x):
    """First guess for the principal branch W0(x), x >= -1/e."""
    p = numpy.sqrt(numpy.maximum(2.0 * (numpy.e * x + 1.0), 0.0))
    return numpy.where(x < LAMBERTW_SWITCH, -1.0 + p - p * p / 3.0 + 11.0 / 72.0 * p ** 3, numpy.log1p(
        numpy.maximum(x, LAMBERTW_SWITCH)))


def lambertw_step(w, x):
    """One Halley step for w e^w = x (left alone at the branch point, where it would divide by zero)."""
    ew = numpy.exp(w)
    f = w * ew - x
    denominator = ew * (w + 1.0) - (w + 2.0) * f / (2.0 * w + 2.0)
    return numpy.where(numpy.abs(w + 1.0) < 1e-12, w, w - f / denominator)


def lambertw(x):
    """The principal branch W0 of the Lambert W function (numpy, scalars and arrays; nan below -1/e).

    A fixed number of Halley steps from :func:`lambertw_start`, the same steps a
    workbook takes in its helper cells, so both agree to rounding.
    """
    x = numpy.asarray(x, dtype=float)
    with numpy.errstate(divide="ignore", invalid="ignore", over="ignore"):
        w = lambertw_start(x)
        for _ in range(LAMBERTW_STEPS):
            w = lambertw_step(w, x)
    return numpy.where(x < -1.0 / numpy.e, numpy.nan, w)


def erlang_c(c, a):
    """Erlang C: the chance an arrival waits in an M/M/c queue (c servers, whole; a erlangs offered).

    The Erlang B recursion B(k) = a B(k-1) / (k + a B(k-1)), stable for any size, then
    C = c B / (c - a (1 - B)); 1 when a >= c (the queue grows without end).
    """
    c, a = numpy.broadcast_arrays(numpy.floor(numpy.asarray(c, dtype=float)), numpy.asarray(a, dtype=float))
    with numpy.errstate(divide="ignore", invalid="ignore", over="ignore"):
        b = numpy.ones(c.shape)
        top = int(numpy.nanmax(numpy.where(numpy.isfinite(c), c, 0), initial=0))
        for k in range(1, top + 1):
            b = numpy.where(k <= c, a * b / (k + a * b), b)
        out = numpy.where(a >= c, 1.0, c * b / (c - a * (1.0 - b)))
    return out if out.ndim else float(out)


#: The global names of every generated function.
NAMESPACE = {"numpy": numpy, "_no_option": no_option, "_lambertw": lambertw, "_erlang_c": erlang_c}
