"""Where each input of an evaluation takes its value: set, catalog, calibration, neutral, default or rule.

Values are carried in base units (second, byte, FLOP, ...) and converted to
each quantity's reporting unit only on the way out, so a unit factor is never
typed by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy

from .. import calibration as calibrations
from .. import catalog
from ..core.errors import InputError
from ..core.kinds import Origin
from ..core.values import parse_value
from ..derive import table
from ..runtime import Spec

BOUND, ESTIMATE = "bound", "estimate"
SET, CATALOG, CALIBRATION, CHOICE, VALUE, RULE, NEUTRAL, FORMULA = (
    Origin.SET, Origin.CATALOG, Origin.CALIBRATION, Origin.CHOICE, Origin.VALUE, Origin.RULE, Origin.NEUTRAL,
    Origin.FORMULA)


class MissingInput(InputError):
    """An input has no value: not set, not in the catalog, and no default."""


def resolve_input(s: Spec, given: Mapping[str, Any], entries, mode: str = BOUND) -> tuple[str, Any]:
    """Where an input (or a pinned quantity) gets its value, in order of precedence.

    ``(origin, value)``: set by the user, from a catalog entry (model, chip,
    calibration), neutral in bound mode, a dtype's default choice, a default
    value, or ``(RULE, None)`` for a default rule still to evaluate. Values
    are base-unit magnitudes.
    """
    if s.name in given:
        return SET, given[s.name]
    if s.neutral is not None and mode == BOUND:
        return NEUTRAL, s.neutral * s.factor
    for entry in entries:
        if s.name in entry.values:
            origin = {"calibration": CALIBRATION, "engine": Origin.ENGINE}.get(entry.kind, CATALOG)
            return origin, entry.values[s.name]
    if s.categorical:
        return CHOICE, s.default_choice
    if s.has_rule:
        return RULE, None
    if s.default is not None:
        return VALUE, s.default
    owner = next((e.id for e in entries if e.kind == s.group), None) if s.group in ("model", "hardware") else None
    where = f"{owner} has no {s.name}" if owner else f"no value for {s.name}"
    raise MissingInput(f"{where}; set it (--set {s.name}=...)")


def parse_overrides(overrides: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """Parse ``{name: raw}`` into base-unit magnitudes, naming the place of any error."""
    t = table()
    parsed = {}
    for name, raw in overrides.items():
        s = t.get(name)
        if s.kind == "constant":
            raise InputError(f"{where}{name} is a constant and cannot be set")
        if isinstance(raw, numpy.ndarray):
            parsed[name] = raw
        else:
            parsed[name] = parse_value(s, raw, f"{where}{name}")
    return parsed




def load_calibration(hardware: catalog.Entry, calibration: str | Any | None):
    """The calibration entry for ``hardware``: a loaded one, a file (checked against the chip), or the shipped one."""
    if isinstance(calibration, catalog.Entry):
        return calibration
    return calibrations.for_chip(hardware.id, calibration)
