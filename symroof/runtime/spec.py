"""The one runtime record of a quantity (:class:`Spec`) and the table of all of them (:class:`Table`).

:mod:`symroof.derive` writes a :class:`Spec` for every declared quantity
into the derivation cache as plain data; the command line reads them back
without sympy. The record is defined here once: the derivation fills it, the
store serialises it (:meth:`Spec.to_data`, :meth:`Spec.from_data`), and
every consumer reads its fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import ModuleType

from ..core.errors import InputError, suggest
from ..core.units import parse_unit, ureg

#: Fields held as tuples (JSON gives lists back).
_TUPLES = ("plausible", "choices", "deps", "equation_latex", "requires", "says", "users")


@dataclass(frozen=True, eq=False)
class Spec:
    """One quantity as the runtime knows it: what it is, how it reads, and which compiled function computes it."""

    name: str
    display: str  # LaTeX symbol
    unit_text: str  # the reporting unit ("" when dimensionless)
    unit_short: str  # the reporting unit abbreviated (GB, ms)
    factor: float  # base units per reporting unit
    description: str
    source: str
    group: str
    kind: str  # input, derived or constant
    label: str | None
    title: str
    integer: bool = False
    at_most: float | None = None
    plausible: tuple[float, float] | None = None
    choices: tuple[str, ...] | None = None
    default_choice: str | None = None
    boolean: bool = False
    neutral: float | None = None
    choice_list: str | None = None
    structural: bool = False
    nonnegative: bool = False
    requires: tuple[str, ...] = ()
    says: tuple[str, str] | None = None
    on_false: str | None = None
    regime: str | None = None
    deps: tuple[str, ...] = ()  # direct dependencies (constants left out)
    opened: frozenset[str] = frozenset()  # derived quantities a closed form opened up (pins re-derive it)
    default: float | str | None = None  # an input's default value (base units), or "rule"
    default_text: str | None = None
    formula: dict[str, str | None] = field(default_factory=dict)  # per mode, in quantity names
    formula_for: dict[str, str] = field(default_factory=dict)  # per mode and structural choice
    where: dict[str, list] = field(default_factory=dict)  # per mode: [short form, [[name, part], ...]]
    latex: dict[str, str] = field(default_factory=dict)
    latex_for: dict[str, str] = field(default_factory=dict)  # bound mode, per structural choice
    code: dict[str, str] = field(default_factory=dict)  # per mode: the compiled function's name
    equation: str | None = None  # solved thresholds: "lhs = rhs, solved for x"
    equation_latex: tuple[str, str] | None = None
    unknown: str | None = None
    regimes: tuple[tuple[str, str], ...] = ()  # (closed form, holds when)
    regimes_for: dict[str, list] = field(default_factory=dict)
    per: str | None = None
    value: float | None = None  # constants
    users: tuple[str, ...] = ()  # quantities whose formula names this one (filled by the table)

    def _repr_latex_(self) -> str | None:
        """Jupyter's rich display: the quantity as its formula (a threshold: the equation it solves, then it)."""
        if not self.latex.get("bound"):
            return None
        if self.equation_latex:
            lhs, rhs = self.equation_latex
            return f"$${lhs} = {rhs} \\quad\\Rightarrow\\quad {self.latex['bound']}$$"
        return f"$${self.latex['bound']}$$"

    def to_data(self) -> dict:
        """The record as JSON-ready data."""
        out = dataclasses.asdict(self)
        out["opened"] = sorted(self.opened)
        out.pop("users")
        return out

    @classmethod
    def from_data(cls, data: Mapping) -> Spec:
        d = dict(data)
        for k in _TUPLES:
            if d.get(k) is not None:
                d[k] = tuple(d[k])
        d["regimes"] = tuple(tuple(r) for r in d.get("regimes") or ())
        d["opened"] = frozenset(d.get("opened") or ())
        return cls(**d)

    @property
    def categorical(self) -> bool:
        return self.choices is not None

    @property
    def has_rule(self) -> bool:
        return self.default == "rule"

    @property
    def solved(self) -> bool:
        return self.equation is not None

    @cached_property
    def unit(self):
        """The reporting unit as a pint unit of :data:`symroof.ureg`."""
        return parse_unit(self.unit_text) if self.unit_text else ureg.dimensionless

    def formula_text(self, mode: str = "bound", choices: Mapping[str, str] | None = None) -> str | None:
        """The formula as text; with the model's structural choices, the branch that applies to it."""
        if self.formula_for and choices:
            used = {part.split("=")[0] for key in self.formula_for for part in key.split("|")[1:]}
            key = "|".join([mode, *(f"{k}={v}" for k, v in sorted(choices.items()) if k in used)])
            if key in self.formula_for:
                return self.formula_for[key]
        return self.formula.get(mode) if self.formula else None


class Table:
    """Every quantity's :class:`Spec` in declaration order, and the module of their compiled functions."""

    def __init__(self, specs: list[Spec], groups: list[tuple[str, str]], functions: ModuleType,
                 key: str = "", closed_forms: Mapping[str, str] | None = None) -> None:
        users: dict[str, list[str]] = {}
        for s in specs:
            for d in s.deps:
                users.setdefault(d, []).append(s.name)
        self.specs: dict[str, Spec] = {s.name: dataclasses.replace(s, users=tuple(users.get(s.name, ())))
                                       for s in specs}
        self.groups = [tuple(g) for g in groups]
        self.module = functions
        self.key = key
        self.closed_forms = dict(closed_forms or {})

    def __iter__(self):
        return iter(self.specs.values())

    def __contains__(self, name: object) -> bool:
        return name in self.specs

    def __len__(self) -> int:
        return len(self.specs)

    def names(self) -> list[str]:
        return list(self.specs)

    def get(self, name: str) -> Spec:
        """The quantity called ``name``, or an error that suggests close names."""
        try:
            return self.specs[name]
        except KeyError:
            raise InputError(f"unknown quantity {name!r}{suggest(name, self.specs)}") from None

    def function(self, name: str, mode: str = "bound") -> Callable:
        """The compiled function of ``name`` (its formula, or an input's default rule) in ``mode``."""
        return getattr(self.module, self.specs[name].code[mode])
