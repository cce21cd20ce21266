"""Cells without a number say why in words, never as a spreadsheet error (#N/A, #DIV/0!).

An input nobody has published for the chip is a blank input cell ("not published; enter a value"). Every
formula that can reach it reads it through ``ISBLANK``, so a blank never counts as a silent zero, and shows
which input it needs until a planner types one. A formula that is not finite here (a threshold whose
denominator vanishes on one chip), or that the model does not derive for this chip (an expert-parallel
threshold on a torus), says so; so does every formula computed from such a cell, since a spreadsheet cannot
compute with a sentence. Where a cell has a number, it is the number symroof computes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..declare import Kind
from ..derive.declared import REGISTRY
from ..evaluation import FORMULA, RULE, Evaluation

NOT_PUBLISHED = "not published; enter a value"
NOT_FINITE = "not finite here"
DOES_NOT_APPLY = "does not apply here"


def blank_ref(ref: str) -> str:
    """How a formula reads a blank input cell: an error (caught by the cell's note) until it holds a value."""
    return f"IF(ISBLANK({ref}),NA(),{ref})"


def blank_notes(ev: Evaluation, inputs: Iterable[str]) -> dict[str, str]:
    """{input: its note} for the placed input cells ``ev`` has no value for: the catalog's "not published"
    ones, and those the chip's catalog entry lacks altogether."""
    out = {}
    for name in inputs:
        if name in ev.unpublished:
            out[name] = NOT_PUBLISHED
        elif name in ev.unavailable:
            out[name] = f"none for {ev.hardware.id or 'this chip'}; enter a value"
    return out


def formula_cells(ev: Evaluation, names: Iterable[str]) -> list[str]:
    """The ``names`` whose cells hold a formula: derived quantities, and inputs that follow a default rule."""
    return [n for n in names if (origin := ev.provenance.get(n, FORMULA)) == RULE
            or (origin == FORMULA and REGISTRY.get(n).kind == Kind.DERIVED)]


def reasons(ev: Evaluation, formulas: Iterable[str], blanks: Mapping[str, str],
            upstream: Mapping[str, str] | None = None) -> dict[str, str]:
    """{quantity: the sentence its formula cell shows when it has no number}, for every formula cell (the
    placed ``formulas``) that can lack one; the others are left as they are. ``upstream``: cells elsewhere
    that can hold a sentence (the bound's, which the estimate column reads)."""
    upstream = upstream or {}
    specs = ev.table.specs
    formulas = [n for n in formulas if n in specs]
    reached: dict[str, frozenset[str]] = {}

    def needs(name: str) -> frozenset[str]:
        """The blank inputs ``name``'s formula reaches."""
        if name not in reached:
            reached[name] = frozenset()  # a cycle (none expected) ends here
            s = specs[name]
            found = {name} if name in blanks else set()
            if name not in blanks:
                for d in (*s.deps, *s.requires):
                    if d in specs and specs[d].kind != "constant":
                        found |= needs(d)
            reached[name] = frozenset(found)
        return reached[name]

    out: dict[str, str] = {}
    for name in formulas:
        if needs(name):
            inputs = sorted(needs(name))
            notes = {blanks[n] for n in inputs}
            note = notes.pop() if len(notes) == 1 else "enter a value"
            out[name] = f"needs {', '.join(inputs)}: {note}"
        elif specs[name].solved or name in ev.nonfinite or name in ev.unavailable:
            out[name] = NOT_FINITE
    while True:  # what is computed from a cell that can hold a sentence can hold one too
        more = {n: NOT_FINITE for n in formulas if n not in out
                and any(d in out or d in upstream for d in (*specs[n].deps, *specs[n].requires))}
        if not more:
            return out
        out.update(more)

