"""Evaluating the model for one model, chip and scenario, from the derivation cache (no sympy).

:mod:`.inputs` says where each input's value comes from, :mod:`.compute`
computes every quantity through the compiled functions, :mod:`.results` reads
the values out (units, feasibility, warnings, JSON). :class:`Evaluation` is
the three together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import catalog, profiles
from ..core.errors import InputError
from .compute import Computed, Unavailable
from .inputs import (
    BOUND,
    CALIBRATION,
    CATALOG,
    CHOICE,
    ESTIMATE,
    FORMULA,
    NEUTRAL,
    RULE,
    SET,
    VALUE,
    MissingInput,
    load_calibration,
    parse_overrides,
    resolve_input,
)
from .pair import DEFAULT_MODE, MODES, SPELLINGS, Mode, Pair, _short, check_mode, refuse_other_spellings
from .results import Readout

__all__ = ["BOUND", "CALIBRATION", "CATALOG", "CHOICE", "DEFAULT_MODE", "ESTIMATE", "FORMULA", "MODES", "NEUTRAL",
           "RULE", "SET", "VALUE", "Evaluation", "MissingInput", "Mode", "Pair", "Unavailable", "check_mode",
           "evaluate", "load_calibration", "parse_overrides", "refuse_other_spellings", "resolve_input"]


class Evaluation(Readout, Computed):
    """Every quantity of symroof for one model, chip and set of overrides, in one mode.

    Read as every result reads (:mod:`.pair`): ``value(name)`` a pint quantity, ``magnitude(name)`` a number
    in the reporting unit, ``to_frame()`` one row per quantity; ``mode=`` may name its own mode only.
    """

    def _own(self, mode: str | None) -> None:
        if mode is not None and check_mode(mode) != self.mode:
            raise InputError(f"this evaluation is the {self.mode}; evaluate(..., mode={mode!r}) gives the {mode} "
                             "(serve and plan give both side by side)")

    def value(self, name: str, mode: Mode | None = None):
        """``name`` as a pint quantity in its reporting unit (a dtype's name for a choice)."""
        self._own(mode)
        return self.quantity(name)

    def magnitude(self, name: str, mode: Mode | None = None) -> Any:
        """``name`` as a number in its reporting unit (a dtype's name for a choice)."""
        if mode is not None:
            self._own(mode)
        return Readout.magnitude(self, name)

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={_short(self, n)}" for n in ("step_time", "tokens_per_second_per_chip", "n_chips")
                          if n in self.base)
        return f"<Evaluation {self.model.name} on {self.hardware.name}: mode={self.mode!r}; {shown}>"


def evaluate(model: str | catalog.Entry, hardware: str | catalog.Entry,
             overrides: Mapping[str, Any] | None = None, *, mode: Mode | None = None, estimate: bool = False,
             calibration: str | Any | None = None, engine: str | catalog.Entry | None = None,
             **kwargs: Any) -> Evaluation:
    """Evaluate every quantity for a model and chip (ids, TOML paths or loaded entries).

    Overrides set inputs or pin derived quantities: numbers are read in the
    quantity's reporting unit, text may carry a unit (``"820 GB/s"``), pint
    quantities are converted, dtypes are given by name; keywords that name
    quantities are overrides too. ``mode="estimate"`` (or ``estimate=True``)
    adds the chip's calibrated efficiencies and overheads (its shipped
    calibration, or the generic one); ``calibration=PATH`` uses a file from
    ``symroof calibrate`` (and implies the estimate). ``engine`` (``"vllm"``, ``"sglang"``, ``"trtllm"`` or a
    loaded profile) gives the estimate an engine's caps and CPU times; the bound has none.

    >>> evaluate("llama-3-70b", "tpu-v5e", batch_size=32, weight_dtype="int8")["step_time"]
    """
    m = model if isinstance(model, catalog.Entry) else catalog.load("model", model)
    h = hardware if isinstance(hardware, catalog.Entry) else catalog.load("hardware", hardware)
    refuse_other_spellings("evaluate", {k: v for k, v in kwargs.items() if k in SPELLINGS})
    if mode is not None and check_mode(mode) == BOUND and (estimate or calibration is not None):
        raise InputError("mode='bound' with " + ("estimate=True" if estimate else "a calibration")
                         + ": the bound has no calibration; give mode='estimate'")
    estimate = estimate or mode == ESTIMATE
    merged = {**(overrides or {}), **kwargs}
    cal = load_calibration(h, calibration) if (estimate or calibration is not None) else None
    profile = profiles.load(engine, h) if isinstance(engine, str) else engine
    return Evaluation(m, h, parse_overrides(merged), mode=ESTIMATE if cal is not None else BOUND, calibration=cal,
                      engine=profile)
