"""symroof validate (issue 17): published points predicted through serve, by the workload each source describes.

The repository's dataset fits the engines' CPU times; the held-back InferenceMAX runs (tests/data) are never
used to fit anything and are scored with the shipped profiles.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from symroof import validation

HERE = Path(__file__).parent
HELD_BACK = HERE / "data" / "held_back_inferencemax.csv"


@pytest.fixture(scope="module")
def full():
    return validation.run()


def test_dataset_covers_moe_serving_on_three_chips(full):
    moe = [p for p in full.predicted() if p.family == "moe"]
    assert len(moe) >= 15
    assert len({p.row["chip"] for p in moe}) >= 3
    assert len({p.row["model"] for p in moe}) >= 3
    assert all(p.row["source"] and p.row["date"] for p in full.points)


def test_every_predicted_point_has_a_held_out_prediction(full):
    done = full.predicted()
    assert sum(p.held_out is not None for p in done) >= 0.95 * len(done)
    assert set(full.fitted) == {p.engine for p in done}
    for values, err, n in full.fitted.values():
        assert set(values) == set(validation.GRID) and n > 0 and math.isfinite(err)


def _one_row(tmp_path, **changes) -> Path:
    """The dataset's first TensorRT-LLM max-throughput row (dense), with ``changes``."""
    rows = list(csv.DictReader(validation.default_data().open(encoding="utf-8")))
    row = next(r for r in rows if r["model"] == "llama-3.1-8b" and r["batch"] == "max"
               and r["metric"] == "output_tokens_per_s_total")
    path = tmp_path / "one.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerow(row)
        w.writerow({**row, **changes})
    return path


def test_the_unit_column_is_read(tmp_path):
    path = _one_row(tmp_path, unit="token/min (all GPUs)")
    a, b = validation.run(path).points
    assert b.estimate == pytest.approx(60 * a.estimate, rel=1e-9)


def test_tensor_parallel_below_the_chips_is_replicas(tmp_path):
    """TP1 on 2 chips is two replicas: twice one chip's total throughput."""
    path = _one_row(tmp_path, n_chips="2", tensor_parallel="1")
    a, b = validation.run(path).points
    assert a.row["n_chips"] == "1" and b.serve["overrides"]["n_chips"] == 1
    assert b.estimate == pytest.approx(2 * a.estimate, rel=1e-9)


def test_a_unit_that_is_no_throughput_is_one_line(cli, tmp_path):
    path = _one_row(tmp_path, unit="ms (mean)")
    status, _, err = cli("validate", "--data", str(path))
    assert status == 2 and "line 3: unit 'ms (mean)' is not a unit of output throughput" in err


def test_a_byte_order_mark_is_accepted_and_a_binary_file_refused(cli, tmp_path):
    path = _one_row(tmp_path)
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    status, out, _ = cli("validate", "--data", str(bom), "--no-fit", "--summary")
    assert status == 0 and "all" in out
    binary = tmp_path / "x.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    status, _, err = cli("validate", "--data", str(binary))
    assert status == 2 and "not a UTF-8 CSV file" in err and "Traceback" not in err


def test_held_back_moe_runs_are_predicted_better_than_the_bound(cli):
    """InferenceMAX runs never used to fit anything (tests/data; see its rows' sources).

    Measured when this landed: estimate 40.7% overall (throughput 22.9%, ITL 22.5%, end-to-end 28.0%, TTFT
    103%), bound 240%. The issue's target (20% on MoE) is not met; this keeps what was reached.
    """
    status, out, _ = cli("validate", "--data", str(HELD_BACK), "--no-fit", "--format", "json")
    assert status == 0
    summary = json.loads(out)["summary"]
    assert summary["all"]["estimate"]["points"] >= 900
    assert summary["all"]["estimate"]["error"] < 0.45
    for kind in ("output throughput", "inter-token latency", "end-to-end latency"):
        assert summary[kind]["estimate"]["error"] < 0.32, kind
        assert summary[kind]["estimate"]["error"] < summary[kind]["bound"]["error"], kind


def test_the_fit_grid_and_serve_agree_at_the_shipped_profile():
    """The grid the fit searches is evaluated through compiled functions, the estimate through serve: at the
    profile's own CPU times (which lie on the grid) both must give the same prediction."""
    import numpy

    from symroof import catalog, profiles
    from symroof.declare import REGISTRY

    points = [p for p in validation.load() if p.skipped is None][:300:60]
    for p in points:
        estimate = validation._predict(p, "estimate")
        profile = profiles.load(p.engine, catalog.load("hardware", p.row["chip"]))
        at = [validation.GRID[n].index(round(profile.values[n] / REGISTRY.get(n).factor, 9)) for n in validation.GRID]
        grid = validation._grid(p)[numpy.ravel_multi_index(at, [len(v) for v in validation.GRID.values()])]
        assert grid == pytest.approx(estimate, rel=1e-9), p.label
