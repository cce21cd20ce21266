"""Where every quantity goes: sheets, sections and rows, decided before any cell is written.

Each available quantity is placed exactly once (a defined name points at one
cell); a template's ``rest`` sheet takes whatever no section named; a
quantity that a placed formula needs but that is nowhere is a template error.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..runtime import Table
from .template import Sheet, Template, TemplateError

TOP = 3  # first row of the first section (0-based): title, note, status come before


@dataclass(frozen=True)
class Block:
    """One section of a rows sheet: its title row, header row and the quantities below."""

    sheet: Sheet
    title: str
    note: str
    row: int  # title row (0-based)
    names: tuple[str, ...]

    @property
    def first(self) -> int:
        """Row of the first quantity."""
        return self.row + (3 if self.note else 2)


def place(template: Template, table: Table, available: set[str],
          status_rows: int = 0) -> tuple[list[Block], dict[str, tuple[str, int]]]:
    """The blocks of every rows sheet, and ``{name: (sheet, row)}`` of every placed quantity.

    Sheets that show status lines start their sections ``status_rows`` lower.
    """
    placed: set[str] = set()
    sections: list[tuple[Sheet, str, str, tuple[str, ...]]] = []
    for sheet in template.sheets:
        if sheet.kind != "rows":
            continue
        for sec in sheet.sections:
            names = tuple(n for n in sec.names if n in available)
            twice = [n for n in names if n in placed]
            if twice:
                raise TemplateError(f"{template.path}: {twice[0]} is placed twice")
            placed.update(names)
            sections.append((sheet, sec.title, sec.note, names))
    rest = [s for s in template.sheets if s.rest]
    if rest:
        titles = dict(table.groups)
        for group, _ in table.groups:
            names = tuple(s.name for s in table if s.group == group and s.name in available and s.name not in placed
                          and s.kind != "constant")
            if names:
                placed.update(names)
                sections.append((rest[0], titles[group], "", names))
    for name in sorted(available - placed):
        users = [s.name for s in table if s.name in placed and name in s.deps]
        if users:
            raise TemplateError(f"{template.path}: does not place {name}, which {users[0]} needs")
    rows = {s.name: TOP + (status_rows if s.status else 0) for s in template.sheets}
    blocks, where = [], {}
    for sheet, title, note, names in sections:
        block = Block(sheet, title, note, rows[sheet.name], names)
        blocks.append(block)
        for i, name in enumerate(names):
            where[name] = (sheet.name, block.first + i)
        rows[sheet.name] = block.first + len(names) + 1
    return blocks, where
