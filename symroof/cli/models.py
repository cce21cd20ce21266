"""import-model: a catalog model from a Hugging Face config.json."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ..core.errors import CatalogError


def _default_id(path: Path, config_name: str | None) -> str:
    raw = config_name or (path.parent.name if path.parent.name not in ("", ".") else path.stem)
    return re.sub(r"[^a-z0-9.]+", "-", raw.split("/")[-1].lower()).strip("-") or "model"


def cmd_import_model(args: argparse.Namespace) -> str:
    import json

    from .. import catalog
    from ..catalog import hf
    from ..core.files import atomic_write

    path = Path(args.config)
    values, sources, family = hf.read(path)
    try:
        name_or_path = json.loads(path.read_text(encoding="utf-8")).get("_name_or_path")
    except (OSError, ValueError, AttributeError):
        name_or_path = None
    model_id = args.id or _default_id(path, name_or_path)
    if not re.fullmatch(r"[a-z0-9][a-z0-9.\-]*", model_id):
        raise CatalogError(f"--id {model_id!r}: use lowercase letters, digits, dots and dashes")
    text = hf.to_toml(values, sources, model_id, args.name or model_id, f"{path.name}, model_type {family}")
    if args.output is None:
        return text.rstrip("\n")

    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")
        catalog.check_file("model", Path(tmp), shown_as=args.output)  # what is written loads as a MODEL

    atomic_write(Path(args.output), write)
    print(f"symroof: {model_id}: {len(values)} values from {path} ({family})", file=sys.stderr)
    return args.output


def register(sub) -> None:
    """Add this module's commands to the parser."""
    p = sub.add_parser("import-model", help="write a catalog model from a Hugging Face config.json",
                       description="Read a local Hugging Face config.json (Llama, Mistral/Mixtral, Qwen2/Qwen3 and "
                                   "Qwen3-MoE, DeepSeek-V2/V3, gpt-oss, Gemma 2/3, Llama 4) and write a catalog "
                                   "TOML with a source line per value. Nothing is downloaded.")
    p.add_argument("config", metavar="CONFIG.json")
    p.add_argument("-o", "--output", metavar="MODEL.toml", help="write here (default: standard output)")
    p.add_argument("--id", help="the model's id (default: from the config's name or folder)")
    p.add_argument("--name", help="a display name (default: the id)")
    p.set_defaults(func=cmd_import_model)
