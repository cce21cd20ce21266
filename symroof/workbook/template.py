"""Workbook templates: what a workbook holds, sheet by sheet and section by section (TOML, no code).

A template names quantities and groups, never formulas. Besides sheets and
sections it may give:

- ``hold``: inputs written as the number their default gives at export
  (``n_chips``: the slice is chosen before the batch that follows a rule);
- ``[rules]``: inputs that follow another quantity in this workbook
  (``batch_size = "latency_batch_size"``: the finance page prices the batch
  that meets the latency target), written as pale cells a planner may type over;
- per sheet, ``layout = "plain"`` (plain-English labels first, the public
  names in a hidden column, for planners) and ``print = "one-page"``;
- per section, a ``note`` shown under its title (a caveat, in words), and
  ``except``: names its ``groups`` would bring that another section places;
- ``hold``'s counts after the slice are the larger of the two modes' defaults.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..core.errors import SymroofError, suggest
from ..derive import table

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SHEET_KINDS = ("rows", "sensitivities", "sweep")
LAYOUTS = ("engineering", "plain")
PRINTS = ("fit-width", "one-page")


class TemplateError(SymroofError):
    """A template file is malformed or names something that does not exist."""


@dataclass(frozen=True)
class Chart:
    title: str
    type: str
    x: str
    y: tuple[str, ...]
    log_y: bool = False
    x_title: str = ""
    y_title: str = ""


@dataclass(frozen=True)
class Section:
    title: str
    names: tuple[str, ...]
    note: str = ""


@dataclass
class Sheet:
    name: str
    kind: str = "rows"
    note: str = ""
    sections: list[Section] = field(default_factory=list)
    rest: bool = False
    quantities: tuple[str, ...] = ()  # sensitivities and sweep sheets
    vary: str | None = None
    rows_to: str | None = None  # sweep sheets: rows run from 1 to this quantity's value at export
    charts: list[Chart] = field(default_factory=list)
    layout: str = "engineering"
    print: str = "fit-width"
    status: bool = False  # show the operating point's feasibility sentence under the title


@dataclass
class Template:
    name: str
    title: str
    description: str
    sheets: list[Sheet]
    path: str
    rules: dict[str, str] = field(default_factory=dict)
    requires: tuple[str, ...] = ()  # quantities without which the template means nothing (chip_price)
    hold: tuple[str, ...] = ()  # inputs fixed at their scenario value at export (a rule would depend on them)
    kind: str = "workbook"  # or "comparison": several chips side by side (symroof export --compare)


def _folder() -> Path:
    """Installed templates (package data), or the source tree's ``templates/``."""
    try:
        # a namespace package: files() is a MultiplexedPath, whose entries are real paths
        for entry in resources.files("symroof.templates").iterdir():
            if entry.name.endswith(".toml"):
                return Path(str(entry)).parent
    except (ModuleNotFoundError, TypeError, FileNotFoundError):
        pass
    return Path(__file__).resolve().parents[2] / "templates"


def names() -> list[str]:
    """Names of the bundled templates."""
    return sorted(p.stem for p in _folder().glob("*.toml"))


def load(ref: str) -> Template:
    """Load a template by name (``engineering``, ``finance``) or TOML path, and check what it names."""
    path = Path(ref) if ref.endswith(".toml") else _folder() / f"{ref}.toml"
    if not path.is_file():
        raise TemplateError(f"unknown template {ref!r}{suggest(ref, names())}; known: {', '.join(names())}")
    where = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # a byte-order mark (Windows editors) is read
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TemplateError(f"{where}: cannot read ({exc})") from None
    raw_sheets = data.get("sheet", [])
    if not isinstance(raw_sheets, list) or not all(isinstance(s, dict) for s in raw_sheets):
        raise TemplateError(f"{where}: sheets must be [[sheet]] tables")
    sheets = [_sheet(s, f"{where}: sheet {i + 1}") for i, s in enumerate(raw_sheets)]
    if not sheets:
        raise TemplateError(f"{where}: no [[sheet]]")
    seen = [s.name.lower() for s in sheets]
    if len(set(seen)) != len(seen):
        raise TemplateError(f"{where}: two sheets share a name")
    rules = data.get("rules", {})
    if not isinstance(rules, dict) or not all(isinstance(v, str) for v in rules.values()):
        raise TemplateError(f"{where}: [rules] must map input names to quantity names")
    for k, v in rules.items():
        _names([k, v], f"{where}: [rules]", "quantities")
    requires = _names(data.get("requires", []), where, "requires")
    hold = _names(data.get("hold", []), where, "hold")
    return Template(str(data.get("name", path.stem)), str(data.get("title", "")), str(data.get("description", "")),
                    sheets, where, dict(rules), requires, hold, str(data.get("kind", "workbook")))


