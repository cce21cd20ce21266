"""Values as people read them, for every output (the command line's tables, the notebook's HTML, the notes).

A value's unit comes from its declared quantity (pint) and is rescaled with pint
along a ladder of the units people write: bandwidths in GB/s or TB/s, FLOP
rates in TFLOP/s or PFLOP/s, bytes in GB or TB, times in µs, ms or s, each
chosen by size; what the declared unit has besides (``/chip``, ``/seq``) is
kept. Dollars print as ``$2,144,450/month`` and ``$7.97/Mtok``, counts with
thousands separators, a cap that never binds as ``none``, a switch as yes/no,
what cannot be computed as ``n/a``. The layout of the command line's tables is
:mod:`symroof.cli.render`'s; the text of each value is this module's alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

from ..core.units import Q_, ureg

#: The engine caps' "no cap" sentinel (``symroof.model.engine_inputs.BIG``, which importing would load sympy).
NO_CAP = 1e12

#: Ladders of units, smallest first; a declared unit joins the first ladder whose dimensions make up its own
#: (``byte / chip / second`` is a bandwidth per chip). The largest step that keeps the number at least 1 wins.
LADDERS = (
    ("B/s", "kB/s", "MB/s", "GB/s", "TB/s", "PB/s"),
    ("FLOP/s", "kFLOP/s", "MFLOP/s", "GFLOP/s", "TFLOP/s", "PFLOP/s", "EFLOP/s"),
    ("B", "kB", "MB", "GB", "TB", "PB", "EB"),
    ("FLOP", "kFLOP", "MFLOP", "GFLOP", "TFLOP", "PFLOP", "EFLOP"),
    ("W", "kW", "MW", "GW"),
    ("mJ", "J", "kJ", "MJ"),
    ("ns", "µs", "ms", "s", "h", "day", "yr"),
)
#: Symbols pint would print otherwise, as people write them.
SYMBOLS = {"us": "µs"}


def _symbol(name: str, exponent: float) -> str:
    sym = SYMBOLS.get(ureg.get_symbol(name), ureg.get_symbol(name))
    power = abs(exponent)
    return sym if power == 1 else f"{sym}^{power:g}"


def _rest_text(items: Sequence[tuple[str, float]], time_first: bool = True) -> str:
    """The part of a unit that no ladder rescales, as ``/chip`` or ``·tok/s`` (times first among the
    denominators, ``tok/s/chip``, unless not ``time_first``: ``$/chip/h``)."""
    def order(item: tuple[str, float]) -> tuple[bool, bool]:
        return item[1] < 0, time_first and "[time]" not in ureg.parse_units(item[0]).dimensionality
    return "".join(("/" if e < 0 else "·") + _symbol(n, e) for n, e in sorted(items, key=order))


def _product(items: Sequence[tuple[str, float]]):
    """The unit ``items`` (name, exponent) make up."""
    out = ureg.dimensionless
    for name, exponent in items:
        out = out * ureg.parse_units(name) ** exponent
    return out


@lru_cache(maxsize=512)
def _plan(unit_text: str) -> tuple:
    """How to show values of ``unit_text``: ``("ladder", ladder, rest unit, rest text, declared step)``,
    ``("money", rest text)`` or ``("plain", text)``."""
    items = [(n, float(e)) for n, e in Q_(1, unit_text or "dimensionless").to_tuple()[1]]
    for ladder in LADDERS:
        dims = ureg.parse_units(ladder[0]).dimensionality
        core = [(n, e) for n, e in items if set(ureg.parse_units(n).dimensionality) <= set(dims)]
        if core and _product(core).dimensionality == dims:
            rest = [i for i in items if i not in core]
            own = next((step for step in ladder if Q_(1, _product(core)).to(step).magnitude == 1), ladder[0])
            return ("ladder", ladder, _product(rest), _rest_text(rest), own)
    if ("USD", 1.0) in items:
        return ("money", _rest_text([i for i in items if i != ("USD", 1.0)], time_first=False))
    text = _rest_text(items)
    return ("plain", " " + text[1:] if any(e > 0 for _, e in items) else text)


def number(value: float) -> str:
    """A plain number: whole numbers with thousands separators, others to three significant digits."""
    v = float(value)
    if not math.isfinite(v):
        return str(v)
    if v.is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    if 999.5 <= abs(v) < 1e9:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def dollars(value: float) -> str:
    """``$2,144,450``, ``$7.97``, ``$0.0826``."""
    v = float(value)
    if not math.isfinite(v):
        return f"{v} USD"
    sign, v = ("-" if v < 0 else ""), abs(v)
    text = f"{v:,.0f}" if v >= 1000 else f"{v:,.2f}" if v >= 1 else f"{v:.3g}"
    return f"{sign}${text}"


def quantity(value: float, unit_text: str) -> str:
    """``value`` (a magnitude in ``unit_text``) as a reader writes it: ``819 GB/s/chip``, ``$7.97/Mtok``."""
    plan = _plan(unit_text)
    if plan[0] == "money":
        return dollars(value) + plan[1]
    if plan[0] == "plain":
        return number(value) + plan[1]
    _, ladder, rest_unit, rest, own = plan
    v = float(value)
    if v == 0 or not math.isfinite(v):
        return f"{number(v)} {own}{rest}"
    q = Q_(v, ureg.parse_units(unit_text))
    steps = [(step, q.to(ureg.parse_units(step) * rest_unit).magnitude) for step in ladder]
    fitting = [(s, m) for s, m in steps if float(f"{abs(m):.3g}") >= 1]
    step, m = fitting[-1] if fitting else steps[0]
    return f"{_sig(m)} {step}{rest}"


def _sig(m: float) -> str:
    """Three significant digits; a ladder's top step may pass 1000, which keeps thousands separators."""
    return f"{m:,.0f}" if abs(m) >= 999.5 else f"{m:.3g}"


def value_text(ev, name: str) -> str:
    """The value of ``name`` in ``ev`` as shown: n/a, yes/no, a choice, none for a cap that never binds, or a
    number in its unit."""
    if name in ev.unavailable or name not in ev.base:
        return "n/a"
    s = ev.table.specs[name]
    value = ev.magnitude(name)
    if s.boolean:
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if is_no_cap(s, ev.base[name]):
        return "none"
    return quantity(value, s.unit_text)


def is_no_cap(spec, base_value) -> bool:
    """Whether ``base_value`` (in base units) is the sentinel of a cap that never binds: an engine cap whose
    neutral value (bound mode's) is the sentinel."""
    return spec.neutral is not None and spec.neutral >= NO_CAP and float(base_value) >= NO_CAP
