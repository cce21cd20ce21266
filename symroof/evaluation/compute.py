"""Computing every quantity of one evaluation, lazily and once, through the compiled functions.

A derived quantity's function reads its dependencies from a lazy mapping, so
only what the chosen branch of a choice needs is computed; a quantity that
cannot be computed (an input nobody gave, a value not published, a zero
denominator) is recorded as unavailable with the reason, not raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy

from .. import catalog
from ..core.errors import InputError, SymroofError
from ..core.kinds import Origin
from ..core.sentences import render
from ..derive import pinned_function, table
from ..runtime import Spec, Table
from .inputs import BOUND, ESTIMATE, FORMULA, RULE, MissingInput, load_calibration, resolve_input


class Unavailable(Exception):
    """A quantity cannot be computed because an input has no value."""


class _Values(Mapping):
    """The lazy mapping a compiled function reads its dependencies from."""

    def __init__(self, ev: Computed) -> None:
        self.ev = ev

    def __getitem__(self, name: str) -> Any:
        value = self.ev._value(self.ev.table.specs[name])
        return numpy.float64(value) if isinstance(value, float | int) else value  # x/0 is inf, not an error

    def __iter__(self):
        return iter(self.ev.base)

    def __len__(self) -> int:
        return len(self.ev.base)


class Computed:
    """The values of every quantity for one model, chip and set of overrides, in one mode (base units)."""

    def __init__(self, model: catalog.Entry, hardware: catalog.Entry,
                 overrides: Mapping[str, float | str | numpy.ndarray] | None = None, *, mode: str = BOUND,
                 calibration: catalog.Entry | None = None, rules: Mapping[str, str] | None = None,
                 sources: Mapping[str, str] | None = None, engine: catalog.Entry | None = None) -> None:
        if mode not in (BOUND, ESTIMATE):
            raise InputError(f"unknown mode {mode!r}; choose bound or estimate")
        self.table: Table = table()
        self.model = model
        self.hardware = hardware
        self.mode = mode
        if mode == ESTIMATE and calibration is None and hardware.id:
            calibration = load_calibration(hardware, None)
        self.calibration = calibration
        self.engine = engine  # an engine profile (symroof serve): its caps and overheads, neutral in bound mode
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
        # the engine before the calibration: a profile's per-step overhead is the engine's, the microbenchmarks'
        # (replayed CUDA graphs) none
        self.entries = tuple(e for e in (model, hardware, engine, calibration) if e is not None)
        for s in self.table:
            if s.kind != "constant":
                try:
                    self._value(s)
                except Unavailable as exc:
                    self.unavailable.setdefault(s.name, str(exc))
        for s in self.table:  # checks of the inputs that make them an error (a layout that cannot be)
            if s.on_false == "refuse":
                self._refuse(s)
        self._relations()

    def _relations(self) -> None:
        """Relations between inputs that no declared check holds (issue 31: 5 tokens accepted per step from 2
        drafts was priced)."""
        accepted, drafts = self.base.get("accepted_tokens_per_step"), self.base.get("speculative_tokens")
        if accepted is None or drafts is None:
            return
        over = numpy.asarray(accepted, dtype=float) > 1 + numpy.asarray(drafts, dtype=float) + 1e-9
        if numpy.any(over):
            a = numpy.broadcast_to(accepted, over.shape)[over].flat[0]
            d = numpy.broadcast_to(drafts, over.shape)[over].flat[0]
            raise InputError(f"accepted_tokens_per_step ({a:g}) is above 1 + speculative_tokens ({d:g}): a decode "
                             "step gains at most each sequence's own token and the drafts it verifies; raise "
                             "speculative_tokens or lower accepted_tokens_per_step")

    def _refuse(self, s: Spec) -> None:
        """Raise the check's own sentence where it fails; over arrays (a sweep), at its first failing point."""
        value = self.base.get(s.name)
        if value is None or numpy.all(value):
            return
        if numpy.ndim(value) == 0:
            raise InputError(self.says(s.name))
        first = numpy.unravel_index(numpy.argmin(numpy.asarray(value, dtype=bool)), numpy.shape(value))
        at = lambda n: numpy.broadcast_to(self.magnitude(n), numpy.shape(value))[first]  # noqa: E731
        raise InputError(render(s.says[1], at))

    # --- computing ---
    def _value(self, s: Spec) -> Any:
        if s.name in self.base:
            return self.base[s.name]
        if s.name in self.unavailable:
            raise Unavailable(self.unavailable[s.name])
        if s.name in self._busy:
            raise SymroofError(f"quantities depend on each other in a cycle through {s.name}")
        self._busy.add(s.name)
        try:
            value, origin = self._compute(s)
        except Unavailable as exc:
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
                raise Unavailable(str(exc)) from None
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
                    raise Unavailable(f"cannot be derived with {', '.join(sorted(keep))} pinned: {exc}") from None
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
                raise Unavailable(f"needs {' or '.join(unknown)}, not published for {where}; set it with "
                                   f"--set NAME=VALUE")
            raise Unavailable("not finite here: a denominator is zero (for instance no batch fits or meets the "
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

