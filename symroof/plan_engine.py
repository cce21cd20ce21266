"""What a plan evaluates with: the engine profile it prices decode replicas through, and the settings each mode
takes (the bound has no engine, so the estimate's engine settings are the estimate's alone)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import catalog, profiles
from .derive import table

#: The engine a plan prices its decode replicas with (its CPU times, caps and memory rule; neutral in bound mode).
ENGINE = "vllm"


def engine_of(hardware: catalog.Entry) -> catalog.Entry:
    """The engine profile a plan on ``hardware`` uses."""
    return profiles.load(ENGINE, hardware)


def estimate_only(settings: Mapping[str, Any]) -> list[str]:
    """The settings that are the estimate's engine or efficiencies (neutral in bound mode, which has no engine)."""
    specs = table().specs
    return sorted(n for n in settings if n in specs and specs[n].neutral is not None)


def for_mode(settings: Mapping[str, Any], mode: str) -> dict[str, Any]:
    """``settings`` as ``mode`` takes them: the bound leaves the estimate's engine settings out."""
    drop = set(estimate_only(settings)) if mode == "bound" else set()
    return {k: v for k, v in settings.items() if k not in drop}
