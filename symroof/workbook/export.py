"""Writing workbooks: atomically, and never over a planner's edits without being told."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from .. import catalog
from ..errors import InputError, SymroofError
from ..evaluate import Evaluation, parse_overrides
from ..files import atomic_write, write_text_atomically
from . import template as templates
from .writer import build, cell_map, generated_inputs, meta

#: The catalog's featured pairs, exported by ``symroof export --all``.
FEATURED = [
    ("llama-3-70b", "tpu-v5e"), ("llama-3-70b", "tpu-v5p"), ("llama-3-70b", "h100"), ("llama-3-70b", "h200"),
    ("llama-3-8b", "tpu-v5e"), ("llama-3-405b", "tpu-v5e"),
]


class WorkbookEdited(SymroofError):
    """The workbook to be replaced holds a planner's edits."""


def default_path(model: str, hardware: str, template: str) -> Path:
    return Path(f"{Path(model).stem}_{Path(hardware).stem}_{template}.xlsx")


def current_inputs(path: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """(values now in the input cells, values as generated, metadata) of an existing symroof workbook."""
    try:
        wb = openpyxl.load_workbook(path)  # defusedxml guards the XML when installed
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, InvalidFileException) as exc:
        raise WorkbookEdited(f"{path}: exists and is not a readable workbook ({exc}); use --force to replace it") \
            from None
    try:
        cells = cell_map(wb)
        info = meta(wb)
    except SymroofError:
        raise WorkbookEdited(f"{path}: exists and is not a symroof workbook; use --force to replace it") from None
    generated = generated_inputs(wb)
    now = {}
    for c in cells:
        if c.kind in ("input", "rule"):
            now[c.name] = wb[c.sheet][c.cell].value
    return now, generated, info


def edits(now: Mapping[str, Any], generated: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs whose cells no longer hold what was generated (a rule cell typed over counts too)."""
    out = {}
    for name, value in now.items():
        if name in generated:
            if value != generated[name]:
                out[name] = value
        elif not (isinstance(value, str) and value.startswith("=")):
            out[name] = value  # a default rule replaced by a number
    return out


def write_atomically(wb, path: Path) -> None:
    """Save a workbook atomically: a crash leaves the old file intact."""
    atomic_write(path, wb.save)


def export(model: str, hardware: str, template: str = "engineering", overrides: Mapping[str, Any] | None = None,
           out: str | Path | None = None, force: bool = False, keep_inputs: bool = False) -> Path:
    """Write the workbook of ``model`` on ``hardware`` and return its path.

    Refuses to replace a workbook whose input cells were edited unless
    ``force`` (overwrite) or ``keep_inputs`` (carry the edited values over).
    """
    path = Path(out) if out is not None else default_path(model, hardware, template)
    if path.suffix.lower() != ".xlsx":
        raise InputError(f"{path}: a workbook is written as .xlsx")
    tpl = templates.load(template)
    m, h = catalog.load("model", model), catalog.load("hardware", hardware)
    raw = dict(overrides or {})
    if path.exists() and not force:
        now, generated, _ = current_inputs(path)
        changed = edits(now, generated)
        if changed and not keep_inputs:
            raise WorkbookEdited(
                f"{path}: input cells were edited ({', '.join(sorted(changed))}); use --keep-inputs to carry "
                "them into the new workbook or --force to overwrite them")
        if keep_inputs:
            for name, value in changed.items():
                raw.setdefault(name, value)
    ev = Evaluation(m, h, parse_overrides(raw, "--set " if not keep_inputs else f"{path}: "))
    if tpl.name == "finance" and "chip_price" in ev.unavailable:
        raise InputError(f"{h.id} has no chip_price in the catalog; the finance workbook needs one "
                         "(--set chip_price=...)")
    wb, _ = build(ev, tpl)
    write_atomically(wb, path)
    return path


def export_all(folder: str | Path = "sheets", progress=None) -> list[Path]:
    """The featured pairs: an engineering workbook each, and a finance one where the chip has a price."""
    folder = Path(folder)
    jobs = []
    for model, hardware in FEATURED:
        jobs.append((model, hardware, "engineering"))
        if "chip_price" in catalog.load("hardware", hardware).values:
            jobs.append((model, hardware, "finance"))
    paths = []
    for i, (model, hardware, tpl) in enumerate(jobs):
        paths.append(export(model, hardware, tpl, out=folder / default_path(model, hardware, tpl), force=True))
        if progress is not None:
            progress(i + 1, len(jobs))
    _readme(folder, jobs)
    return paths


def _readme(folder: Path, jobs) -> None:
    """``sheets/README.md``: what each generated workbook is."""
    lines = ["# Generated workbooks", "",
             "Written by `symroof export --all`; do not edit here (a test fails when they are stale).",
             "Each is live: change the blue input cells and every sheet recomputes in Excel or LibreOffice.",
             "Scenario: the catalog's defaults (bf16 weights, KV and FLOPs, batch 32, 8192-token context,",
             "the smallest power-of-two slice that holds parameters and KV).", "",
             "| file | model | chip | template |", "|---|---|---|---|"]
    for model, hardware, tpl in jobs:
        m, h = catalog.load("model", model), catalog.load("hardware", hardware)
        lines.append(f"| `{default_path(model, hardware, tpl)}` | {m.name} | {h.name} | {tpl} |")
    lines += ["", "Templates (`templates/*.toml`):", "",
              f"- **engineering**: {templates.load('engineering').description}",
              f"- **finance**: {templates.load('finance').description}", ""]
    write_text_atomically("\n".join(lines), folder / "README.md")
