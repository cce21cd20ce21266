"""Evaluating the model for one model, chip and scenario, from the derivation cache (no sympy).

Values are carried in base units (second, byte, FLOP, ...) and converted to
each quantity's reporting unit only on the way out, so a unit factor is never
typed by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy

from . import catalog
from .core.errors import InputError, SymroofError
from .core.kinds import Origin
from .core.values import parse_value
from .derive import pinned_function, table
from .runtime import Spec, Table

BOUND, ESTIMATE = "bound", "estimate"
SET, CATALOG, CALIBRATION, CHOICE, VALUE, RULE, NEUTRAL, FORMULA = (
    Origin.SET, Origin.CATALOG, Origin.CALIBRATION, Origin.CHOICE, Origin.VALUE, Origin.RULE, Origin.NEUTRAL,
    Origin.FORMULA)


class MissingInput(InputError):
    """An input has no value: not set, not in the catalog, and no default."""


class _Unavailable(Exception):
    """A quantity cannot be computed because an input has no value."""


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
            return (CALIBRATION if entry.kind == "calibration" else CATALOG), entry.values[s.name]
    if s.categorical:
        return CHOICE, s.default_choice
    if s.has_rule:
        return RULE, None
    if s.default is not None:
        return VALUE, s.default
    owner = next((e.id for e in entries if e.kind == ("model" if s.group == "model" else "hardware")), None)
    where = f"{owner} has no {s.name}" if owner else f"no value for {s.name}"
    raise MissingInput(f"{where}; set it (--set {s.name}=...)")


class _Values(Mapping):
    """The lazy mapping a compiled function reads its dependencies from."""

    def __init__(self, ev: Evaluation) -> None:
        self.ev = ev

    def __getitem__(self, name: str) -> Any:
        value = self.ev._value(self.ev.table.specs[name])
        return numpy.float64(value) if isinstance(value, float | int) else value  # x/0 is inf, not an error

    def __iter__(self):
        return iter(self.ev.base)

    def __len__(self) -> int:
        return len(self.ev.base)


class Evaluation:
    """Every quantity of symroof for one model, chip and set of overrides, in one mode."""

    def __init__(self, model: catalog.Entry, hardware: catalog.Entry,
                 overrides: Mapping[str, float | str | numpy.ndarray] | None = None, *, mode: str = BOUND,
                 calibration: catalog.Entry | None = None, rules: Mapping[str, str] | None = None,
                 sources: Mapping[str, str] | None = None) -> None:
        if mode not in (BOUND, ESTIMATE):
            raise InputError(f"unknown mode {mode!r}; choose bound or estimate")
        self.table: Table = table()
        self.model = model
        self.hardware = hardware
        self.mode = mode
        if mode == ESTIMATE and calibration is None and hardware.id:
            from .calibration import for_chip

            calibration = for_chip(hardware.id)
        self.calibration = calibration
        self.overrides = dict(overrides or {})  # base-unit magnitudes, already parsed
        self.rules = dict(rules or {})  # input -> the quantity it follows (a template's default rule)
        self.sources = dict(sources or {})  # where a set value came from, when not from the user
        for name, target in self.rules.items():
            if self.table.get(name).kind != "input" or self.table.get(target).kind == "constant":
                raise InputError(f"rule {name} = {target}: only an input can follow another quantity")
        for name in self.overrides:
            s = self.table.get(name)
            if s.neutral is not None and mode == BOUND:
                raise InputError(f"{name} is an estimate-mode factor (in bound mode it is {s.neutral:g}); "
                                 "add --estimate to set it")
        self.pins = frozenset(n for n in self.overrides if self.table.specs[n].kind == "derived")
        self.base: dict[str, Any] = {}
        self.provenance: dict[str, Origin] = {}  # where each value came from
        self.unavailable: dict[str, str] = {}
        self.unpublished: set[str] = set()  # inputs the catalog marks "not published" (NaN)
        self.nonfinite: set[str] = set()  # computed, but infinite or undefined at this point (a zero batch)
        self.formulas: dict[str, str | None] = {}  # formula text where pins changed it
        self._busy: set[str] = set()
        self._values = _Values(self)
        self.entries = tuple(e for e in (model, hardware, calibration) if e is not None)
        for s in self.table:
            if s.kind != "constant":
                try:
                    self._value(s)
                except _Unavailable as exc:
                    self.unavailable.setdefault(s.name, str(exc))
        for s in self.table:  # checks of the inputs that make them an error (a layout that cannot be)
            if s.on_false == "refuse":
                self._refuse(s)

    def _refuse(self, s: Spec) -> None:
        """Raise the check's own sentence where it fails; over arrays (a sweep), at its first failing point."""
        value = self.base.get(s.name)
        if value is None or numpy.all(value):
            return
        if numpy.ndim(value) == 0:
            raise InputError(self.says(s.name))
        from .core.sentences import render

        first = numpy.unravel_index(numpy.argmin(numpy.asarray(value, dtype=bool)), numpy.shape(value))
        at = lambda n: numpy.broadcast_to(self.magnitude(n), numpy.shape(value))[first]  # noqa: E731
        raise InputError(render(s.says[1], at))

    # --- computing ---
    def _value(self, s: Spec) -> Any:
        if s.name in self.base:
            return self.base[s.name]
        if s.name in self.unavailable:
            raise _Unavailable(self.unavailable[s.name])
        if s.name in self._busy:
            raise SymroofError(f"quantities depend on each other in a cycle through {s.name}")
        self._busy.add(s.name)
        try:
            value, origin = self._compute(s)
        except _Unavailable as exc:
            self.unavailable[s.name] = str(exc)
            raise
        finally:
            self._busy.discard(s.name)
        self.base[s.name] = value
        self.provenance[s.name] = origin
        return value

    def _compute(self, s: Spec) -> tuple[Any, Origin]:
        if s.kind == "constant":
            return s.value * s.factor, Origin.CONSTANT
        if s.name in self.rules and s.name not in self.overrides:
            return self._value(self.table.specs[self.rules[s.name]]), RULE
        if s.name in self.overrides or s.kind == "input":
            try:
                origin, value = resolve_input(s, self.overrides, self.entries, self.mode)
            except MissingInput as exc:
                raise _Unavailable(str(exc)) from None
            if origin != RULE:
                if isinstance(value, float) and numpy.isnan(value):  # "not published": kept as NaN, so a
                    # formula whose branch does not need it still computes; shown as unavailable
                    self.unpublished.add(s.name)
                    self.unavailable[s.name] = (f"not published for {self.hardware.id or 'this chip'} "
                                                f"(catalog); set it with --set {s.name}=VALUE")
                return value, origin
            func, origin = self.table.function(s.name, self.mode), RULE
        else:
            keep = s.opened & self.pins
            if keep:
                try:
                    func, self.formulas[s.name] = pinned_function(s.name, keep, self.mode,
                                                                  tuple(sorted(self._structure().items())))
                except SymroofError as exc:  # a pin leaves the equation without a root
                    raise _Unavailable(f"cannot be derived with {', '.join(sorted(keep))} pinned: {exc}") from None
            else:
                func = self.table.function(s.name, self.mode)
            origin = FORMULA
        with numpy.errstate(divide="ignore", invalid="ignore", over="ignore"):
            result = func(self._values)
        if isinstance(result, numpy.ndarray) and result.ndim > 0:
            return result.astype(float), origin
        result = float(result)
        if not numpy.isfinite(result):
            self.nonfinite.add(s.name)
            unknown = self._unpublished_under(s)
            if unknown:
                where = self.hardware.id or "this chip"
                raise _Unavailable(f"needs {' or '.join(unknown)}, not published for {where}; set it with "
                                   f"--set NAME=VALUE")
            raise _Unavailable("not finite here: a denominator is zero (for instance no batch fits or meets the "
                               "latency target)")
        return result, origin

    def _unpublished_under(self, s: Spec) -> list[str]:
        """Inputs under ``s`` whose catalog value is "not published" (NaN), that ``s`` took.

        Only non-finite intermediate results are followed: a finite one did not take the missing value (its
        branch did not need it), so the blame stays with what really failed, such as a model that does not fit.
        """
        seen, todo, out = set(), list(s.deps), []
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            d = self.table.specs[name]
            value = self.base.get(name)
            if d.kind == "input" and isinstance(value, float) and numpy.isnan(value):
                out.append(name)
            elif d.kind == "derived" and not (isinstance(value, float) and numpy.isfinite(value)):
                todo.extend(d.deps)
        return sorted(out)

    def _structure(self) -> dict[str, str]:
        return {s.name: self._value(s) for s in self.table if s.structural}

    # --- reading results ---
    @property
    def origin(self) -> dict[str, str]:
        """Where each value came from, in the coarse words of earlier versions (set, catalog, default, ...).

        :attr:`provenance` tells a default choice, value and rule apart.
        """
        return {n: o.coarse for n, o in self.provenance.items()}

    def spec(self, name: str) -> Spec:
        return self.table.get(name)

    def kind(self, name: str) -> str:
        """``input`` or ``derived``; a derived quantity pinned by an override counts as input."""
        s = self.table.get(name)
        return "input" if s.kind == "input" or self.provenance.get(name) == SET else "derived"

    def magnitude(self, name: str) -> Any:
        """The value of ``name`` in its reporting unit (a choice for a dtype)."""
        s = self.table.get(name)
        if name in self.unavailable:
            raise InputError(f"{name} is unavailable: {self.unavailable[name]}")
        value = self.base[name]
        return value if s.categorical else value / s.factor

    def quantity(self, name: str):
        """The value of ``name`` as a pint quantity in its reporting unit (a choice for a dtype)."""
        from .core.units import Q_

        s = self.table.get(name)
        value = self.magnitude(name)
        return value if s.categorical else Q_(value, s.unit)

    __getitem__ = quantity

    def names(self) -> list[str]:
        """Quantities with a value, in declaration order (constants left out)."""
        return [s.name for s in self.table if s.name in self.base and s.kind != "constant"
                and s.name not in self.unpublished]

    def computable(self) -> list[str]:
        """Quantities with a value, and those whose formula works but is not finite here (a live workbook
        holds both: another input makes the second kind finite)."""
        return [s.name for s in self.table if (s.name in self.base or s.name in self.nonfinite)
                and s.kind != "constant"]

    def source(self, name: str) -> str:
        s = self.table.get(name)
        origin = self.provenance.get(name)
        if origin == SET:
            return self.sources.get(name, "set by the user")
        if origin in (CATALOG, CALIBRATION):
            entry = next(e for e in self.entries if name in e.values)
            return entry.sources[name]
        if origin == NEUTRAL:
            return f"bound mode: {s.neutral:g} gives the chapter's roofline"
        return s.source

    def formula_text(self, name: str) -> str | None:
        """The formula the value of ``name`` was computed from (derived again where pins required)."""
        if name in self.formulas:
            return self.formulas[name]
        if name in self.rules and self.provenance.get(name) == RULE:
            return self.rules[name]
        return self.table.get(name).formula_text(self.mode, self.structure)

    @property
    def structure(self) -> dict[str, str]:
        """The model's structural choices (attention kind, dense or MoE)."""
        return {s.name: self.base[s.name] for s in self.table if s.structural and s.name in self.base}

    def shows_rule(self, name: str) -> bool:
        """Derived quantities, and inputs that took their default rule, show a formula."""
        return self.provenance.get(name) in (FORMULA, RULE)

    # --- feasibility ---
    def holds(self, name: str) -> bool | None:
        """The value of a yes/no quantity (None when unavailable or an array)."""
        value = self.base.get(name)
        if value is None or numpy.ndim(value) > 0:
            return None
        return bool(value)

    @property
    def feasible(self) -> bool | None:
        """Whether parameters plus KV fit in the slice's HBM (None when unknown or an array)."""
        return self.holds("fits_in_hbm")

    def failed(self) -> list[str]:
        """Yes/no quantities that some result requires and that do not hold here."""
        needed = dict.fromkeys(r for n in self.names() for r in self.table.specs[n].requires)
        return [r for r in needed if self.holds(r) is False]

    def says(self, name: str) -> str | None:
        """What a yes/no quantity says here, in words (its declared sentence)."""
        from .core.sentences import render

        s = self.table.specs[name]
        if s.says is None or self.holds(name) is None:
            return None
        return render(s.says[0 if self.holds(name) else 1], self.magnitude)

    def infeasible(self) -> str | None:
        """A plain sentence saying why the operating point does not fit in HBM, or None."""
        if self.feasible is not False:
            return None
        return self.says("fits_in_hbm")

    def infeasible_quantities(self) -> list[str]:
        """Results that mean nothing at this operating point (a condition they require does not hold)."""
        failed = set(self.failed())
        return [n for n in self.names() if failed & set(self.table.specs[n].requires) and self.kind(n) == "derived"]

    def warnings(self) -> list[str]:
        """Plain-language cautions about the operating point (nothing stops evaluation)."""
        out = []
        for name in self.failed():
            sentence = self.says(name) or f"{name} does not hold"
            if name == "fits_in_hbm":
                sentence += " Step time, throughput and cost here are not results."
            out.append(sentence)
        if "fits_in_hbm" in self.base and numpy.ndim(self.base["fits_in_hbm"]) > 0 and not numpy.all(
                self.base["fits_in_hbm"]):
            out.append("some points do not fit in HBM (parameters plus KV cache exceed the slice)")
        if self.mode == ESTIMATE and self.calibration is not None and self.calibration.notes.get("uncalibrated"):
            out.append(f"the estimate is uncalibrated for {self.hardware.id or 'this chip'}: generic factors (the "
                       "mean of the measured chips); measure it (symroof measure) and fit it (symroof calibrate)")
        out += [self.says(s.name) for s in self.table if s.on_false == "warn" and self.holds(s.name) is False]
        out += self._pin_conflicts()
        out += self._implausible()
        negative = [n for n in self.names() if self.kind(n) == "derived" and not self.table.specs[n].categorical
                    and numpy.any(numpy.asarray(self.base[n]) < 0)]
        if negative:
            out.append(f"negative, so infeasible at this operating point: {', '.join(negative)}")
        return out

    def _pin_conflicts(self) -> list[str]:
        """Pinned quantities whose own formula gives something else from the other values."""
        out = []
        for name in sorted(self.pins):
            s = self.table.specs[name]
            try:
                with numpy.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    own = numpy.asarray(self.table.function(name, self.mode)(self._values), dtype=float)
            except (_Unavailable, KeyError):
                continue
            pinned = numpy.asarray(self.base[name], dtype=float)
            if own.shape == () and pinned.shape == () and numpy.isfinite(own) and not numpy.isclose(
                    own, pinned, rtol=1e-6, atol=0):
                unit = f" {s.unit_short}" if s.unit_short else ""
                out.append(f"{name} is pinned to {pinned / s.factor:.6g}{unit}, but its formula gives "
                           f"{own / s.factor:.6g}{unit} from the other values "
                           f"({name} = {s.formula_text(self.mode)})")
        return out

    def _implausible(self) -> list[str]:
        out = []
        for name, origin in self.provenance.items():
            s = self.table.specs[name]
            if origin != SET or s.plausible is None or s.categorical or numpy.ndim(self.base[name]) > 0:
                continue
            value = self.base[name] / s.factor
            lo, hi = s.plausible
            if not lo <= value <= hi:
                out.append(f"{name} = {value:g} {s.unit_short} is far outside any real chip or model "
                           f"({lo:g} to {hi:g} {s.unit_short})")
        return out

    # --- output ---
    def to_dict(self) -> dict:
        """The JSON contract of ``symroof eval --format json``."""
        quantities = {}
        for name in self.names():
            s = self.table.specs[name]
            value = self.magnitude(name)
            number = None if s.categorical else float(value)
            quantities[name] = {
                "value": value if s.categorical else (number if numpy.isfinite(number) else None),
                "unit": s.unit_text,
                "kind": self.kind(name),
                "formula": self.formula_text(name) if self.shows_rule(name) else None,
                "source": self.source(name),
            }
        out = {"model": self.model.id, "hardware": self.hardware.id, "quantities": quantities,
               "unavailable": dict(self.unavailable), "warnings": self.warnings(),
               "feasible": self.feasible, "infeasible": self.infeasible(),
               "infeasible_quantities": self.infeasible_quantities(), "mode": self.mode,
               "calibration": self.calibration.path if self.calibration is not None else None,
               "calibrated": (self.calibration is not None and not self.calibration.notes.get("uncalibrated"))}
        return out

    def to_frame(self):
        """One row per quantity: name, symbol, value, unit, kind, group, description (a pandas DataFrame)."""
        import pandas

        rows = []
        for name in self.names():
            s = self.table.specs[name]
            rows.append({"name": name, "symbol": s.display, "value": self.magnitude(name), "unit": s.unit_text,
                         "kind": self.kind(name), "group": s.group, "description": s.description})
        return pandas.DataFrame(rows).set_index("name")


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


