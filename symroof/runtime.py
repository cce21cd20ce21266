"""The model as the command line uses it: declarations derived once, loaded without sympy.

:mod:`symroof.build` writes the derivation cache; this module finds a fresh
one (in the package, else in the user cache, else it builds one), checks it is
whole and matches the declarations, and serves :class:`Spec` records and the
compiled functions. A stale or corrupt cache is never trusted: it is rebuilt.

Formulas whose closed form must be derived again around pinned quantities are
compiled here on demand, through the same lowering as everything else.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from types import ModuleType

from .errors import InputError, SymroofError
from .generated import NAMESPACE

PACKAGE = Path(__file__).resolve().parent
#: What the derivation cache is derived from: change any of these and it is rebuilt.
SOURCES = ("declare", "model", "lower.py", "build.py", "build_format.py", "printing/numpy.py", "generated.py",
           "units.txt", "units.py")


@dataclass(frozen=True, eq=False)
class Spec:
    """One quantity as the runtime knows it (see :func:`symroof.build.spec`)."""

    name: str
    display: str
    unit_text: str
    unit_short: str
    factor: float
    description: str
    source: str
    group: str
    kind: str
    label: str | None
    title: str
    integer: bool
    at_most: float | None
    plausible: tuple[float, float] | None
    choices: tuple[str, ...] | None
    default_choice: str | None
    boolean: bool
    neutral: float | None
    choice_list: str | None
    structural: bool
    nonnegative: bool
    formula_for: dict[str, str]
    requires: tuple[str, ...]
    says: tuple[str, str] | None
    on_false: str | None
    regime: str | None
    deps: tuple[str, ...]
    opened: frozenset[str]
    default: float | str | None
    default_text: str | None
    formula: dict[str, str | None]
    latex: dict[str, str]
    code: dict[str, str]
    equation: str | None
    equation_latex: tuple[str, str] | None
    unknown: str | None
    regimes: tuple[tuple[str, str], ...]
    regimes_for: dict[str, list]
    per: str | None
    value: float | None = None
    users: tuple[str, ...] = field(default=())

    @classmethod
    def from_dict(cls, d: dict) -> Spec:
        d = dict(d)
        for k in ("plausible", "choices", "deps", "equation_latex", "requires", "says"):
            if d.get(k) is not None:
                d[k] = tuple(d[k])
        d["regimes"] = tuple(tuple(r) for r in d.get("regimes") or ())
        d["opened"] = frozenset(d.get("opened") or ())
        d["unit_text"] = d.pop("unit")
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
        from .units import parse_unit, ureg

        return parse_unit(self.unit_text) if self.unit_text else ureg.dimensionless

    def formula_text(self, mode: str = "bound", choices: dict[str, str] | None = None) -> str | None:
        """The formula as text; with the model's structural choices, the branch that applies to it."""
        if self.formula_for and choices:
            used = {part.split("=")[0] for key in self.formula_for for part in key.split("|")[1:]}
            key = "|".join([mode, *(f"{k}={v}" for k, v in sorted(choices.items()) if k in used)])
            if key in self.formula_for:
                return self.formula_for[key]
        return self.formula.get(mode) if self.formula else None


