"""Helpers shared by the commands: --set parsing, formatting, the operating point."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import sympy

from .. import catalog
from ..errors import InputError
from ..evaluate import Evaluation, parse_overrides
from ..quantity import REGISTRY, shown
from ..symbolic import reachable
from ..units import unit_text


def parse_sets(items: Sequence[str] | None) -> dict[str, str]:
    """``["NAME=VALUE", ...]`` as a dict, refusing malformed items."""
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise InputError(f"--set {item!r}: expected NAME=VALUE, like batch_size=32")
        REGISTRY.get(name)
        out[name] = value
    return out


def short_unit(q) -> str:
    return f"{q.unit:~P}" if unit_text(q.unit) else ""


def fmt(value) -> str:
    return value if isinstance(value, str) else f"{value:.6g}"


def equation_text(q) -> str:
    """``lhs = rhs, solved for x`` of a solved quantity."""
    eq = q.derivation
    return f"{sympy.sstr(shown(eq.lhs))} = {sympy.sstr(shown(eq.rhs))}, solved for {q.unknown}"


def operating_point(args: argparse.Namespace, q) -> Evaluation | None:
    """The evaluation for ``solve``/``sensitivity``: MODEL HARDWARE, or one of them with the seed's other."""
    refs = [r for r in (args.model, args.hardware) if r]
    if not refs:
        return None
    if len(refs) == 2:
        model, hardware = catalog.load("model", refs[0]), catalog.load("hardware", refs[1])
    else:
        ref = refs[0]
        if ref in catalog.ids("model"):
            kind, other = "hardware", "tpu-v5e"
        elif ref in catalog.ids("hardware") or ref.endswith(".toml"):
            kind, other = "model", "llama-3-70b"
        else:
            raise InputError(f"{ref!r} is neither a catalog model nor a chip; give MODEL HARDWARE")
        needs = {d for d in reachable({q.symbol}) if REGISTRY.get(d).group == kind}
        if needs:
            raise InputError(f"{q.name} depends on the {kind} ({', '.join(sorted(needs))}): give MODEL HARDWARE")
        loaded = {kind: catalog.load(kind, other), ("model" if kind == "hardware" else "hardware"):
                  catalog.load("model" if kind == "hardware" else "hardware", ref)}
        model, hardware = loaded["model"], loaded["hardware"]
    return Evaluation(model, hardware, parse_overrides(parse_sets(args.set), "--set "))


SET_HELP = ("set an input or pin a derived quantity; a value may carry a unit ('hbm_bandwidth=820 GB/s'); "
            "dtypes by name (weight_dtype=int8). Repeatable.")


def add_set(parser: argparse.ArgumentParser, extra: str = "") -> None:
    """The ``--set NAME=VALUE`` option every command that evaluates shares."""
    parser.add_argument("--set", action="append", metavar="NAME=VALUE", help=SET_HELP + extra)
