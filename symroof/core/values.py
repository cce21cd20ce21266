"""Reading user-given values (command line, API, catalog) into base-unit numbers.

``q`` is anything that describes a quantity: a runtime :class:`symroof.runtime.Spec`
or a declared :class:`symroof.declare.Quantity` (name, unit, factor, choices, limits).
"""

from __future__ import annotations

import math
import re
from numbers import Real

import pint

from .errors import InputError
from .units import parse_unit, ureg

#: Inputs with a least value above zero, and why (issue 31: a profile's expert imbalance of 0.5 was accepted).
AT_LEAST = {
    "expert_imbalance": (1, "the most-loaded rank carries at least the mean"),
    "accepted_tokens_per_step": (1, "a decode step gains at least each sequence's own token"),
    "pue": (1, "facility power over IT power"),
    "server_power_factor": (1, "a server draws at least its chips' power"),
}

NUMBER_RE = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(.*?)\s*$")


def parse_value(q, raw: object, where: str) -> float | str:
    """The base-unit magnitude (or the choice) of ``raw`` for quantity ``q``.

    ``raw`` is a number (in ``q``'s unit), a pint quantity, or text such as
    ``"820 GB/s"``. A per-chip quantity may be given without its ``/chip``
    (``"16 GB"`` for ``hbm_capacity``): datasheets quote per-chip figures so.
    ``where`` names the place for error messages (``--set batch_size``).
    """
    if q.categorical:
        if raw not in q.choices:
            raise InputError(f"{where}: {raw!r} is not one of {', '.join(q.choices)}")
        return str(raw)
    if isinstance(raw, bool):
        raise InputError(f"{where}: expected a number, got {raw!r}")
    if isinstance(raw, pint.Quantity):
        if raw._REGISTRY is not ureg:
            raise InputError(f"{where}: use symroof.ureg quantities, not another pint registry")
        magnitude, unit = raw.magnitude, raw.units
    elif isinstance(raw, Real):
        magnitude, unit = raw, q.unit
    elif isinstance(raw, str):
        match = NUMBER_RE.match(raw)
        if not match:
            raise InputError(f"{where}: {raw!r} is not a number (optionally with a unit, like '820 GB/s')")
        magnitude = float(match.group(1))
        try:
            unit = parse_unit(match.group(2)) if match.group(2) else q.unit
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
    else:
        raise InputError(f"{where}: expected a number, got {type(raw).__name__}")
    try:
        magnitude = float(magnitude)
    except (TypeError, ValueError):
        raise InputError(f"{where}: {raw!r} is not a number") from None
    value = _convert(q, magnitude, unit, where)
    _check_range(q, magnitude, value, where)
    return value


def _convert(q, magnitude: float, unit: pint.Unit, where: str) -> float:
    """``magnitude unit`` in base units, after checking it has ``q``'s dimensions."""
    want = q.unit.dimensionality
    have = unit.dimensionality
    if have != want:
        per_chip = ureg.chip.dimensionality
        if have / per_chip == want:
            unit = unit / ureg.chip
        else:
            expected = str(q.unit) or "a plain number"
            raise InputError(f"{where}: {unit or 'a plain number'} does not measure {q.name}; "
                             f"give {expected} or a compatible unit")
    return float(ureg.Quantity(magnitude, unit).to_base_units().magnitude)


def _check_range(q, magnitude: float, base: float, where: str) -> None:
    if not math.isfinite(magnitude):
        raise InputError(f"{where}: {magnitude} is not a finite number")
    if magnitude < 0 or (magnitude == 0 and not getattr(q, "nonnegative", False)):
        raise InputError(f"{where}: must be {'zero or more' if getattr(q, 'nonnegative', False) else 'positive'}, "
                         f"got {magnitude:g}")
    display = base / q.factor
    if q.integer and abs(display - round(display)) > 1e-9 * max(1.0, abs(display)):
        raise InputError(f"{where}: must be a whole number, got {display:g}")
    if q.at_most is not None and display > q.at_most:
        raise InputError(f"{where}: must be at most {q.at_most:g}, got {display:g}")
    if is_switch(q) and display not in (0, 1):
        raise InputError(f"{where}: is a switch, 0 or 1, got {display:g}")
    least = AT_LEAST.get(getattr(q, "name", ""))
    if least is not None and display < least[0]:
        raise InputError(f"{where}: must be at least {least[0]:g} ({least[1]}), got {display:g}")


def is_switch(q) -> bool:
    """Whether ``q`` is a 0/1 switch: an input of at most 1 whose description reads "1 when ..."."""
    return q.at_most == 1 and str(getattr(q, "description", "")).startswith("1 when")