def _names(raw, where: str, key: str) -> tuple[str, ...]:
    t = table()
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise TemplateError(f"{where}: {key} must be a list of names")
    for name in raw:
        if key == "groups":
            known = {g for g, _ in t.groups}
            if name not in known:
                raise TemplateError(f"{where}: unknown group {name!r}{suggest(name, known)}")
        elif name not in t:
            raise TemplateError(f"{where}: unknown quantity {name!r}{suggest(name, t.names())}")
    return tuple(raw)


def _group_names(groups: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(s.name for g in groups for s in table() if s.group == g and s.kind != "constant")


def _choice(raw: dict, key: str, allowed: tuple[str, ...], default: str, where: str) -> str:
    value = raw.get(key, default)
    if value not in allowed:
        raise TemplateError(f"{where}: {key} must be one of {', '.join(allowed)}")
    return value


def _sheet(raw: dict, where: str) -> Sheet:
    if not isinstance(raw.get("name"), str) or not raw["name"]:
        raise TemplateError(f"{where}: missing name")
    where = f"{where} ({raw['name']})"
    if len(raw["name"]) > 31 or any(c in raw["name"] for c in "[]:*?/\\") or raw["name"].startswith("_"):
        raise TemplateError(f"{where}: not a valid Excel sheet name")
    kind = _choice(raw, "kind", SHEET_KINDS, "rows", where)
    sheet = Sheet(raw["name"], kind, str(raw.get("note", "")), rest=bool(raw.get("rest", False)),
                  layout=_choice(raw, "layout", LAYOUTS, "engineering", where),
                  print=_choice(raw, "print", PRINTS, "fit-width", where), status=bool(raw.get("status", False)))
    if kind == "rows":
        if "groups" in raw:
            for g in _names(raw["groups"], where, "groups"):
                sheet.sections.append(Section(g, _group_names((g,))))
        sections = raw.get("section", [])
        if not isinstance(sections, list) or not all(isinstance(sec, dict) for sec in sections):
            raise TemplateError(f"{where}: sections must be [[sheet.section]] tables")
        for i, sec in enumerate(sections):
            swhere = f"{where}, section {i + 1}"
            left_out = set(_names(sec.get("except", []), swhere, "except"))  # placed by another section
            names_ = tuple(n for n in _group_names(_names(sec.get("groups", []), swhere, "groups"))
                           if n not in left_out)
            names_ += _names(sec.get("quantities", []), swhere, "quantities")
            sheet.sections.append(Section(str(sec.get("title", "")), names_, str(sec.get("note", ""))))
    else:
        sheet.quantities = _names(raw.get("quantities", []), where, "quantities")
        if kind == "sweep":
            sheet.vary = raw.get("vary")
            if sheet.vary != "batch_size":
                raise TemplateError(f"{where}: a sweep sheet varies batch_size")
            if "rows_to" in raw:
                sheet.rows_to = _names([raw["rows_to"]], where, "rows_to")[0]
            charts = raw.get("chart", [])
            if not isinstance(charts, list) or not all(isinstance(c, dict) for c in charts):
                raise TemplateError(f"{where}: charts must be [[sheet.chart]] tables")
            for j, c in enumerate(charts):
                cwhere = f"{where}, chart {j + 1}"
                if c.get("type") != "scatter":
                    raise TemplateError(f"{cwhere}: type must be scatter")
                axes = _names([c.get("x", "")] + list(c.get("y", [])), cwhere, "quantities")
                sheet.charts.append(Chart(str(c.get("title", "")), "scatter", axes[0], axes[1:],
                                          bool(c.get("log_y", False)), str(c.get("x_title", "")),
                                          str(c.get("y_title", ""))))
    return sheet
