"""One result shape for every analysis: a mode type, reading a value in a mode, one frame layout (issue 29).

``evaluate`` answers in one mode (:class:`~symroof.evaluation.Evaluation`); ``serve`` and ``plan`` answer in
both, side by side (:class:`Pair`, which :class:`symroof.serve.Served` and :class:`symroof.planner.Plan`
derive from). Every result reads the same way: ``value(name, mode=None)`` is a pint quantity (a dtype's
name for a choice), ``magnitude(name, mode=None)`` the number in the quantity's reporting unit, and
``mode=None`` means the mode the analysis was called with (``mode="bound"`` unless asked otherwise, for
every analysis). ``to_frame()`` has one layout: one row per quantity, a value column per mode.

Every analysis also spells its keywords the same way (``overrides=``, ``mode=``, ``calibration=``);
:func:`refuse_other_spellings` turns another analysis's spelling into an :class:`InputError` naming the
right keyword.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args

from ..core.errors import InputError
from .display import frame, html_table

#: The two modes of every analysis: the chapter's roofline, and the chip's calibration with an engine profile.
Mode = Literal["bound", "estimate"]
MODES: tuple[Mode, ...] = get_args(Mode)
#: The mode an analysis answers in when none is given, and so the mode ``value()`` reads by default.
DEFAULT_MODE: Mode = "bound"

#: Keywords another analysis (or an earlier version) spells differently -> the one every analysis takes.
SPELLINGS = {
    "settings": "overrides", "override": "overrides", "sets": "overrides", "set": "overrides",
    "estimate": "mode", "modes": "mode",
    "calibration_file": "calibration", "calibrations": "calibration", "cal": "calibration",
}


def check_mode(mode: Any, where: str = "mode") -> Mode:
    """``mode`` if it is ``"bound"`` or ``"estimate"``; an :class:`InputError` naming both otherwise."""
    if mode not in MODES:
        raise InputError(f"{where}={mode!r}: choose {' or '.join(repr(m) for m in MODES)}")
    return mode


def refuse_other_spellings(analysis: str, given: Mapping[str, Any], hints: Mapping[str, str] | None = None) -> None:
    """Refuse keywords ``analysis`` does not take: one another analysis spells differently is named with the
    right keyword (``hints`` add what this analysis says about one); any other is Python's TypeError."""
    for name in given:
        if name in (hints or {}):
            raise InputError(f"{analysis}() takes no {name}=: {hints[name]}")
        if name in SPELLINGS:
            right = SPELLINGS[name]
            raise InputError(f"{analysis}() takes {right}=, not {name}= (evaluate, serve, plan, frontier and sweep "
                             f"all spell it {right}=)")
        raise TypeError(f"{analysis}() got an unexpected keyword argument {name!r}")


class Pair:
    """A result in both modes, side by side: ``evaluations`` maps each mode to its
    :class:`~symroof.evaluation.Evaluation`; ``mode`` is the mode the analysis was called with."""

    evaluations: dict[str, Any]
    mode: Mode
    #: What ``repr`` shows, in both modes (a subclass names its answer's main quantities).
    headline: tuple[str, ...] = ()

    def shown(self) -> Sequence[str] | None:
        """Quantities the notebook table shows (None: every quantity); a subclass narrows it."""
        return None

    def title(self) -> str:
        ev = self.evaluations[self.mode]
        return f"{ev.model.name} on {ev.hardware.name}"

    def evaluation(self, mode: Mode | None = None):
        """The :class:`~symroof.evaluation.Evaluation` of ``mode`` (default: the mode the analysis was called
        with)."""
        return self.evaluations[check_mode(self.mode if mode is None else mode)]

    def value(self, name: str, mode: Mode | None = None):
        """``name`` in ``mode`` as a pint quantity in its reporting unit (a dtype's name for a choice)."""
        return self.evaluation(mode).quantity(name)

    def magnitude(self, name: str, mode: Mode | None = None) -> Any:
        """``name`` in ``mode`` as a number in its reporting unit (a dtype's name for a choice)."""
        return self.evaluation(mode).magnitude(name)

    def to_frame(self, names: Sequence[str] | None = None):
        """One row per quantity: symbol, a value column per mode (bound, estimate), unit, kind, group and
        description (a pandas DataFrame; units also in ``attrs["units"]``)."""
        return frame(self.evaluations, names)

    def _repr_html_(self) -> str:
        """Jupyter's rich display: the quantities, bound and estimate side by side."""
        return html_table(self.evaluations, self.shown(), title=self.title())

    def __repr__(self) -> str:
        """The title, the mode ``value()`` reads, and the headline quantities in both modes, one line each."""
        lines = [f"<{type(self).__name__} {self.title()}; value() reads mode={self.mode!r}"]
        for name in self.headline:
            cells = ", ".join(f"{m} {_short(ev, name)}" for m, ev in self.evaluations.items())
            lines.append(f"  {name}: {cells}")
        return "\n".join(lines) + ">"


def _short(ev, name: str) -> str:
    """``name``'s value in a few characters, with its unit (``n/a`` when unavailable)."""
    if name in ev.unavailable or name not in ev.base:
        return "n/a"
    s, value = ev.spec(name), ev.magnitude(name)
    if s.categorical or isinstance(value, str):
        return str(value)
    return f"{float(value):.4g}{' ' + s.unit_short if s.unit_short else ''}"
