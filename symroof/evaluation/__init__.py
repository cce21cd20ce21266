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
from .results import Readout

__all__ = ["BOUND", "CALIBRATION", "CATALOG", "CHOICE", "ESTIMATE", "FORMULA", "NEUTRAL", "RULE", "SET", "VALUE",
           "Evaluation", "MissingInput", "Unavailable", "evaluate", "load_calibration", "parse_overrides",
           "resolve_input"]


class Evaluation(Readout, Computed):
    """Every quantity of symroof for one model, chip and set of overrides, in one mode."""


def evaluate(model: str | catalog.Entry, hardware: str | catalog.Entry,
             overrides: Mapping[str, Any] | None = None, *, estimate: bool = False,
             calibration: str | Any | None = None, engine: str | catalog.Entry | None = None,
             **kwargs: Any) -> Evaluation:
    """Evaluate every quantity for a model and chip (ids, TOML paths or loaded entries).

    Overrides set inputs or pin derived quantities: numbers are read in the
    quantity's reporting unit, text may carry a unit (``"820 GB/s"``), pint
    quantities are converted, dtypes are given by name. ``estimate=True``
    adds the chip's calibrated efficiencies and overheads (its shipped
    calibration, or the generic one); ``calibration=PATH`` uses a file from
    ``symroof calibrate`` (and implies the estimate). ``engine`` (``"vllm"``, ``"sglang"``, ``"trtllm"`` or a
    loaded profile) gives the estimate an engine's caps and CPU times; the bound has none.

    >>> evaluate("llama-3-70b", "tpu-v5e", batch_size=32, weight_dtype="int8")["step_time"]
    """
    m = model if isinstance(model, catalog.Entry) else catalog.load("model", model)
    h = hardware if isinstance(hardware, catalog.Entry) else catalog.load("hardware", hardware)
    merged = {**(overrides or {}), **kwargs}
    cal = load_calibration(h, calibration) if (estimate or calibration is not None) else None
    profile = profiles.load(engine, h) if isinstance(engine, str) else engine
    return Evaluation(m, h, parse_overrides(merged), mode=ESTIMATE if cal is not None else BOUND, calibration=cal,
                      engine=profile)
