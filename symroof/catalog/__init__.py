"""The catalog: one TOML file per model and per chip, validated when loaded.

A model or chip is named by its id (``llama-3-70b``, ``tpu-v5e``) or by the
path of a TOML file of the same form, so users can bring their own. A file may
also answer to aliases: other releases with the same architecture and values
(``deepseek-r1`` is ``deepseek-v3.toml``), each with its own name and source.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

from ..core.errors import CatalogError, InputError, suggest
from ..core.values import parse_value
from ..derive import table

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KINDS = {"model": "models", "hardware": "hardware"}
META_KEYS = {"id", "name", "source", "ici_convention", "aliases"}
REQUIRED = {
    "model": ("n_layers", "d_model", "d_ff", "n_heads", "n_kv_heads", "d_head", "vocab_size"),
    "hardware": ("hbm_capacity", "hbm_bandwidth", "chip_flops_bf16"),
}
#: Scenario choices a model file may give, as the released checkpoint stores them (a ``--set`` overrides them).
NATIVE = ("weight_dtype", "expert_dtype", "kv_dtype", "compute_dtype")
#: A value a vendor has not published: stored as NaN, so what needs it is undefined (and says why).
NOT_PUBLISHED = "not published"


@dataclass(frozen=True)
class Entry:
    """A loaded catalog file: a model's config or a chip's datasheet."""

    id: str
    name: str
    kind: str
    path: str
    values: dict[str, float]  # base-unit magnitudes by quantity name
    sources: dict[str, str]
    notes: dict[str, str] = field(default_factory=dict)


def empty(kind: str) -> Entry:
    """No model (or no chip): for a quantity that depends on the other alone."""
    return Entry("", "", kind, "", {}, {})


def _folder(kind: str) -> Path:
    return Path(str(resources.files(__package__) / KINDS[kind]))


def ids(kind: str) -> list[str]:
    """The catalog's ids of one kind, sorted."""
    return sorted(p.stem for p in _folder(kind).glob("*.toml"))


def _aliases_in(path: Path) -> list[dict]:
    """The ``aliases`` of one catalog file: ``[{ id, name, source }, ...]``, each checked."""
    data = read_toml(path)
    return _check_aliases(data.get("aliases", []), data.get("id"), str(path))


def _check_aliases(found: object, own: object, where: str) -> list[dict]:
    if not isinstance(found, list):
        raise CatalogError(f"{where}: aliases must be a list of {{ id = ..., name = ..., source = ... }}")
    for a in found:
        if not isinstance(a, dict) or set(a) != {"id", "name", "source"} or \
                not all(isinstance(v, str) and v.strip() for v in a.values()):
            raise CatalogError(f"{where}: each alias must be {{ id = ..., name = ..., source = ... }}, got {a!r}")
        if not re.fullmatch(r"[a-z0-9][a-z0-9.\-]*", a["id"]) or a["id"] == own:
            raise CatalogError(f"{where}: alias {a['id']!r} must be lowercase letters, digits, dots and dashes, "
                               "and not the file's own id")
    return found


def aliases(kind: str) -> dict[str, tuple[str, dict]]:
    """``{alias: (the id of the file it names, {id, name, source})}`` of the catalog's files of one kind."""
    files = ids(kind)
    out: dict[str, tuple[str, dict]] = {}
    for target in files:
        path = _folder(kind) / f"{target}.toml"
        for a in _aliases_in(path):
            if a["id"] in files or a["id"] in out:
                raise CatalogError(f"{path}: alias {a['id']!r} is already the id of another {kind}")
            out[a["id"]] = (target, a)
    return out


def known(kind: str) -> list[str]:
    """Every name the catalog answers to for one kind: its ids and their aliases, sorted."""
    return sorted([*ids(kind), *aliases(kind)])


def load(kind: str, ref: str) -> Entry:
    """Load a ``model`` or ``hardware`` entry by id, by alias or by TOML path."""
    if ref.endswith(".toml") or "/" in ref:
        path = Path(ref)
        if not path.is_file():
            raise CatalogError(f"{ref}: no such catalog file")
    else:
        path = _folder(kind) / f"{ref}.toml"
        if not path.is_file():
            other = aliases(kind).get(ref)
            if other is None:
                names = known(kind)
                raise InputError(f"unknown {kind} {ref!r}{suggest(ref, names)}; known: {', '.join(names)}")
            target, alias = other
            entry = _parse(kind, _folder(kind) / f"{target}.toml")
            return replace(entry, id=alias["id"], name=alias["name"],
                           notes={**entry.notes, "alias_of": f"{target} ({alias['source']})"})
    return _parse(kind, path)


def check_file(kind: str, path: Path, shown_as: str | None = None) -> Entry:
    """Load a catalog file, naming it ``shown_as`` in errors (a temporary file being written)."""
    try:
        return _parse(kind, path)
    except CatalogError as exc:
        if shown_as is None:
            raise
        raise CatalogError(str(exc).replace(str(path), shown_as)) from None


_PARSED: dict[tuple, tuple[tuple[int, int], Entry]] = {}


def cached(key: tuple, path: Path, parse) -> Entry:
    """``parse()``'s entry for ``path``, parsed again only when the file changes (a fresh copy each call)."""
    try:
        st = path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
    except OSError:
        return parse()
    hit = _PARSED.get(key)
    if hit is None or hit[0] != stamp:
        hit = _PARSED[key] = (stamp, parse())
    e = hit[1]
    return replace(e, values=dict(e.values), sources=dict(e.sources), notes=dict(e.notes))


def _parse(kind: str, path: Path) -> Entry:
    return cached((kind, str(path)), path, lambda: _parse_file(kind, path))


