"""Writing a template as a live-formula workbook, with each formula's value cached beside it.

Each quantity has one row and one workbook-scoped defined name (its public
name) on the cell that holds its value, in the unit ``symroof eval`` reports.
Formulas come from :func:`symroof.lower.excel_expr` (the one lowering path)
and :mod:`symroof.printing.excel`; every formula cell also carries the value
symroof computed, so viewers that do not calculate (file previews, pandas,
openpyxl ``data_only``) show numbers, while Excel and LibreOffice recalculate.

Everything written goes through :meth:`Book.put`, which records it for the
digests that let a later export see what a planner changed.
"""

from __future__ import annotations

from collections.abc import Mapping

from xlsxwriter.utility import xl_col_to_name

from ..calibration import reference
from ..core.sentences import names as sentence_names
from ..core.version import __version__
from ..evaluation import Evaluation
from . import metadata
from .blanks import blank_notes, formula_cells, reasons
from .cells import VALUE_COL, Book
from .layout import place
from .names import check_names
from .rows import quantity_rows
from .sheets import choice_lists, heading, page_setup, sensitivity_sheet, sweep_sheet, write_lists
from .template import Template

#: Groups a workbook leaves out (the serving engine of symroof serve; a Serving sheet is future work).
SERVING_GROUPS: tuple[str, ...] = ()


def write(ev: Evaluation, est: Evaluation, template: Template, filename: str, kept: frozenset[str] = frozenset(),
          overrides: Mapping | None = None, kept_est: frozenset[str] = frozenset()) -> list[metadata.CellInfo]:
    """Write the workbook of ``ev`` (the bound) and ``est`` (the estimate beside it) laid out by ``template``."""
    book = Book(ev, est, template, filename, kept, kept_est)
    # the serving engine's groups (symroof serve) have no sheet yet: the workbook is the step model's
    available = {n for n in ev.computable() if ev.table.specs[n].group not in SERVING_GROUPS}
    status = [s.name for s in ev.table if s.says and not s.on_false and s.name in available
              and all(n in available for sentence in s.says for n in sentence_names(sentence))]
    blocks, where = place(template, ev.table, available, len(status))
    lists = choice_lists(ev, set(where))
    check_names(list(where) + list(lists))
    book.where = where
    book.blanks = blank_notes(ev, [n for n in where if n not in formula_cells(ev, [n])])
    book.reasons = reasons(ev, formula_cells(ev, where), book.blanks)
    rules_without_number = [n for n in where if n not in est.provenance and n in est.unavailable  # the estimate's
                            and est.table.specs[n].has_rule and n in book.varies]  # own rule (no KV pool, say)
    book.reasons_est = reasons(est, [n for n in formula_cells(est, where) if n in book.varies]
                               + rules_without_number, book.blanks,
                               {n: r for n, r in book.reasons.items() if n not in book.varies})
    sheets = {s.name: book.wb.add_worksheet(s.name) for s in template.sheets}
    for sheet in template.sheets:
        heading(book, sheets[sheet.name], sheet, sheet is template.sheets[0], status)
    write_lists(book, lists)
    for name, (sheet, row) in where.items():
        book.wb.define_name(name, f"='{sheet}'!${xl_col_to_name(VALUE_COL)}${row + 1}")
    for block in blocks:
        quantity_rows(book, sheets[block.sheet.name], block, lists)
    for sheet in template.sheets:
        ws = sheets[sheet.name]
        if sheet.kind == "sensitivities":
            sensitivity_sheet(book, ws, sheet)
        elif sheet.kind == "sweep":
            sweep_sheet(book, ws, sheet)
        page_setup(book, ws, sheet)
    meta = book.wb.add_worksheet(metadata.SHEET)
    meta.hide()
    info = {"generator": f"symroof {__version__}", "model": ev.model.id, "hardware": ev.hardware.id,
            "template": template.name, "rules": dict(ev.rules),
            "overrides": {k: v for k, v in (overrides or {}).items()},
            "calibration": reference(est.calibration) if est.calibration is not None else "",
            "engine": est.engine.id if est.engine is not None else ""}
    digests = {sheet: {row: metadata.row_digest(cells) for row, cells in rows.items()}
               for sheet, rows in book.content.items()}
    for s in template.sheets:
        digests.setdefault(s.name, {})
    metadata.write(meta, info, book.cells, digests, lambda ws, r, c, v: ws.write_string(r, c, str(v)))
    book.wb.close()
    return book.cells


