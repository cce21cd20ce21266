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
    assert set(full.fitted) == {p.harness for p in done if not p.excluded}  # trtllm-bench fitted apart
    for values, err, n in full.fitted.values():
        assert set(values) == set(validation.GRID) and n > 0 and math.isfinite(err)


def _one_row(tmp_path, **changes) -> Path:
    """The dataset's first TensorRT-LLM max-throughput row (dense), with ``changes``."""
    return _rows(tmp_path, changes)


def _rows(tmp_path, *changes: dict) -> Path:
    """That row as it is (line 2), then once with each of ``changes`` (lines 3, 4, ...)."""
    rows = list(csv.DictReader(validation.default_data().open(encoding="utf-8")))
    row = next(r for r in rows if r["model"] == "llama-3.1-8b" and r["batch"] == "max"
               and r["metric"] == "output_tokens_per_s_total")
    path = tmp_path / "one.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerow(row)
        for change in changes:
            w.writerow({**row, **change})
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
        estimate = validation._predict(p)[1]
        profile = profiles.load(p.engine, catalog.load("hardware", p.row["chip"]))
        at = [validation.GRID[n].index(round(profile.values[n] / REGISTRY.get(n).factor, 9)) for n in validation.GRID]
        grid = validation._grid(p)[numpy.ravel_multi_index(at, [len(v) for v in validation.GRID.values()])]
        assert grid == pytest.approx(estimate, rel=1e-9), p.label


LATENCY = {"batch": "", "metric": "ttft_ms", "unit": "ms"}  # a closed-loop TTFT row: read by its concurrency


@pytest.mark.parametrize("change, says", [
    ({**LATENCY, "concurrency": "-4"}, "concurrency '-4'"),  # was predicted as one user
    ({**LATENCY, "concurrency": "0"}, "concurrency '0'"),
    ({"n_chips": "inf"}, "n_chips 'inf'"),  # was a traceback
    ({"n_chips": "nan"}, "n_chips 'nan'"),
    ({"batch": "-8"}, "batch '-8'"),
])
def test_a_number_not_above_0_refuses_the_file_at_its_line(cli, tmp_path, change, says):
    """Issue 31: the row is refused, naming the file, the line and the column, before anything is predicted."""
    path = _rows(tmp_path, change)
    status, _, err = cli("validate", "--data", str(path), "--quiet")
    assert status == 2 and f"{path} line 3: {says} must be a finite number above 0" in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_repeated_column_is_refused_by_name(cli, tmp_path):
    """Issue 31: a second ``value`` column silently replaced the first."""
    lines = _rows(tmp_path).read_text(encoding="utf-8").splitlines()
    path = tmp_path / "twice.csv"
    path.write_text("\n".join([lines[0] + ",value", lines[1] + ",5"]) + "\n", encoding="utf-8")
    status, _, err = cli("validate", "--data", str(path), "--quiet")
    assert status == 2 and "the header has 'value' more than once" in err and err.count("\n") == 1, err


def test_cells_past_the_header_are_refused(cli, tmp_path):
    lines = _rows(tmp_path).read_text(encoding="utf-8").splitlines()
    path = tmp_path / "long.csv"
    path.write_text("\n".join([lines[0], lines[1] + ",5,6"]) + "\n", encoding="utf-8")
    status, _, err = cli("validate", "--data", str(path), "--quiet")
    assert status == 2 and "line 2: 2 cell(s) beyond the header's" in err and err.count("\n") == 1, err


def test_unknown_models_chips_and_metrics_are_warned_with_their_rows(cli, tmp_path):
    """Issue 31: such rows were skipped without a word. Per-node metrics symroof knows and does not predict (in
    the shipped dataset) are not warned."""
    path = _rows(tmp_path, {"model": "llama-9"}, {"model": "llama-9"}, {"chip": "h900"},
                 {"metric": "tokens_per_s_totl"}, {"metric": "input_tokens_per_s_per_node"})
    status, out, err = cli("validate", "--data", str(path), "--quiet", "--summary")
    assert status == 0, err
    warnings = err.splitlines()
    assert len(warnings) == 3, err
    assert "symroof: warning: 2 rows not predicted: model 'llama-9'" in warnings[0]
    assert "symroof: warning: 1 row not predicted: chip 'h900'" in warnings[1]
    assert "symroof: warning: 1 row not predicted: metric 'tokens_per_s_totl'" in warnings[2]
    assert "output_tokens_per_s_total" in warnings[2]  # the known metrics are listed
    assert "(x" in out and "  1)" in out  # the one good row is still predicted


def test_validate_uses_the_shipped_profiles_unless_asked_to_fit(cli, tmp_path):
    """Issue 31: validate refitted the CPU times on every run (89 s on the shipped data); the fit is --fit now."""
    path = _rows(tmp_path, {"n_chips": "2", "tensor_parallel": "1"})
    status, out, err = cli("validate", "--data", str(path), "--quiet", "--format", "json")
    assert status == 0, err
    shipped = json.loads(out)
    assert shipped["fitted"] == {} and all(p["held_out"] is None for p in shipped["points"])
    assert [p["estimate"] is not None for p in shipped["points"]] == [True, True]
    status, out, err = cli("validate", "--data", str(path), "--quiet", "--format", "json", "--fit")
    assert status == 0, err
    fitted = json.loads(out)["fitted"]
    # a trtllm-bench table row: fitted per harness, apart from trtllm-serve (issue 30)
    assert set(fitted) == {"trtllm-bench"} and fitted["trtllm-bench"]["points"] == 2
    assert set(fitted["trtllm-bench"]["values"]) == set(validation.GRID)


def test_summary_csv_is_the_error_table(cli, tmp_path):
    """--summary was ignored by --format csv (every point was printed)."""
    path = _rows(tmp_path)
    status, out, err = cli("validate", "--data", str(path), "--quiet", "--summary", "--format", "csv")
    assert status == 0, err
    rows = list(csv.DictReader(out.splitlines()))
    assert list(rows[0]) == ["set", "mode", "error", "measured_over_predicted", "points"]
    first = {(r["set"], r["mode"]): r for r in rows}
    assert first[("all", "bound")]["points"] == "1" and first[("all", "held_out")]["points"] == "0"
    assert first[("all", "held_out")]["error"] == ""  # no points: no error, not a NaN
    # one point: the error is |measured / predicted - 1| folded above 1, from the ratio the row itself reports
    ratio = float(first[("all", "bound")]["measured_over_predicted"])
    assert float(first[("all", "bound")]["error"]) == pytest.approx(max(ratio, 1 / ratio) - 1, rel=1e-4)
    status, out, err = cli("validate", "--data", str(path), "--quiet", "--summary", "--format", "json")
    assert status == 0 and set(json.loads(out)) == {"summary", "fitted", "not_predicted", "not_replayed"}, err
    # (no per-point list)