class Table:
    """Every quantity's :class:`Spec` in declaration order, and its compiled functions."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.specs: dict[str, Spec] = {d["name"]: Spec.from_dict(d) for d in module.SPECS}
        self.groups: list[tuple[str, str]] = [tuple(g) for g in module.GROUPS]
        users: dict[str, list[str]] = {}
        for s in self.specs.values():
            for d in s.deps:
                users.setdefault(d, []).append(s.name)
        for s in self.specs.values():
            object.__setattr__(s, "users", tuple(users.get(s.name, ())))

    def __iter__(self):
        return iter(self.specs.values())

    def __contains__(self, name: object) -> bool:
        return name in self.specs

    def names(self) -> list[str]:
        return list(self.specs)

    def get(self, name: str) -> Spec:
        """The quantity called ``name``, or an error that suggests close names."""
        try:
            return self.specs[name]
        except KeyError:
            from difflib import get_close_matches

            close = get_close_matches(name, list(self.specs), n=3, cutoff=0.6)
            hint = " (did you mean " + " or ".join(repr(c) for c in close) + "?)" if close else ""
            raise InputError(f"unknown quantity {name!r}{hint}") from None

    def function(self, name: str, mode: str = "bound") -> Callable:
        """The compiled function of ``name`` (its formula, or an input's default rule) in ``mode``."""
        return getattr(self.module, self.specs[name].code[mode])


# --- finding a fresh cache --------------------------------------------------------------------------------------

def _sympy_version() -> str:
    found = importlib.util.find_spec("sympy")
    if found is None or not found.origin:
        return "none"
    release = Path(found.origin).with_name("release.py")
    try:
        return release.read_text(encoding="utf-8").strip()
    except OSError:
        return "unknown"


@cache
def key() -> str:
    """Hash of the declaring sources, the cache format and the sympy version."""
    from .build_format import FORMAT

    h = hashlib.sha256(f"format {FORMAT}\n{_sympy_version()}\n".encode())
    for entry in SOURCES:
        path = PACKAGE / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for f in files:
            h.update(str(f.relative_to(PACKAGE)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def cache_folder() -> Path:
    """Where derivation caches are written: ``$SYMROOF_CACHE``, else ``$XDG_CACHE_HOME/symroof``."""
    if os.environ.get("SYMROOF_CACHE"):
        return Path(os.environ["SYMROOF_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "symroof"


def _valid(module: ModuleType, want: str) -> bool:
    try:
        return (getattr(module, "KEY", None) == want and getattr(module, "COMPLETE", False) is True
                and len(module.SPECS) == module.COUNT
                and all(hasattr(module, f) for s in module.SPECS for f in s["code"].values()))
    except Exception:  # noqa: BLE001 - anything odd in a cache file means: do not trust it
        return False


def _from_file(path: Path, name: str) -> ModuleType | None:
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    except Exception:  # noqa: BLE001 - a corrupt cache is rebuilt, whatever is wrong with it
        return None


def _from_source(text: str, name: str) -> ModuleType:
    module = ModuleType(name)
    module.__dict__.update(NAMESPACE)
    exec(compile(text, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 - source symroof printed itself
    return module


def _with_namespace(module: ModuleType) -> ModuleType:
    for name, value in NAMESPACE.items():
        module.__dict__.setdefault(name, value)
    return module


@cache
def _packaged_or_cached() -> Table:
    module = existing()
    if module is not None:
        return Table(module)
    want = key()
    return _rebuild(want, cache_folder() / f"derived-{want[:20]}.py")


def existing() -> ModuleType | None:
    """A fresh derivation cache that is already there (packaged, or in the user cache), or None; never builds."""
    want = key()
    try:
        packaged = importlib.import_module("symroof._derived")
        if _valid(packaged, want):
            return _with_namespace(packaged)
    except Exception:  # noqa: BLE001, S110 - stale or corrupt: fall through to the user cache
        pass
    path = cache_folder() / f"derived-{want[:20]}.py"
    if path.is_file():
        module = _from_file(path, "symroof_derived_cache")
        if module is not None and _valid(_with_namespace(module), want):
            return module
    return None


def _rebuild(want: str, path: Path) -> Table:
    from . import build
    from .files import write_text_atomically

    text = build.source(want)
    try:
        write_text_atomically(text, path)
    except OSError:
        pass  # a read-only home: work from memory
    module = _from_source(text, "symroof_derived_memory")
    if not _valid(module, want):
        raise SymroofError("internal error: the freshly derived model is incomplete")
    return Table(module)


def table() -> Table:
    """The model's table: from the derivation cache, or from the live declarations when they were extended.

    A script (or a test) that declares quantities of its own after import gets
    a table derived from the registry as it is now.
    """
    declared = sys.modules.get("symroof.declare.quantity")
    if declared is not None and _extended(declared.REGISTRY.generation):
        return _live(declared.REGISTRY.generation)
    return _packaged_or_cached()


@cache
def _extended(generation: int) -> bool:
    """Whether the registry now holds quantities other than those the model declared (a script added some)."""
    import symroof.model as model
    from symroof.declare import REGISTRY

    return frozenset(REGISTRY) != model.DECLARED


@cache
def _live(generation: int) -> Table:
    from . import build

    return Table(_from_source(build.source(f"live-{generation}"), f"symroof_derived_live_{generation}"))


# --- formulas derived again around pins ------------------------------------------------------------------------

@cache
def pinned_function(name: str, keep: frozenset[str], mode: str,
                    structure: tuple[tuple[str, str], ...] = ()) -> tuple[Callable, str]:
    """The function and formula text of ``name`` derived again with the quantities in ``keep`` pinned.

    Needs sympy (the closed form is solved again); cached for the process. The
    text is the branch of the model's ``structure`` (dense or MoE).
    """
    import sympy

    from .declare import REGISTRY, formula, shown
    from .lower import lowered, resolve
    from .printing.numpy import compile_function

    q = REGISTRY.get(name)
    text = sympy.sstr(shown(resolve(formula(q, keep, mode), dict(structure))))
    return compile_function(f"_pinned_{name}", lowered(q, keep, mode)), text
