"""Shared fixtures: the seed's operating points and a CLI runner."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

import symroof
from symroof.cli import main
from symroof.quantity import REGISTRY

# In CI the property tests draw the same examples every run, so a landing never depends on luck;
# locally they explore new ones each time.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

#: The seed's own rounded inputs where its arithmetic uses them (see docs/discrepancies.md).
SEED_V5E = {"hbm_capacity": "16e9 byte", "hbm_bandwidth": "8.1e11 byte/s", "chip_flops_bf16": "1.97e14 FLOP/s"}


def ev(model="llama-3-70b", hardware="tpu-v5e", **overrides):
    """Evaluate through the public API."""
    return symroof.evaluate(model, hardware, **overrides)


def value(evaluation, name, unit):
    """A quantity's magnitude in ``unit``."""
    return evaluation[name].to(unit).magnitude


@pytest.fixture
def cli(capsys):
    """Run the command line in-process: returns (exit status, stdout, stderr)."""

    def run(*argv):
        try:
            status = main(list(argv))
        except SystemExit as exc:  # argparse's own usage errors
            status = exc.code
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.fixture
def planted():
    """Names declared by a test are removed from the registry afterwards."""
    before = set(REGISTRY.names())
    yield
    for name in set(REGISTRY.names()) - before:
        REGISTRY.remove(name)
