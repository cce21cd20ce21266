"""Evaluating the declared model for one model, chip and scenario.

Values are carried in base units (second, byte, FLOP, ...) and converted to
each quantity's reporting unit only on the way out, so a unit factor is never
typed by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy
import pandas
import pint

from . import catalog
from .compile import compiled
from .errors import InputError, SymroofError
from .quantity import REGISTRY, Quantity
from .symbolic import pins_through
from .units import Q_, unit_text
from .values import parse_value


class MissingInput(InputError):
    """An input has no value: not set, not in the catalog, and no default rule."""


def resolve_input(q: Quantity, given: Mapping[str, Any], entries) -> tuple[str, Any]:
    """Where an input (or a pinned quantity) gets its value, in order of precedence.

    ``("set", value)`` from ``given``, ``("catalog", value)`` from a catalog entry,
    ``("default", choice)`` for a dtype, or ``("rule", expression)`` for a default
    rule still to evaluate. Values are base-unit magnitudes.
    """
    if q.name in given:
        return "set", given[q.name]
    for entry in entries:
        if q.name in entry.values:
            return "catalog", entry.values[q.name]
    if q.categorical:
        return "default", q.default_choice
    if q.expr is not None:
        return "rule", q.expr
    hardware = entries[-1].id if entries else "the chip"
    raise MissingInput(f"{hardware} has no {q.name}; set it (--set {q.name}=...)")


class _Unavailable(Exception):
    """A quantity cannot be computed because an input has no value."""


class Evaluation:
    """Every quantity of symroof for one model, chip and set of overrides."""

    def __init__(self, model: catalog.Entry, hardware: catalog.Entry,
                 overrides: Mapping[str, float | str | numpy.ndarray] | None = None) -> None:
        self.model = model
        self.hardware = hardware
        self.overrides = dict(overrides or {})  # base-unit magnitudes, already parsed
        self.base: dict[str, Any] = {}
        self.origin: dict[str, str] = {}
        self.unavailable: dict[str, str] = {}
        for q in REGISTRY:
            if q.kind != "constant":
                try:
                    self._value(q, ())
                except _Unavailable as exc:
                    self.unavailable[q.name] = str(exc)

    def _value(self, q: Quantity, stack: tuple[str, ...]) -> Any:
        if q.name in self.base:
            return self.base[q.name]
        if q.name in self.unavailable:
            raise _Unavailable(self.unavailable[q.name])
        if q.name in stack:
            raise SymroofError(f"quantities depend on each other in a cycle: {' -> '.join(stack + (q.name,))}")
        try:
            value, origin = self._compute(q, stack + (q.name,))
        except _Unavailable as exc:
            self.unavailable[q.name] = str(exc)
            raise
        self.base[q.name] = value
        self.origin[q.name] = origin
        return value

    def _compute(self, q: Quantity, stack: tuple[str, ...]) -> tuple[Any, str]:
        if q.kind == "constant":
            return q.value * q.factor, "constant"
        if q.name in self.overrides or q.kind == "input":
            try:
                origin, value = resolve_input(q, self.overrides, (self.model, self.hardware))
            except MissingInput as exc:
                raise _Unavailable(str(exc)) from None
            if origin != "rule":
                return value, origin
        keep = pins_through(q.name, self.overrides)
        choices = {}
        for dep in q.dependencies:
            if dep.categorical:
                choices[dep.name] = self._value(dep, stack)
        try:
            func, args = compiled(q, choices, keep)
        except SymroofError as exc:  # a pin leaves the equation without a root
            raise _Unavailable(f"cannot be derived with {', '.join(sorted(keep))} pinned ({exc})") from None
        values = [self._value(REGISTRY.get(a), stack) for a in args]
        values = [v if isinstance(v, numpy.ndarray) else numpy.float64(v) for v in values]
        with numpy.errstate(divide="ignore", invalid="ignore", over="ignore"):
            result = func(*values)
        if isinstance(result, numpy.ndarray) and result.ndim > 0:
            return result, "default" if q.kind == "input" else "formula"
        result = float(result)
        if not numpy.isfinite(result):
            raise _Unavailable("not finite here: a denominator is zero (for instance no batch fits or meets the "
                               "latency target)")
        return result, "default" if q.kind == "input" else "formula"

    # --- reading results ---
    def kind(self, name: str) -> str:
        """``input`` or ``derived``; a derived quantity pinned by an override counts as input."""
        q = REGISTRY.get(name)
        return "input" if q.kind == "input" or self.origin.get(name) == "set" else "derived"

    def magnitude(self, name: str) -> Any:
        """The value of ``name`` in its reporting unit (a choice for a dtype)."""
        q = REGISTRY.get(name)
        if name in self.unavailable:
            raise InputError(f"{name} is unavailable: {self.unavailable[name]}")
        value = self.base[name]
        return value if q.categorical else value / q.factor

    def quantity(self, name: str) -> pint.Quantity | str:
        """The value of ``name`` as a pint quantity in its reporting unit."""
        q = REGISTRY.get(name)
        value = self.magnitude(name)
        return value if q.categorical else Q_(value, q.unit)

    __getitem__ = quantity

    def names(self) -> list[str]:
        """Quantities with a value, in declaration order (constants left out)."""
        return [q.name for q in REGISTRY if q.name in self.base and q.kind != "constant"]

    def source(self, name: str) -> str:
        q = REGISTRY.get(name)
        origin = self.origin.get(name)
        if origin == "set":
            return "set by the user"
        if origin == "catalog":
            entry = self.model if name in self.model.values else self.hardware
            return entry.sources[name]
        return q.source

    def warnings(self) -> list[str]:
        """Plain-language cautions about the operating point (nothing stops evaluation)."""
        out = []
        if "hbm_total_bytes" in self.base and numpy.any(
                numpy.asarray(self.base["total_memory_bytes"]) > numpy.asarray(self.base["hbm_total_bytes"])):
            out.append(
                f"parameters plus KV cache ({self.magnitude('total_memory_bytes'):.4g} GB) do not fit in the "
                f"HBM of {self.magnitude('n_chips'):g} chips ({self.magnitude('hbm_total_bytes'):.4g} GB)")
        negative = [n for n in self.names() if self.kind(n) == "derived" and not REGISTRY.get(n).categorical
                    and numpy.any(numpy.asarray(self.base[n]) < 0)]
        if negative:
            out.append(f"negative, so infeasible at this operating point: {', '.join(negative)}")
        return out

    def to_dict(self) -> dict:
        """The JSON contract of ``symroof eval --format json``."""
        quantities = {}
        for name in self.names():
            q = REGISTRY.get(name)
            value = self.magnitude(name)
            kind = self.kind(name)
            quantities[name] = {
                "value": value if q.categorical else float(value),
                "unit": unit_text(q.unit),
                "kind": kind,
                "formula": q.formula_text() if self._shows_rule(name) else None,
                "source": self.source(name),
            }
        return {"model": self.model.id, "hardware": self.hardware.id, "quantities": quantities,
                "unavailable": dict(self.unavailable), "warnings": self.warnings()}

    def _shows_rule(self, name: str) -> bool:
        """Derived quantities, and inputs that took their default rule, show a formula."""
        q = REGISTRY.get(name)
        if self.origin[name] in ("set", "catalog"):
            return False
        return q.kind == "derived" or q.has_rule

    def to_frame(self) -> pandas.DataFrame:
        """One row per quantity: name, symbol, value, unit, kind, group, description."""
        rows = []
        for name in self.names():
            q = REGISTRY.get(name)
            rows.append({"name": name, "symbol": q.display, "value": self.magnitude(name),
                         "unit": unit_text(q.unit), "kind": self.kind(name), "group": q.group,
                         "description": q.description})
        return pandas.DataFrame(rows).set_index("name")


def parse_overrides(overrides: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """Parse ``{name: raw}`` into base-unit magnitudes, naming the place of any error."""
    parsed = {}
    for name, raw in overrides.items():
        q = REGISTRY.get(name)
        if q.kind == "constant":
            raise InputError(f"{where}{name} is a constant and cannot be set")
        if isinstance(raw, numpy.ndarray):
            parsed[name] = raw
        else:
            parsed[name] = parse_value(q, raw, f"{where}{name}")
    return parsed


def evaluate(model: str | catalog.Entry, hardware: str | catalog.Entry,
             overrides: Mapping[str, Any] | None = None, **kwargs: Any) -> Evaluation:
    """Evaluate every quantity for a model and chip (ids, TOML paths or loaded entries).

    Overrides set inputs or pin derived quantities: numbers are read in the
    quantity's reporting unit, text may carry a unit (``"820 GB/s"``), pint
    quantities are converted, dtypes are given by name.

    >>> evaluate("llama-3-70b", "tpu-v5e", batch_size=32, weight_dtype="int8")["step_time"]
    """
    m = model if isinstance(model, catalog.Entry) else catalog.load("model", model)
    h = hardware if isinstance(hardware, catalog.Entry) else catalog.load("hardware", hardware)
    merged = {**(overrides or {}), **kwargs}
    return Evaluation(m, h, parse_overrides(merged))
