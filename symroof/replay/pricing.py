"""The price of one engine step for the replay: the declared ``engine_step_time``, over arrays, without sympy.

The replay never writes the step formula again. It takes one evaluation of the workload (a mode, its engine
and calibration) and recomputes, through the compiled functions of the derivation cache, only the quantities
between the step's two inputs (``step_sequences``, ``step_prefill_tokens``) and ``engine_step_time``; every
other value (the step's coefficients, its mean context, the caps) is the evaluation's own. A pinned quantity
of that chain keeps its pinned value, as it does in the evaluation; where a pin re-derives a formula of the
chain, each call falls back to a whole :class:`~symroof.evaluation.Evaluation` over the arrays (slower, the
same numbers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy

from ..evaluation import Evaluation

STEP, INPUTS = "engine_step_time", ("step_sequences", "step_prefill_tokens")


class _Overlay(Mapping):
    """What a compiled function reads: the chain's values over the evaluation's."""

    def __init__(self, base: Mapping[str, Any], top: dict[str, Any]) -> None:
        self.base, self.top = base, top

    def __getitem__(self, name: str) -> Any:
        if name in self.top:
            return self.top[name]
        value = self.base[name]
        return numpy.float64(value) if isinstance(value, float | int) else value

    def __iter__(self):
        return iter(self.base)

    def __len__(self) -> int:
        return len(self.base)


class StepPrice:
    """``engine_step_time`` (seconds) for decode sequences ``B`` and prefill tokens ``P`` (numbers or arrays).

    Decode-only steps are looked up in a row computed once; other steps are remembered by (B, P)."""

    def __init__(self, ev: Evaluation, most_sequences: int) -> None:
        self.ev = ev
        specs = ev.table.specs
        moving: dict[str, bool] = {n: True for n in INPUTS}

        def moves(name: str) -> bool:  # whether ``name`` depends on the step's inputs
            if name not in moving:
                s = specs[name]
                moving[name] = s.kind == "derived" and name not in ev.overrides and any(moves(d) for d in s.deps)
            return moving[name]

        order: list[str] = []

        def visit(name: str) -> None:
            if name in order or name in INPUTS or not moves(name):
                return
            for d in specs[name].deps:
                visit(d)
            order.append(name)

        visit(STEP)
        self.chain = order
        self.functions = [(n, ev.table.function(n, ev.mode)) for n in order]
        self.whole = bool(ev.rules) or any(specs[n].opened & ev.pins for n in order)
        self.memo: dict[tuple[float, float], float] = {}
        self.row = self(numpy.arange(most_sequences + 1, dtype=float), numpy.zeros(most_sequences + 1))

    def __call__(self, sequences: Any, prefill: Any) -> Any:
        """The step time of every (B, P) given, vectorised."""
        if self.whole:
            ev = self.ev
            over = Evaluation(ev.model, ev.hardware, {**ev.overrides, INPUTS[0]: numpy.asarray(sequences, float),
                                                      INPUTS[1]: numpy.asarray(prefill, float)},
                              mode=ev.mode, calibration=ev.calibration, engine=ev.engine, rules=ev.rules,
                              sources=ev.sources)
            return over.base[STEP]
        top: dict[str, Any] = {INPUTS[0]: sequences, INPUTS[1]: prefill}
        values = _Overlay(self.ev.base, top)
        with numpy.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for name, function in self.functions:
                top[name] = function(values)
        return top[STEP]

    def step(self, sequences: int, prefill: float) -> float:
        """One step's time (seconds)."""
        if prefill == 0 and sequences < len(self.row):
            return float(self.row[sequences])
        key = (sequences, prefill)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = float(self(numpy.float64(sequences), numpy.float64(prefill)))
        return found
