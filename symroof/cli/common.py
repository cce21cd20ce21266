"""Helpers shared by the commands: --set parsing, formatting, the operating point, warnings."""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence

from .. import catalog, profiles
from ..core.errors import InputError
from ..derive import table
from ..evaluation import Evaluation, load_calibration, parse_overrides


def parse_sets(items: Sequence[str] | None, option: str = "--set") -> dict[str, str]:
    """``["NAME=VALUE", ...]`` as a dict, refusing malformed items, unknown names and duplicates."""
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise InputError(f"{option} {item!r}: expected NAME=VALUE, like batch_size=32")
        table().get(name)
        if name in out:
            raise InputError(f"{option} {name} is given twice ({out[name]!r} and {value!r}); give it once")
        out[name] = value
    return out


#: An example value per option, for the sentence refusing it empty.
EXAMPLES = {"--rate": "2000/s", "--ttft": "2s", "--tpot": "33ms", "--allow-dtype": "fp8,fp4", "--compare": "h100,b200",
            "--input": "3000", "--output": "500", "--rent": "spot", "--ttft-percentile": "99",
            "--contexts": "2048,8192", "--output-tokens": "1024", "--engine": "vllm",
            "--template": "finance"}


def refuse_existing(output: str | None, force: bool) -> None:
    """No file is replaced without ``--force`` (issue 31): refused before any work, in one sentence."""
    from pathlib import Path

    if output is not None and Path(output).exists() and not force:
        raise InputError(f"-o {output}: the file exists; add --force to replace it")


def refuse_empty(given: dict[str, str | None]) -> None:
    """An option given as empty text ("") would read as not given and fall back to its default: refuse it."""
    for option, value in given.items():
        if value is not None and not value.strip():
            raise InputError(f"{option} is empty; give a value, like {EXAMPLES.get(option, '...')}, or leave the "
                             "option out")


def fmt(value) -> str:
    return value if isinstance(value, str) else f"{value:.6g}"


def wrapped(text: str, width: int = 240) -> str:
    """``text`` folded at spaces into lines of at most ``width`` characters, the later ones indented."""
    return "\n".join(textwrap.wrap(text, width, subsequent_indent="  ", break_long_words=True,
                                    break_on_hyphens=False)) or text


def warn(lines: Sequence[str]) -> None:
    """Print each warning on standard error, one line each."""
    for w in lines:
        print(f"symroof: warning: {w}", file=sys.stderr)


def load_pair(model: str, hardware: str):
    return catalog.load("model", model), catalog.load("hardware", hardware)


def evaluation(model, hardware, args: argparse.Namespace):
    """The Evaluation the options ask for: --set values, and --estimate or --calibration."""
    mode, calibration = mode_of(args)
    cal = load_calibration(hardware, calibration) if mode == "estimate" and hardware.id else None
    engine = getattr(args, "engine", None)
    if engine is not None and mode != "estimate":
        raise InputError(f"--engine {engine}: the bound has no engine (no CPU time, no caps but HBM); add --estimate")
    profile = profiles.load(engine, hardware) if engine is not None else None
    return Evaluation(model, hardware, parse_overrides(parse_sets(args.set), "--set "), mode=mode, calibration=cal,
                      engine=profile)


def operating_point(args: argparse.Namespace, name: str):
    """The evaluation for ``solve``/``sensitivity``: MODEL HARDWARE, or one of them when ``name`` needs only it.

    When the quantity depends on the model (or the chip) alone, the other may be
    left out; nothing of the other is then used or named.
    """
    refs = [r for r in (args.model, args.hardware) if r]
    if not refs:
        return None
    if len(refs) == 2:
        model, hardware = load_pair(refs[0], refs[1])
    else:
        ref = refs[0]
        if ref in catalog.known("model"):
            kind = "model"
        elif ref in catalog.known("hardware") or ref.endswith(".toml"):
            kind = "hardware"
        else:
            raise InputError(f"{ref!r} is neither a catalog model nor a chip; give MODEL HARDWARE")
        other = "hardware" if kind == "model" else "model"
        given = catalog.load(kind, ref)
        model, hardware = (given, catalog.empty("hardware")) if kind == "model" else (catalog.empty("model"), given)
        ev = evaluation(model, hardware, args)
        if name in ev.unavailable:  # it needs what was not given (without a model: a dense one's structure)
            t = table()
            needs = sorted(d for d in reachable(name) if t.specs[d].group == other and d in ev.unavailable
                           and t.specs[d].kind == "input")
            raise InputError(f"{name} depends on the {other} ({', '.join(needs) or 'its values'}): "
                             "give MODEL HARDWARE")
        return ev
    return evaluation(model, hardware, args)


def reachable(name: str) -> set[str]:
    """Names ``name`` depends on, directly or through formulas and default rules."""
    t = table()
    out: set[str] = set()
    todo = [name]
    while todo:
        n = todo.pop()
        if n in out:
            continue
        out.add(n)
        todo.extend(t.specs[n].deps)
    return out


def mode_of(args: argparse.Namespace) -> tuple[str, str | None]:
    """(mode, calibration file) the options ask for."""
    if getattr(args, "calibration", None):
        return "estimate", args.calibration
    return ("estimate" if getattr(args, "estimate", False) else "bound"), None
