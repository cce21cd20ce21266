"""The engine an answer is priced with, and the settings each mode takes: the bound has no engine, so the
estimate's engine settings and efficiencies are the estimate's alone (serve, plan, the search, the workbooks)."""

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


def bound_note(settings: Mapping[str, Any]) -> list[str]:
    """The one sentence that says which settings the bound left to the estimate (none: no sentence)."""
    names = estimate_only(settings)
    return [f"{', '.join(names)} set for the estimate only: the bound is the idealised engine (no overheads, no "
            "caps but HBM)"] if names else []
