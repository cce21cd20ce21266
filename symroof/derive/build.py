"""Building the derivation cache: one :class:`~symroof.runtime.Spec` per declared quantity, and its code.

For every quantity: its metadata, its formula as text and LaTeX in each mode
(and per structural choice: a dense model reads the dense formula), a short
form with common parts named where the formula is long, a solved threshold's
equation and regimes, and the numpy source of the function that computes it
from its direct dependencies. The store (:mod:`symroof.runtime.store`) keeps
the result; the command line reads it without sympy.
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
import time
from pathlib import Path

import sympy

from ..declare import BOUND, ESTIMATE, MODES, Kind, Quantity, Select, formula, shown
from ..declare.quantity import bypassed, default_text, latex, symbol_names, text, to_mode
from ..declare.solving import regimes
from ..printing.numpy import function_source
from ..printing.text import short_form
from ..runtime import Spec, Table, store
from .declared import REGISTRY, model
from .lower import lowered, resolve


def function_name(name: str, mode: str, rule: bool = False) -> str:
    return f"_{'rule' if rule else 'f'}_{mode}_{name}"


def _unit_short(q: Quantity) -> str:
    return f"{q.unit:~P}" if str(q.unit) != "dimensionless" else ""


def _modes(q: Quantity) -> tuple[str, ...]:
    """The modes whose code differs: bound always; estimate where an estimate factor enters."""
    return MODES if formula(q, frozenset(), ESTIMATE) != formula(q, frozenset(), BOUND) else (BOUND,)


def record(q: Quantity) -> Spec:
    """Everything the runtime needs to know about ``q``."""
    common = dict(
        name=q.name,
        display=q.display,
        unit_text="" if str(q.unit) == "dimensionless" else str(q.unit),
        unit_short=_unit_short(q),
        factor=q.factor,
        description=q.description,
        source=q.source,
        group=q.group,
        kind=q.kind.value,
        label=q.label,
        title=q.title,
        integer=q.integer,
        at_most=q.at_most,
        plausible=q.plausible,
        choices=q.choices,
        default_choice=q.default_choice,
        boolean=q.boolean,
        neutral=q.neutral,
        choice_list=q.choice_list,
        structural=q.structural,
        nonnegative=q.nonnegative,
        requires=tuple(q.requires),
        says=q.says,
        on_false=q.on_false,
        regime=q.regime,
        per=q.per,
        deps=tuple(d.name for d in q.dependencies if d.kind != Kind.CONSTANT),
    )
    if q.kind == Kind.CONSTANT:
        return Spec(**common, value=q.value)
    common["latex"] = {m: latex(q, frozenset(), m) for m in MODES}
    if q.kind == Kind.INPUT:
        if q.expr is None:
            return Spec(**common)
        if not q.has_rule:
            return Spec(**common, default=float(lowered(q)), default_text=default_text(q))
        return Spec(
            **common,
            default="rule",
            default_text=default_text(q),
            formula={m: text(q, frozenset(), m) for m in MODES},
            code={m: function_name(q.name, m, rule=True) for m in _modes(q)},
        )
    out = dict(
        common,
        opened=frozenset(bypassed(q)),
        formula={m: text(q, frozenset(), m) for m in MODES},
        formula_for=structural_texts(q),
        latex_for=structural_latex(q),
        where=_where(q),
        code={m: function_name(q.name, m) for m in _modes(q)},
    )
    if q.derivation is not None:
        eq = q.derivation
        sides = [shown(to_mode(side, BOUND)) for side in (eq.lhs, eq.rhs)]
        out.update(
            equation=f"{sympy.sstr(sides[0])} = {sympy.sstr(sides[1])}, solved for {q.unknown}",
            equation_latex=tuple(sympy.latex(side, symbol_names=symbol_names()) for side in sides),
            unknown=q.unknown.name,
            regimes=tuple(tuple(r) for r in regime_texts(q, frozenset(), BOUND, defaults().get(q.per))),
            regimes_for={
                f"{q.per}={c}": regime_texts(q, frozenset(), BOUND, c)
                for c in (REGISTRY.get(q.per).choices if q.per else ())
                if c not in q.unsolved
            },
        )
    return Spec(**out)


def _where(q: Quantity) -> dict[str, list]:
    """Per mode, a long formula's short form with its common parts named (``x1 = ...``); none when short."""
    out = {}
    for m in MODES:
        form = short_form(shown(formula(q, frozenset(), m)))
        if form is not None:
            out[m] = [form[0], [list(p) for p in form[1]]]
    return out


def defaults() -> dict[str, str]:
    """The default structure: the choice of each structural input when a model does not say (dense, gqa)."""
    return {q.name: q.default_choice for q in REGISTRY if q.structural}


def regime_texts(q: Quantity, keep: frozenset[str], mode: str, choice: str | None = None) -> list[list[str]]:
    """``[closed form, holds when]`` of each regime of a solved threshold; one solved per structural choice
    gives the regimes of ``choice`` (none when that choice's value is given, not solved)."""
    eq = q.derivation
    if q.per is None:
        found = regimes(eq, q.unknown, keep, largest=q.largest)
    elif choice in q.unsolved:
        return []
    else:
        found = regimes(eq, q.unknown, keep, ((q.per, choice),), q.largest)
    return [[sympy.sstr(shown(to_mode(r.root, mode))), r.text] for r in found]


