"""The package's single pint registry, built from ``units.txt`` only.

pint's default registry treats bytes and counts as dimensionless, which would
let a byte/FLOP or token/sequence mix-up pass silently; symroof's own file gives
each of them a dimension. Quantities from two registries refuse to combine, so
everything in symroof uses :data:`ureg`.
"""

from __future__ import annotations

import re
from importlib import resources

import pint

from .errors import InputError

with resources.as_file(resources.files(__package__) / "units.txt") as _path:
    ureg = pint.UnitRegistry(str(_path), on_redefinition="raise", autoconvert_offset_to_baseunit=False)

Q_ = ureg.Quantity

# Spellings that pint would silently misread; caught before pint sees them.
_MISREAD = {
    "FLOPS": "write FLOP/s for a rate (pint reads FLOPS as a plural of FLOP)",
    "FLOPs": "write FLOP (a count) or FLOP/s (a rate): FLOPs is ambiguous",
    "flops": "write FLOP/s for a rate, FLOP for a count",
}


def parse_unit(text: str) -> pint.Unit:
    """Parse a unit string, refusing the spellings pint would misread."""
    for word in re.findall(r"[A-Za-z_µ]+", text):
        stem = word[1:] if word[:1] in "kMGTPE" and word[1:] in _MISREAD else word
        if stem in _MISREAD:
            raise InputError(f"unit {text!r}: {_MISREAD[stem]}")
    if re.search(r"[-+*/^(]\s*$", text) or text.count("(") != text.count(")"):
        raise InputError(f"unit {text!r} is not a unit: it ends in an operator or a parenthesis is not closed")
    try:
        return ureg.parse_units(text)
    except (pint.errors.UndefinedUnitError, pint.errors.DefinitionSyntaxError, AttributeError, TypeError,
            ValueError) as exc:
        raise InputError(f"unknown unit {text!r} ({exc})") from None
    except Exception:  # noqa: BLE001 - pint's parser asserts or fails to tokenise on some malformed text
        raise InputError(f"unit {text!r} is not a unit expression (like 'GB/s' or 'token/s/chip')") from None


def unit_text(unit: pint.Unit) -> str:
    """A unit as text that :func:`parse_unit` reads back (``'gigabyte / second'``)."""
    text = str(unit)
    return text if text != "dimensionless" else ""


def to_base(value: float, unit: pint.Unit) -> float:
    """Magnitude of ``value unit`` in the base units."""
    return float(Q_(value, unit).to_base_units().magnitude)


def base_factor(unit: pint.Unit) -> float:
    """How many base units one ``unit`` is (1 GB -> 1e9)."""
    return to_base(1.0, unit)
