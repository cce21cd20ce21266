"""The derivation a built wheel ships (issue 31, item 7): read when its key is the installed sources' key, else
ignored for the user cache, and never trusted when a file of it is damaged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from symroof import derive
from symroof.runtime import store

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def derivation() -> dict[str, str]:
    """The current key's derivation files (model.json, functions.py) as text, from the user cache."""
    derive.table()
    where = store.folder(store.key())
    if not (where / store.RECORD).is_file():
        pytest.skip("no writable user cache to copy a derivation from")
    return {name: (where / name).read_text(encoding="utf-8") for name in (store.RECORD, store.FUNCTIONS)}


@pytest.fixture
def places(tmp_path, monkeypatch):
    """An empty shipped folder and an empty user cache of this test's own; nothing remembered."""
    shipped, cache = tmp_path / "_derived", tmp_path / "cache"
    monkeypatch.setattr(store, "SHIPPED", shipped)
    monkeypatch.setenv("SYMROOF_CACHE", str(cache))
    store.load.cache_clear()
    yield shipped, cache
    store.load.cache_clear()


def _put(base: Path, key: str, files: dict[str, str]) -> Path:
    where = base / f"model-{key[:20]}"
    where.mkdir(parents=True)
    for name, text in files.items():
        (where / name).write_text(text, encoding="utf-8")
    return where


def _origin(table) -> Path:
    return Path(table.module.__file__).parent


def test_the_shipped_derivation_is_read_when_its_key_matches(derivation, places):
    shipped, cache = places
    want = store.key()
    where = _put(shipped, want, derivation)
    found = store.load(want)
    assert found is not None and _origin(found) == where
    assert len(found) == json.loads(derivation[store.RECORD])["count"]
    assert derive.table() is found  # what every command reads
    assert not cache.exists()  # nothing derived, nothing written


def test_the_shipped_derivation_comes_before_the_user_cache(derivation, places):
    shipped, cache = places
    want = store.key()
    _put(cache, want, derivation)
    where = _put(shipped, want, derivation)
    assert _origin(store.load(want)) == where


def test_a_shipped_derivation_of_other_sources_is_ignored(derivation, places):
    shipped, cache = places
    want = store.key()
    other = "0" * 64
    _put(shipped, other, {**derivation, store.RECORD: derivation[store.RECORD].replace(want, other)})
    assert store.load(want) is None  # neither shipped nor cached: the caller derives
    store.load.cache_clear()
    user = _put(cache, want, derivation)
    assert _origin(store.load(want)) == user


def test_a_shipped_folder_whose_record_names_another_key_is_ignored(derivation, places):
    shipped, cache = places
    want = store.key()
    other = "f" * 64
    _put(shipped, want, {name: text.replace(want, other) for name, text in derivation.items()})
    user = _put(cache, want, derivation)
    assert _origin(store.load(want)) == user


def _damage(files: dict[str, str], how: str) -> dict[str, str]:
    record, functions = files[store.RECORD], files[store.FUNCTIONS]
    if how == "record cut short":
        return {store.RECORD: record[: len(record) // 2], store.FUNCTIONS: functions}
    if how == "functions cut short":
        return {store.RECORD: record, store.FUNCTIONS: functions[: len(functions) // 2]}
    if how == "functions never finished":
        return {store.RECORD: record, store.FUNCTIONS: functions.replace("COMPLETE = True", "")}
    if how == "functions missing":
        return {store.RECORD: record}
    if how == "a quantity missing":
        data = json.loads(record)
        data["specs"].pop()
        return {store.RECORD: json.dumps(data), store.FUNCTIONS: functions}
    raise AssertionError(how)


@pytest.mark.parametrize(
    "how",
    ["record cut short", "functions cut short", "functions never finished", "functions missing", "a quantity missing"],
)
def test_a_damaged_shipped_derivation_falls_back_to_the_user_cache(derivation, places, how):
    shipped, cache = places
    want = store.key()
    _put(shipped, want, _damage(derivation, how))
    assert store.load(want) is None
    store.load.cache_clear()
    user = _put(cache, want, derivation)
    assert _origin(store.load(want)) == user


@pytest.mark.slow
def test_a_built_wheel_ships_the_derivation_of_its_sources(tmp_path, cli):
    """``pip wheel`` runs setup.py's hook: the wheel holds one derivation, keyed by the sources it installs, and
    the first command from it (empty user cache) derives nothing and answers as the checkout does."""
    source = tmp_path / "source"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for folder in ("symroof", "templates"):
        shutil.copytree(ROOT / folder, source / folder, ignore=skip)
    for name in ("pyproject.toml", "setup.py", "README.md", "MANIFEST.in"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
        check=True,
        timeout=1200,
        cwd=tmp_path,
    )
    (built,) = wheels.glob("symroof-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(built) as wheel:
        wheel.extractall(site)
    env = {
        **os.environ,
        "PYTHONPATH": str(site),
        "SYMROOF_CACHE": str(tmp_path / "cache"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    installed = subprocess.run(
        [sys.executable, "-c", "from symroof.runtime import store; print(store.key())"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    ).stdout.strip()
    assert installed == store.key()  # the same sources as the checkout, the same sympy
    (shipped,) = (site / "symroof" / "_derived").iterdir()
    assert shipped.name == f"model-{installed[:20]}"
    assert json.loads((shipped / store.RECORD).read_text(encoding="utf-8"))["key"] == installed
    run = [sys.executable, "-m", "symroof", "eval", "llama-3-70b", "tpu-v5e", "--format", "json"]
    first = subprocess.run(run, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert first.returncode == 0 and first.stderr == "", first.stderr[-2000:]
    assert not (tmp_path / "cache").exists()
    status, out, _ = cli("eval", "llama-3-70b", "tpu-v5e", "--format", "json")
    assert status == 0 and json.loads(first.stdout) == json.loads(out)
