"""What code that symroof prints (the derivation cache, sweeps) may refer to; no sympy here."""

from __future__ import annotations

import math

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


#: Servers beyond which the Erlang B recursion starts near the offered load instead of at 0 (see erlang_c).
ERLANG_WINDOW = 5000


def _erlang_b_large(c, a):
    """Erlang B for large ``c`` (arrays): the recursion over a window around the offered load only.

    Started 12 sqrt(a) below ``a`` from the overload limit B ~ 1 - k/a, the start's error shrinks by about
    exp(-L^2 / 2a) = e^-72 across the window; above a + 40 sqrt(a) servers B is below 1e-300 and is 0.
    """
    k0 = numpy.maximum(0.0, numpy.floor(a - 12.0 * numpy.sqrt(a) - 20.0))
    end = numpy.minimum(c, numpy.ceil(a + 40.0 * numpy.sqrt(a) + 100.0))
    b = numpy.where(k0 > 0, 1.0 - k0 / a, 1.0)
    for j in range(1, int(numpy.max(end - k0, initial=0)) + 1):
        k = k0 + j
        b = numpy.where(k <= end, a * b / (k + a * b), b)
    return numpy.where(end < c, 0.0, b)


#: Offered load (erlangs) above which Erlang B is the many-server normal limit instead of the recursion, whose
#: window grows as 52 sqrt(a) steps (issue 31: plan --rate 1e12 ran for minutes). At 1e5 erlangs the limit is
#: within 0.1% of the recursion near the load and 1% three standard deviations above it (where C is 0.0015); a
#: plan refuses a prefill load above 10,000 busy replicas anyway, so no plan it gives is priced with the limit.
HALFIN_WHITT_LOAD = 1e5


def _erlang_b_normal(c, a):
    """Erlang B in the many-server limit: phi(beta) / (sqrt(a) Phi(beta)), beta = (c - a) / sqrt(a) (Jagerman's
    normal approximation; Halfin and Whitt, Operations Research 29(3), 1981)."""
    beta = (c - a) / numpy.sqrt(a)
    tail = 0.5 * numpy.asarray(_erfc(-beta / math.sqrt(2.0)), dtype=float)
    density = numpy.exp(-0.5 * beta * beta) / math.sqrt(2.0 * math.pi)
    return numpy.where(tail > 0, density / (numpy.sqrt(a) * numpy.maximum(tail, 1e-300)), 1.0)


_erfc = numpy.frompyfunc(math.erfc, 1, 1)


def erlang_c(c, a):
    """Erlang C: the chance an arrival waits in an M/M/c queue (c servers, whole; a erlangs offered).

    The Erlang B recursion B(k) = a B(k-1) / (k + a B(k-1)), stable for any size, then
    C = c B / (c - a (1 - B)); 1 when a >= c (the queue grows without end). Beyond ERLANG_WINDOW servers the
    recursion runs over a window around the load (_erlang_b_large), so a fleet of a million servers costs
    a few thousand steps, not a million.
    """
    c, a = numpy.broadcast_arrays(numpy.floor(numpy.asarray(c, dtype=float)), numpy.asarray(a, dtype=float))
    with numpy.errstate(divide="ignore", invalid="ignore", over="ignore"):
        b = numpy.ones(c.shape)
        small = numpy.isfinite(c) & (c <= ERLANG_WINDOW)
        top = int(numpy.max(numpy.where(small, c, 0), initial=0))
        for k in range(1, top + 1):
            b = numpy.where(small & (k <= c), a * b / (k + a * b), b)
        large = numpy.isfinite(c) & ~small & numpy.isfinite(a) & (a > 0)
        huge = large & (a > HALFIN_WHITT_LOAD)
        large &= ~huge
        if large.any() or huge.any():
            b = b.copy()
        if large.any():
            b[large] = _erlang_b_large(c[large], a[large])
        if huge.any():
            b[huge] = _erlang_b_normal(c[huge], a[huge])
        out = numpy.where(a >= c, 1.0, c * b / (c - a * (1.0 - b)))
    return out if out.ndim else float(out)


#: The global names of every generated function.
NAMESPACE = {"numpy": numpy, "_no_option": no_option, "_lambertw": lambertw, "_erlang_c": erlang_c}