def read_toml(path: Path, text_fields: tuple[str, ...] = (), kind: str = "") -> dict:
    """A TOML file of the catalog's form (models, chips, calibrations, engine profiles), with its text fields.

    ``kind`` (``"calibration"``) names what the file should have been in the errors.
    """
    where, of = str(path), f" {kind}" if kind else ""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # a byte-order mark (Windows editors) is read
    except FileNotFoundError:
        raise CatalogError(f"{where}: no such{of} file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{where}: cannot read{of} ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{where}: not valid TOML{of and ', not a readable' + of} ({exc})") from None
    for key in text_fields:
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise CatalogError(f"{where}: missing text field {key!r}")
    return data


def sourced_value(spec, entry: object, where: str) -> tuple[float | str, str]:
    """``{ value = ..., source = ... }`` of a calibration or engine profile: the value in base units, its source.

    ``where`` names the entry (``FILE: values.KEY``). A quantity with a unit must be written with it.
    """
    if not isinstance(entry, dict) or "value" not in entry or not isinstance(entry.get("source"), str) \
            or set(entry) - {"value", "source"}:
        raise CatalogError(f"{where} must be {{ value = ..., source = ... }}")
    value = entry["value"]
    if spec.unit_text and not isinstance(value, str):
        raise CatalogError(f"{where} = {value!r} has no unit; write it with one, like \"{value} {spec.unit_short}\"")
    try:
        return parse_value(spec, value, where), entry["source"]
    except InputError as exc:
        raise CatalogError(str(exc)) from None


def _parse_file(kind: str, path: Path) -> Entry:
    where = str(path)
    data = read_toml(path, ("id", "name"))
    specs = table()
    allowed = {s.name for s in specs if s.group == kind} | (set(NATIVE) if kind == "model" else set())
    values: dict[str, float] = {}
    sources: dict[str, str] = {}
    for key, raw in data.items():
        if key in META_KEYS:
            continue
        if key not in allowed:
            raise CatalogError(f"{where}: unknown key {key!r}{suggest(key, allowed)}")
        source = data.get("source", "")
        if isinstance(raw, dict):
            unexpected = set(raw) - {"value", "source"}
            if "value" not in raw or unexpected:
                raise CatalogError(f"{where}: {key} must be {{ value = ..., source = ... }}")
            source = raw.get("source", "")
            raw = raw["value"]
        if not isinstance(source, str) or not source.strip():
            raise CatalogError(f"{where}: {key} has no source")
        spec = specs.get(key)
        if isinstance(raw, str) and raw.strip().lower() == NOT_PUBLISHED:
            if key in REQUIRED[kind]:
                raise CatalogError(f"{where}: {key} is needed by every result; it cannot be {NOT_PUBLISHED!r}")
            values[key], sources[key] = math.nan, source  # known to be unknown: results needing it are undefined
            continue
        if spec.unit_text and not isinstance(raw, str):
            raise CatalogError(f"{where}: {key} = {raw!r} has no unit; write it with one, like "
                               f"\"{raw} {spec.unit_short}\"")
        try:
            values[key] = parse_value(spec, raw, f"{where}: {key}")
        except InputError as exc:
            raise CatalogError(str(exc)) from None
        _check_plausible(spec, values[key], where)
        sources[key] = source
    missing = [k for k in REQUIRED[kind] if k not in values]
    if missing:
        raise CatalogError(f"{where}: missing {', '.join(missing)}")
    if kind == "model":
        _check_model(values, where)
    _check_aliases(data.get("aliases", []), data["id"], where)
    notes = {k: data[k] for k in ("ici_convention",) if isinstance(data.get(k), str)}
    return Entry(data["id"], data["name"], kind, where, values, sources, notes)


def _check_plausible(spec, base: float, where: str) -> None:
    """Refuse a magnitude far outside any real chip or model (a unit slip such as 80e9 GB)."""
    if spec.plausible is None or spec.categorical:
        return
    value, (lo, hi) = base / spec.factor, spec.plausible
    if not lo <= value <= hi:
        unit = f" {spec.unit_short}" if spec.unit_short else ""
        raise CatalogError(f"{where}: {spec.name} = {value:g}{unit} is far outside any real chip or model "
                           f"({lo:g} to {hi:g}{unit}); check the number and its unit")


def _check_model(v: dict, where: str) -> None:
    """Refuse a model whose numbers contradict each other, naming the key."""
    get = lambda name, default: v.get(name, default)  # noqa: E731
    layers = v["n_layers"]
    if get("attention", "gqa") == "gqa" and v["n_heads"] % v["n_kv_heads"]:
        raise CatalogError(
            f"{where}: n_heads ({v['n_heads']:g}) is not a multiple of n_kv_heads ({v['n_kv_heads']:g})")
    experts, k = get("n_experts", 1), get("n_experts_per_token", 1)
    if k > experts:
        raise CatalogError(f"{where}: n_experts_per_token ({k:g}) is more than n_experts ({experts:g})")
    if get("mlp", "dense") == "dense" and experts > 1:
        raise CatalogError(f"{where}: n_experts is {experts:g} but mlp is dense; set mlp = \"moe\"")
    for key in ("n_dense_layers", "n_sliding_layers"):
        if get(key, 0) > layers:
            raise CatalogError(f"{where}: {key} ({v[key]:g}) is more than n_layers ({layers:g})")
    if get("attention", "gqa") == "mla" and not (get("kv_lora_rank", 0) > 0 and get("qk_rope_head_dim", 0) > 0):
        raise CatalogError(f"{where}: attention is mla but kv_lora_rank or qk_rope_head_dim is missing or 0")