def structural_key(mode: str, choices: dict[str, str]) -> str:
    """``bound|mlp=dense``: how texts that depend on a model's structure are filed."""
    return "|".join([mode, *(f"{k}={v}" for k, v in sorted(choices.items()))])


def structural_texts(q: Quantity, pins: frozenset[str] = frozenset()) -> dict[str, str]:
    """``q``'s formula text for each structural choice it selects on (a dense model reads the dense formula)."""
    keys = sorted(
        {
            sel.key.name
            for m in MODES
            for sel in formula(q, pins, m).atoms(Select)
            if REGISTRY.get(sel.key.name).structural
        }
    )
    if not keys:
        return {}
    out = {}
    for combo in itertools.product(*(REGISTRY.get(k).choices for k in keys)):
        choices = dict(zip(keys, combo, strict=True))
        for m in MODES:
            out[structural_key(m, choices)] = sympy.sstr(shown(resolve(formula(q, pins, m), choices)))
    return out


def structural_latex(q: Quantity) -> dict[str, str]:
    """``symbol = formula`` in LaTeX (bound mode) for each structural choice ``q`` selects on."""
    keys = sorted(
        {sel.key.name for sel in formula(q, frozenset(), BOUND).atoms(Select) if REGISTRY.get(sel.key.name).structural}
    )
    out = {}
    for combo in itertools.product(*(REGISTRY.get(k).choices for k in keys)) if keys else ():
        choices = dict(zip(keys, combo, strict=True))
        expr = shown(resolve(formula(q, frozenset(), BOUND), choices))
        out[structural_key(BOUND, choices)] = f"{q.display} = {sympy.latex(expr, symbol_names=symbol_names())}"
    return out


def derivation(key: str) -> tuple[dict, str]:
    """The cache of the registry as it is: the record (JSON-ready data) and the functions' source."""
    specs, functions = [], []
    for q in REGISTRY:
        s = record(q)
        for mode, fname in s.code.items():
            functions.append(function_source(fname, lowered(q, frozenset(), mode)))
        if s.code and ESTIMATE not in s.code:
            s.code[ESTIMATE] = s.code[BOUND]  # the same formula in both modes
        specs.append(s)
    closed = {q.name: sympy.srepr(q.expr) for q in REGISTRY if q.derivation is not None}
    record_ = {
        "format": store.FORMAT,
        "key": key,
        "groups": [(g.name, g.title) for g in model.GROUPS],
        "specs": [s.to_data() for s in specs],
        "closed_forms": closed,
        "count": len(specs),
        "complete": True,
    }
    source = "\n".join(
        [
            '"""The derivation cache\'s functions: written by symroof.derive; do not edit."""',
            "# ruff: noqa",
            f"KEY = {key!r}",
            "",
            *functions,
            "COMPLETE = True",
            "",
        ]
    )
    return record_, source


def table_of_registry(key: str, write: bool) -> Table:
    """Derive the registry's table now; with ``write``, keep it in the user cache for later runs."""
    started = time.monotonic()
    if write:
        store.say("deriving the model's formulas once for this version (sympy; takes a few seconds) ...")
    record_, source = derivation(key)
    where = store.save(key, record_, source) if write else None
    module = None
    if where is not None:
        found = store.load(key)
        if found is not None:
            module = found.module
    if module is None:  # nothing writable (a read-only home), or a live registry: work from memory
        module = store.functions_module(source, f"symroof_derived_{re.sub(r'[^0-9a-z]', '_', key[:20])}")
    out = store.table_from(record_, module)
    if out is None:
        raise RuntimeError("internal error: the freshly derived model is incomplete")
    if write:
        store.say(
            f"derived {len(out)} quantities in {time.monotonic() - started:.1f} s"
            + (f"; cached in {where}" if where is not None else "; nothing writable, kept in memory")
        )
    return out


def ship(base: Path) -> Path:
    """Derive the model of these sources into ``base/model-<key>/`` (what a built wheel ships), read it back
    whole, and return its folder; an error when it cannot be written or read back."""
    want = store.key()
    record_, source = derivation(want)
    where = store.save(want, record_, source, base=base)
    if where is None or store.table_from(record_, store.functions_module(source, "symroof_shipped")) is None:
        raise RuntimeError(f"the derivation could not be written whole into {base}")
    return where


def main(argv: list[str] | None = None) -> int:
    """``python -m symroof.derive [--ship DIR]``: derive the cache again for this version (or into ``DIR``)."""
    args = argparse.ArgumentParser(prog="python -m symroof.derive", description=main.__doc__)
    args.add_argument("--ship", type=Path, metavar="DIR", help="write the derivation under DIR (the wheel's build)")
    ship_to = args.parse_args(argv).ship
    if ship_to is not None:
        print(ship(ship_to), file=sys.stderr)
        return 0
    want = store.key()
    store.load.cache_clear()
    table_of_registry(want, write=True)
    print(store.folder(want), file=sys.stderr)
    return 0
