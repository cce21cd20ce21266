"""symroof.measure: a --smoke run on the CPU writes the shared measurements' schema, with formula columns that
match the formulas computed here, and every user error is one line with status 2."""

from __future__ import annotations

import contextlib
import csv
import io
import math
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from symroof import measure  # noqa: E402

#: The headers of the shared measurements (shared/measurements/*/), as calibrate reads them.
SCHEMA = {
    "ceilings.csv": ["what", "bytes", "flops", "seconds", "rate", "unit"],
    "matmul.csv": ["dtype", "B", "D", "F", "seconds", "flops", "weight_bytes", "act_bytes"],
    "attention.csv": ["kernel", "B", "S", "n_heads", "n_kv_heads", "d_head", "seconds", "kv_bytes"],
    "prefill.csv": ["n_layers", "T", "seconds", "matmul_flops", "attn_flops", "param_bytes"],
}
NUMERIC = {name: [c for c in cols if c not in ("what", "unit", "dtype", "kernel")] for name, cols in SCHEMA.items()}


def shared_run() -> Path | None:
    """The shared H100 run: beside the checkout (as CI lays it), or at the workplace's usual place."""
    for root in (Path(__file__).resolve().parents[2] / "shared", Path("/work/shared")):
        folder = root / "measurements" / "h100-2026-11-26"
        if folder.is_dir():
            return folder
    return None


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def run_main(*argv: str) -> tuple[int, str, str]:
    """``measure.main`` in-process: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = measure.main(list(argv))
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """One full --smoke run, shared by the tests that read its files."""
    folder = tmp_path_factory.mktemp("smoke") / "out"  # not there yet: main makes it
    status, out, err = run_main(str(folder), "--smoke")
    assert status == 0, err
    assert not err
    return folder, out


def test_shared_headers_are_the_schema():
    folder = shared_run()
    if folder is None:
        pytest.skip("the shared measurements are not on this machine")
    for name, columns in SCHEMA.items():
        assert read(folder / name)[0] == columns, name


def test_smoke_writes_every_file_with_the_shared_header(smoke):
    folder, out = smoke
    assert sorted(p.name for p in folder.iterdir()) == sorted([*SCHEMA, "env.txt"])  # no temporary files left
    assert out.split() == [str(folder / name) for name in ("env.txt", *SCHEMA)]
    reference = shared_run()
    for name, columns in SCHEMA.items():
        header, rows = read(folder / name)
        assert header == columns, name
        if reference is not None:
            assert header == read(reference / name)[0], name
        assert rows, name


def test_smoke_rows_are_positive_finite_numbers(smoke):
    folder, _ = smoke
    for name, columns in NUMERIC.items():
        for row in read(folder / name)[1]:
            for column in columns:
                value = float(row[column])
                assert math.isfinite(value), (name, column, row)
                # Bandwidth rows move bytes and do no FLOPs: their flops are 0, everything else is positive.
                assert value > 0 or (name == "ceilings.csv" and column == "flops" and row["unit"] == "byte/s")


def test_ceilings_formulas(smoke):
    rows = {r["what"]: r for r in read(smoke[0] / "ceilings.csv")[1]}
    assert list(rows) == ["copy_bandwidth", "read_bandwidth", "matmul_bf16"]  # no fp8 on a CPU
    copy, read_, mm = rows["copy_bandwidth"], rows["read_bandwidth"], rows["matmul_bf16"]
    assert int(copy["bytes"]) == 2 * int(read_["bytes"])  # read plus write of the same bf16 buffer
    assert (copy["unit"], read_["unit"], mm["unit"]) == ("byte/s", "byte/s", "FLOP/s")
    m = round(int(mm["flops"]) ** (1 / 3) / 2 ** (1 / 3))
    assert int(mm["flops"]) == 2 * m**3 and int(mm["bytes"]) == 3 * m * m * 2
    for row in rows.values():
        work = float(row["flops"] if row["unit"] == "FLOP/s" else row["bytes"])
        assert float(row["rate"]) == pytest.approx(work / float(row["seconds"]), rel=1e-12)


def test_matmul_formulas(smoke):
    rows = read(smoke[0] / "matmul.csv")[1]
    assert {r["dtype"] for r in rows} == {"bf16"}  # fp8 rows are skipped on a CPU
    assert {int(r["D"]) for r in rows} == {256}
    assert {int(r["F"]) for r in rows} == {512, 64}
    assert sorted({int(r["B"]) for r in rows}) == [1, 2, 4, 8, 16]
    for r in rows:
        b, d, f = int(r["B"]), int(r["D"]), int(r["F"])
        assert int(r["flops"]) == 2 * b * d * f
        assert int(r["weight_bytes"]) == d * f * 2
        assert int(r["act_bytes"]) == (b * d + b * f) * 2


def test_attention_formulas(smoke):
    rows = read(smoke[0] / "attention.csv")[1]
    assert {r["kernel"] for r in rows} == {"bmm", "sdpa"}
    assert max(int(r["S"]) for r in rows) <= 256
    for r in rows:
        b, s, kv, dh = int(r["B"]), int(r["S"]), int(r["n_kv_heads"]), int(r["d_head"])
        assert int(r["kv_bytes"]) == 2 * b * s * kv * dh * 2
        assert int(r["n_heads"]) % kv == 0


def test_prefill_formulas(smoke):
    s = measure.SMOKE  # the shapes are not in the file; the formulas are computed here
    d, f, nq, nkv, dh = s.layer_d, s.layer_f, s.n_heads, s.n_kv_heads, s.d_head
    params = d * (nq + 2 * nkv) * dh + nq * dh * d + 3 * d * f  # QKV, output projection, gate, up, down
    rows = read(smoke[0] / "prefill.csv")[1]
    assert [int(r["T"]) for r in rows] == list(s.prefill_t)
    for r in rows:
        n, t = int(r["n_layers"]), int(r["T"])
        assert n == s.n_layers
        assert int(r["matmul_flops"]) == 2 * t * n * params
        assert int(r["attn_flops"]) == n * 2 * nq * dh * t * t
        assert int(r["param_bytes"]) == n * params * 2


def test_env_says_smoke_and_no_fp8(smoke):
    lines = (smoke[0] / "env.txt").read_text().splitlines()
    env = dict(line.split(" ", 1) for line in lines)
    assert len(env) == len(lines)  # one line per key
    assert env["smoke"] == "true"
    assert env["fp8"].startswith("no")
    assert env["device"].startswith("cpu")
    assert env["torch"] == torch.__version__
    assert env["parts"] == "ceilings,matmul,attention,prefill"


def test_full_plan_matches_the_shared_h100_run():
    """The full run's rows and formula columns are the shared data's (the B grid there is finer)."""
    folder = shared_run()
    if folder is None:
        pytest.skip("the shared measurements are not on this machine")
    plans = {"ceilings.csv": measure.ceilings_plan(measure.FULL, fp8=True),
             "matmul.csv": measure.matmul_plan(measure.FULL, fp8=True),
             "attention.csv": measure.attention_plan(measure.FULL), "prefill.csv": measure.prefill_plan(measure.FULL)}
    for name, plan in plans.items():
        shared = [{k: v for k, v in r.items() if k not in ("seconds", "rate")} for r in read(folder / name)[1]]
        ours = [{k: str(v) for k, v in r.items()} for r in plan]
        assert all(r in shared for r in ours), name
        if name != "matmul.csv":
            assert ours == shared, name
    bs = sorted({r["B"] for r in plans["matmul.csv"]})
    assert bs == [2**i for i in range(14)]


def test_only_one_part(tmp_path):
    status, out, err = run_main(str(tmp_path), "--smoke", "--only", "matmul")
    assert status == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["env.txt", "matmul.csv"]
    assert "parts matmul\n" in (tmp_path / "env.txt").read_text()


def test_progress_reaches_the_total(tmp_path):
    calls = []
    paths = measure.measure(tmp_path, smoke=True, device="cpu", parts={"prefill", "attention"},
                            progress=lambda done, total: calls.append((done, total)))
    assert [p.name for p in paths] == ["env.txt", "attention.csv", "prefill.csv"]
    total = len(measure.attention_plan(measure.SMOKE)) + len(measure.prefill_plan(measure.SMOKE))
    assert calls == [(i, total) for i in range(1, total + 1)]


def test_an_interrupted_run_leaves_no_half_written_file(tmp_path, monkeypatch):
    def interrupted(run, rows):
        yield {**rows[0], "seconds": 1.0}
        raise KeyboardInterrupt

    monkeypatch.setitem(measure.MEASURES, "attention", interrupted)
    status, _, err = run_main(str(tmp_path), "--smoke", "--only", "ceilings,attention")
    assert status == 130 and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ceilings.csv", "env.txt"]  # no attention.csv, no temp


def test_rows_too_big_for_the_device_are_left_out_and_listed(tmp_path, monkeypatch):
    def fits(run, nbytes):  # as if the GPU had 0.4 MB free: the largest KV cache (B=4, S=256) does not fit
        if nbytes > 400_000:
            raise measure.Skip("needs more than there is")

    monkeypatch.setattr(measure.Run, "fits", fits)
    status, _, err = run_main(str(tmp_path), "--smoke", "--only", "attention")
    assert status == 0, err
    rows = read(tmp_path / "attention.csv")[1]
    assert len(rows) == len(measure.attention_plan(measure.SMOKE)) - 2
    assert not any(r["B"] == "4" and r["S"] == "256" for r in rows)
    skipped = [line for line in (tmp_path / "env.txt").read_text().splitlines() if line.startswith("skipped ")]
    assert skipped == ["skipped attention kernel=bmm B=4 S=256 (needs more than there is); "
                       "attention kernel=sdpa B=4 S=256 (needs more than there is)"]


def one_line_error(status: int, out: str, err: str) -> str:
    assert status == 2 and not out
    assert len(err.splitlines()) == 1 and err.startswith("symroof: error: "), err
    return err


@pytest.mark.parametrize(("args", "says"), [
    (["--only", "matmul,kernels"], "--only kernels: not a part"),
    (["--only", ","], "--only names no part"),
    (["--device", "tpu"], "--device tpu: choose cuda or cpu"),
    (["--frobnicate"], "unrecognized arguments: --frobnicate"),
])
def test_bad_options_are_one_line(tmp_path, args, says):
    err = one_line_error(*run_main(str(tmp_path / "out"), "--smoke", *args))
    assert says in err
    assert not (tmp_path / "out").exists()  # nothing measured, nothing written


def test_missing_out_dir_is_one_line():
    assert "OUT_DIR" in one_line_error(*run_main())


def test_output_path_that_is_a_file_is_one_line(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    assert "is not a folder" in one_line_error(*run_main(str(path), "--smoke"))
    assert path.read_text() == "mine"


def test_output_folder_under_a_file_is_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    assert "cannot write" in one_line_error(*run_main(str(tmp_path / "notes.txt" / "out"), "--smoke"))


def test_full_size_on_cpu_is_refused(tmp_path):
    assert "give --smoke" in one_line_error(*run_main(str(tmp_path), "--device", "cpu"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_gpu_is_one_line(tmp_path):
    assert "no CUDA GPU" in one_line_error(*run_main(str(tmp_path / "out"), "--smoke", "--device", "cuda"))
    assert not (tmp_path / "out").exists()


def test_missing_torch_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # ``import torch`` now raises ImportError
    err = one_line_error(*run_main(str(tmp_path), "--smoke"))
    assert err == ('symroof: error: measuring needs PyTorch: pip install "symroof[measure]" '
                   '(or ".[measure]" from a checkout)\n')


def test_import_needs_no_torch():
    code = "import sys; sys.modules['torch'] = None; import symroof.measure; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr
