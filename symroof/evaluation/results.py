"""Reading an evaluation: values in their units, where each came from, feasibility, warnings, JSON.

:class:`Readout` holds the methods that read what :class:`~.compute.Computed`
computed; :class:`symroof.evaluation.Evaluation` is both.
"""

from __future__ import annotations

from typing import Any

import numpy

from ..core.errors import InputError
from ..core.kinds import Origin
from ..core.sentences import render
from ..core.units import Q_
from ..runtime import Spec
from .compute import Unavailable
from .display import frame, html_table
from .inputs import CALIBRATION, CATALOG, ESTIMATE, FORMULA, NEUTRAL, RULE, SET


class Readout:
    """What an evaluation says (a mixin over :class:`~.compute.Computed`)."""

    #: Pins made on the user's behalf (the planner pins the batch it prices to the batch set): no conflict warning.
    quiet_pins: frozenset[str] = frozenset()

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
        if origin in (CATALOG, CALIBRATION, Origin.ENGINE):
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
        out += [split] if (split := self.uneven_heads()) else []
        negative = [n for n in self.names() if self.kind(n) == "derived" and not self.table.specs[n].categorical
                    and numpy.any(numpy.asarray(self.base[n]) < 0)]
        if negative:
            out.append(f"negative, so infeasible at this operating point: {', '.join(negative)}")
        return out

    def uneven_heads(self) -> str:
        """The sentence for a slice whose tensor-parallel group does not split the attention heads evenly (issue 31:
        n_chips=6 priced a 64-head model at TP6, which tensor_parallel=6 refuses and engines refuse); "" if it does."""
        names = ("tensor_parallel_size", "n_heads", "n_chips")
        if any(n not in self.base or n in self.unavailable or numpy.ndim(self.base[n]) > 0 for n in names):
            return ""
        tp, heads = float(self.magnitude("tensor_parallel_size")), float(self.magnitude("n_heads"))
        if tp <= 1 or tp != int(tp) or heads % tp == 0:
            return ""
        chips = f"n_chips={self.magnitude('n_chips'):g}"
        if self.provenance.get("n_chips") != SET:
            chips = f"the smallest slice that holds the weights and the KV cache, {chips},"
        return (f"{chips} makes a tensor-parallel group of {tp:g} chips, which does not split the model's {heads:g} "
                f"attention heads evenly (engines refuse it); give n_chips a divisor of {heads:g}, or set "
                "tensor_parallel and pipeline_parallel")

    def _pin_conflicts(self) -> list[str]:
        """Pinned quantities whose own formula gives something else from the other values."""
        out = []
        for name in sorted(self.pins - self.quiet_pins):
            s = self.table.specs[name]
            try:
                with numpy.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    own = numpy.asarray(self.table.function(name, self.mode)(self._values), dtype=float)
            except (Unavailable, KeyError):
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

    def _repr_html_(self) -> str:
        """Jupyter's rich display: the quantities grouped as ``symroof eval`` prints them."""
        return html_table({self.mode: self}, title=f"{self.model.name} on {self.hardware.name} ({self.mode})")

    def to_frame(self, names=None):
        """One row per quantity: symbol, the value (a column named for the mode), unit, kind, group, description
        (a pandas DataFrame, the layout of every result: :func:`.display.frame`)."""
        return frame({self.mode: self}, names)