def evaluate(model: str | catalog.Entry, hardware: str | catalog.Entry,
             overrides: Mapping[str, Any] | None = None, *, estimate: bool = False,
             calibration: str | Any | None = None, **kwargs: Any) -> Evaluation:
    """Evaluate every quantity for a model and chip (ids, TOML paths or loaded entries).

    Overrides set inputs or pin derived quantities: numbers are read in the
    quantity's reporting unit, text may carry a unit (``"820 GB/s"``), pint
    quantities are converted, dtypes are given by name. ``estimate=True``
    adds the chip's calibrated efficiencies and overheads (its shipped
    calibration, or the generic one); ``calibration=PATH`` uses a file from
    ``symroof calibrate`` (and implies the estimate).

    >>> evaluate("llama-3-70b", "tpu-v5e", batch_size=32, weight_dtype="int8")["step_time"]
    """
    m = model if isinstance(model, catalog.Entry) else catalog.load("model", model)
    h = hardware if isinstance(hardware, catalog.Entry) else catalog.load("hardware", hardware)
    merged = {**(overrides or {}), **kwargs}
    cal = load_calibration(h, calibration) if (estimate or calibration is not None) else None
    return Evaluation(m, h, parse_overrides(merged), mode=ESTIMATE if cal is not None else BOUND, calibration=cal)


def load_calibration(hardware: catalog.Entry, calibration: str | Any | None):
    """The calibration entry for ``hardware``: a loaded one, a file (checked against the chip), or the shipped one."""
    from .calibration import for_chip

    if isinstance(calibration, catalog.Entry):
        return calibration
    return for_chip(hardware.id, calibration)
