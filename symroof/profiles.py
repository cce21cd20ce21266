"""Engine profiles: how vLLM, SGLang and TensorRT-LLM behave by default, one TOML file each (``--engine``).

A profile gives the engine inputs of :mod:`symroof.model.engine` (CPU time per
step and per sequence, API time, batch caps, the memory fraction and what it is
a share of), each with its unit and source, plus what the profile was fitted
on and its residual. Defaults that depend on the chip's memory (vLLM's batch
caps, SGLang's chunk and graph sizes) are given per tier: a ``[[tier]]`` table
applies to chips with less HBM than its ``below``. In bound mode every engine
input takes its neutral value, whatever the profile says.
"""

from __future__ import annotations

import sys
from functools import cache
from importlib import resources
from pathlib import Path

from . import catalog
from .core.errors import CatalogError, InputError, suggest
from .core.values import parse_value
from .derive import table

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover
    pass

#: Keys a profile may set beyond the engine group: the per-step overhead of estimate mode.
EXTRA_KEYS = ("step_overhead",)
META_KEYS = ("engine", "name", "version", "date", "fitted_on", "residual", "notes")


def folder() -> Path:
    return Path(str(resources.files(__package__) / "engines"))


def names() -> list[str]:
    """The engines symroof ships a profile for."""
    return sorted(p.stem for p in folder().glob("*.toml"))


def keys() -> set[str]:
    """Quantities a profile may set."""
    return {s.name for s in table() if s.group == "engine"} | set(EXTRA_KEYS)


def load(ref: str, hardware: catalog.Entry | None = None) -> catalog.Entry:
    """The profile ``ref`` (an engine name or a TOML path) as an entry of kind ``engine``, its tiers applied for
    ``hardware``."""
    if ref.endswith(".toml") or "/" in ref:
        path = Path(ref)
        if not path.is_file():
            raise CatalogError(f"{ref}: no such engine profile")
    else:
        path = folder() / f"{ref}.toml"
        if not path.is_file():
            raise InputError(f"unknown engine {ref!r}{suggest(ref, names())}; known: {', '.join(names())}")
    stat = path.stat()
    base, tiers = _read(str(path), stat.st_mtime_ns, stat.st_size)
    values, sources = dict(base["values"]), dict(base["sources"])
    hbm = hardware.values.get("hbm_capacity") if hardware is not None else None
    for below, tier_values, tier_sources in sorted(tiers, key=lambda t: -t[0]):
        if hbm is not None and hbm < below:  # the smallest tier the chip is below is applied last
            values.update(tier_values)
            sources.update(tier_sources)
    return catalog.Entry(base["engine"], base["name"], "engine", str(path), values, sources, dict(base["notes"]))


@cache
def _read(where: str, mtime: int, size: int) -> tuple[dict, list]:
    """(the profile, [(below in bytes, values, sources), ...]); read again only when the file changes."""
    data = catalog.read_toml(Path(where), ("engine", "name"), "engine profile")
    unknown = sorted(set(data) - set(META_KEYS) - {"values", "tier"})
    if unknown:
        raise CatalogError(f"{where}: unknown key {unknown[0]!r}{suggest(unknown[0], [*META_KEYS, 'values', 'tier'])}")
    if not isinstance(data.get("values"), dict) or not data["values"]:
        raise CatalogError(f"{where}: no [values] table")
    values, sources = _values(data["values"], where, "values")
    tiers = []
    for i, tier in enumerate(data.get("tier", [])):
        if not isinstance(tier, dict) or not isinstance(tier.get("below"), str):
            raise CatalogError(f"{where}: tier {i + 1} needs below = \"<memory> GB\" and values")
        below = parse_value(table().get("hbm_capacity"), tier["below"], f"{where}: tier {i + 1} below")
        rest = {k: v for k, v in tier.items() if k != "below"}
        tiers.append((below, *_values(rest, where, f"tier {i + 1}")))
    notes = {k: str(data.get(k, "")) for k in META_KEYS if k not in ("engine", "name")}
    base = {"engine": data["engine"], "name": data["name"], "values": values, "sources": sources, "notes": notes}
    return base, tiers


def _values(raw: dict, where: str, section: str) -> tuple[dict, dict]:
    allowed = keys()
    specs = table()
    values, sources = {}, {}
    for key, entry in raw.items():
        if key not in allowed:
            raise CatalogError(f"{where}: unknown key {section}.{key}{suggest(key, allowed)}")
        values[key], sources[key] = catalog.sourced_value(specs.get(key), entry, f"{where}: {section}.{key}")
    return values, sources
