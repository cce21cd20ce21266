"""import-model: a catalog model from a Hugging Face config.json."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from .. import catalog
from ..catalog import hf
from ..core.errors import CatalogError
from ..core.files import atomic_write, check_target
from .common import warn


def _default_id(path: Path, config_name: str | None) -> str:
    raw = config_name or (path.parent.name if path.parent.name not in ("", ".") else path.stem)
    return re.sub(r"[^a-z0-9.]+", "-", raw.split("/")[-1].lower()).strip("-") or "model"


def cmd_import_model(args: argparse.Namespace) -> str:
    path = Path(args.config)
    values, sources, family = hf.read(path, warn=warn)
    try:
        name_or_path = json.loads(path.read_text(encoding="utf-8-sig")).get("_name_or_path")
    except (OSError, ValueError, AttributeError):
        name_or_path = None
    model_id = args.id or _default_id(path, name_or_path)
    if not re.fullmatch(r"[a-z0-9][a-z0-9.\-]*", model_id):
        raise CatalogError(f"--id {model_id!r}: use lowercase letters, digits, dots and dashes")
    text = hf.to_toml(values, sources, model_id, args.name or model_id, f"{path.name}, model_type {family}")
    if args.output is None:
        return text.rstrip("\n")
    if Path(args.output).suffix.lower() != ".toml":
        raise CatalogError(f"-o {args.output}: a model file is TOML; name it .toml")
    check_target(args.output)
    if Path(args.output).exists() and not getattr(args, "force", False):
        raise CatalogError(f"-o {args.output}: the file exists; add --force to replace it")

    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")
        catalog.check_file("model", Path(tmp), shown_as=args.output)  # what is written loads as a MODEL

    atomic_write(Path(args.output), write)
    print(f"symroof: {model_id}: {len(values)} values from {path} ({family})", file=sys.stderr)
    return args.output
