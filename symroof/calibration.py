"""Calibrations: the estimate factors of one chip, read from a TOML file (one per chip).

A calibration file says, for each factor, its value (with a unit where it has
one), the data it was fitted from and the fit's residual error per kernel
family. ``symroof calibrate`` writes one (:mod:`symroof.fit`); symroof ships
one for each measured chip and a generic one (the mean of the measured chips)
for the others, which every output marks as uncalibrated. This module only
reads them: evaluation needs them, and needs nothing of the fit.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

from . import catalog
from .core.errors import CatalogError, suggest
from .core.units import Q_
from .derive import table

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover
    pass

#: What a calibration may set: the estimate factors, and the prefill MFU.
EXTRA_KEYS = ("prefill_mfu",)
GENERIC = "generic"
def keys() -> set[str]:
    """Quantities a calibration may set."""
    return {s.name for s in table() if s.group == "estimate"} | set(EXTRA_KEYS)


def shipped_folder() -> Path:
    return Path(str(resources.files(__package__) / "calibrations"))


def shipped(chip: str) -> Path | None:
    """The calibration symroof ships for catalog chip ``chip``, or None."""
    path = shipped_folder() / f"{chip}.toml"
    return path if path.is_file() else None


def load(path: str | Path, chip: str | None = None):
    """A calibration file as a catalog entry (kind ``calibration``); ``chip`` must match the one it was fitted on."""
    path = Path(path)
    entry = catalog.cached(("calibration", str(path)), path, lambda: _load_file(path))
    if chip is not None and entry.id not in (chip, GENERIC):
        raise CatalogError(f"{path}: a calibration of {entry.id}, not of {chip}; fit one for {chip} with "
                           f"symroof calibrate DIR --hardware {chip}")
    return entry


def _load_file(path: Path):
    path = Path(path)
    where = str(path)
    data = catalog.read_toml(path, ("chip",), "calibration")
    fitted_on = data["chip"]
    uncalibrated = bool(data.get("uncalibrated", False))
    raw = data.get("values")
    if not isinstance(raw, dict) or not raw:
        raise CatalogError(f"{where}: no [values] table")
    allowed = keys()
    specs = table()
    values, sources = {}, {}
    for key, entry in raw.items():
        if key not in allowed:
            raise CatalogError(f"{where}: unknown key values.{key}{suggest(key, allowed)}")
        s = specs.get(key)
        base, sources[key] = catalog.sourced_value(s, entry, f"{where}: values.{key}")
        if s.at_most == 1 and not s.unit_text and not 0 < base <= 1 and s.neutral == 1 and not s.nonnegative:
            raise CatalogError(f"{where}: values.{key} = {entry['value']} must be above 0 and at most 1")
        values[key] = base
    missing = sorted(allowed - values.keys())
    if missing:
        raise CatalogError(f"{where}: lacks values.{missing[0]}" + (f" (and {', '.join(missing[1:])})" if missing[1:]
                           else "") + ", which estimate mode needs; refit with symroof calibrate")
    name = f"calibration of {fitted_on}" + (" (generic factors: uncalibrated)" if uncalibrated else "")
    entry = catalog.Entry(fitted_on, name, "calibration", where, values, sources,
                          {"uncalibrated": "yes" if uncalibrated else "", "date": str(data.get("date", "")),
                           "data": str(data.get("data", ""))})
    return entry


def for_chip(chip: str, path: str | Path | None = None):
    """The calibration to use for ``chip``: ``path`` if given, else the shipped one, else the generic one."""
    if path is not None:
        return load(path, chip)
    found = shipped(chip)
    return load(found if found is not None else shipped_folder() / f"{GENERIC}.toml", chip)


def reference(entry) -> str:
    """How a workbook records ``entry``: "" for a calibration symroof ships (found again by chip, wherever
    symroof is installed), else the file's path."""
    path = Path(entry.path)
    return "" if path.parent.resolve() == shipped_folder().resolve() else str(path)


def reported(name: str, seconds: float) -> float:
    """A fitted time (seconds, as the fit runs in base units) in the unit ``name`` is declared and written in."""
    return Q_(seconds, "s").to(table().get(name).unit_text).magnitude


def uncalibrated(entry) -> bool:
    return bool(entry.notes.get("uncalibrated"))
