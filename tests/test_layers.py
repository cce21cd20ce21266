"""The house keeps its shape: imports run one way, downhill through the layers; no module grows past 400 lines.

The layers, from the bottom (docs/architecture.md draws them):
core -> declare -> model, printing -> runtime -> derive -> catalog, calibration -> evaluation -> engines ->
workbook -> cli -> the package's facade. A module may import its own layer and those below; never above,
and never in a circle. The runtime never reaches sympy or the declarations.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "symroof"
LAYERS = (
    ("core",),
    ("declare",),
    ("model", "printing"),
    ("runtime",),
    ("derive",),
    ("catalog", "calibration", "profiles"),
    ("evaluation",),
    ("sweep", "sensitivity", "planner", "serve", "engines", "validation", "plot", "fit", "fitting", "measure",
     "testing", "quantity", "search", "layouts", "engine_settings", "notebook", "replay",
     "max_rate"),
    ("workbook",),
    ("cli",),
    ("", "__main__"),  # symroof/__init__.py: the public facade; __main__.py: python -m symroof
)
NEVER = {"runtime": ("sympy", "symroof.declare", "symroof.model", "symroof.derive", "symroof.printing")}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"{module}: in no layer; add its top-level name to LAYERS (and docs/architecture.md)")


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file, at any depth (inside functions too)."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            names = [f"{source}.{a.name}" for a in node.names]
            # ``from . import model`` names a module; ``from .x import name`` names something in .x
            out += [(node.lineno, n if (ROOT / Path(*n.split("."))).exists() or
                     (ROOT / Path(*n.split("."))).with_suffix(".py").exists() else source) for n in names]
    return out


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_run_downhill(path):
    here = module_name(path)
    mine = layer_of(here)
    top = here.split(".")[1] if "." in here else ""
    for line, target in imports(path):
        for banned in NEVER.get(top, ()):
            assert not (target == banned or target.startswith(banned + ".")), \
                f"{here}:{line} imports {target}: the runtime never reaches it"
        if target.startswith("symroof.") or target == "symroof":
            if target == "symroof":
                continue  # the package itself is imported first by everything; names come from below
            assert layer_of(target) <= mine, f"{here}:{line} imports {target}, a higher layer"


def test_no_import_circle():
    graph = {module_name(p): {t for _, t in imports(p) if t.startswith("symroof.")} for p in MODULES}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            nxt = nxt if nxt in graph else nxt.rpartition(".")[0]
            if nxt == node or nxt not in graph:
                continue
            if state.get(nxt) == 1:
                circle = trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt]
                raise AssertionError("import circle: " + " -> ".join(circle))
            if state.get(nxt) is None:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_over_400_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 400, f"{path.relative_to(ROOT)}: split it"


def test_every_package_is_installed():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {module_name(p.parent / "__init__.py") for p in PACKAGE.rglob("__init__.py")}
    assert found <= listed, f"pyproject.toml misses {sorted(found - listed)}"
