"""Edges a user reaches (issue 20): malformed units, yes/no and dense quantities in sensitivity, outputs named
one thing holding another, unitless targets. Each is one line on standard error and exit status 2."""

from __future__ import annotations

import pytest

HERE_MODEL = ("llama-3-70b", "tpu-v5e")


@pytest.mark.parametrize("argv, says", [
    (["eval", *HERE_MODEL, "--set", "hbm_bandwidth=820 GB/"], "ends in an operator"),
    (["eval", *HERE_MODEL, "--set", "batch_size=32 +"], "ends in an operator"),
    (["eval", *HERE_MODEL, "--set", "batch_size=32 ("], "parenthesis is not closed"),
    (["plan", "llama-3-70b", "h200", "--ttft", "2 s -"], "ends in an operator"),
    (["plan", "llama-3-70b", "h200", "--ttft", "2"], "give the unit too, like 2s"),
    (["plan", "llama-3-70b", "h200", "--tpot", "33"], "give the unit too, like 33ms"),
    (["sensitivity", "plan_feasible", "llama-3-70b", "h200"], "is a yes/no quantity"),
    (["sensitivity", "fits_in_hbm", *HERE_MODEL], "is a yes/no quantity"),
    (["sensitivity", "expected_experts_touched", *HERE_MODEL], "llama-3-70b is dense"),
    (["sweep", *HERE_MODEL, "--vary", "batch_size=1:1e8", "--format", "json"], "over the limit"),
])
def test_edge_inputs_are_one_line(cli, argv, says):
    status, _, err = cli(*argv)
    assert status == 2 and says in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_a_sweep_file_holds_what_its_name_says(cli, tmp_path):
    target = tmp_path / "s.xlsx"
    status, _, err = cli("sweep", *HERE_MODEL, "--vary", "batch_size=1,2", "-o", str(target))
    assert status == 2 and "symroof export" in err and not target.exists()
    target = tmp_path / "s.json"
    status, _, err = cli("sweep", *HERE_MODEL, "--vary", "batch_size=1,2", "-o", str(target))
    assert status == 2 and "--format csv" in err and not target.exists()
    status, _, _ = cli("sweep", *HERE_MODEL, "--vary", "batch_size=1,2", "-o", str(target), "--format", "json")
    assert status == 0 and target.read_text().startswith("{")


def test_import_model_writes_toml_and_keeps_what_exists(cli, tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64, "intermediate_size": '
                      '128, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100}')
    status, _, err = cli("import-model", str(config), "-o", str(tmp_path / "m.json"))
    assert status == 2 and "name it .toml" in err
    kept = tmp_path / "m.toml"
    kept.write_text("mine")
    status, _, err = cli("import-model", str(config), "-o", str(kept))
    assert status == 2 and "--force" in err and kept.read_text() == "mine"
    status, _, err = cli("import-model", str(config), "-o", str(kept), "--force")
    assert status == 0 and "n_layers = { value = 2," in kept.read_text(), err


def test_a_plan_is_priced_at_its_traffics_own_lengths():
    """Issue 20: the decode batch is sized at input + output tokens, not the default 8,192-token context."""
    from symroof.planner import plan

    p = plan("llama-3-70b", "h200", {"n_chips": 8, "input_length": "6000 token/sequence",
                                      "output_length": "6000 token/sequence"})
    ev = p.evaluations["bound"]
    assert ev.magnitude("context_length") == 12000
    # LLaMA 3-70B KV: 2 x 80 layers x 8 heads x 128 x 2 bytes = 327,680 B/token (bf16); 8 x 141 GB of H200
    fits = (8 * 141e9 - 2 * 70_553_706_496) / (327_680 * 12000)
    assert ev.magnitude("plan_batch_size") <= fits
    pinned = plan("llama-3-70b", "h200", {"n_chips": 8, "batch_size": 10})
    assert pinned.evaluations["bound"].magnitude("plan_batch_size") == 10


def test_calibrate_keeps_an_existing_file_and_writes_only_toml(cli, tmp_path):
    """Issue 31: calibrate -o overwrote an existing file (its --force was never read) and wrote TOML into .json."""
    from pathlib import Path

    data = str(Path(__file__).parent / "data" / "measurements" / "h100-2026-11-26")
    kept = tmp_path / "my-model.toml"
    kept.write_text("mine")
    status, _, err = cli("calibrate", data, "--hardware", "h100", "-o", str(kept))
    assert status == 2 and "--force" in err and err.count("\n") == 1 and kept.read_text() == "mine", err
    wrong = tmp_path / "cal.json"
    status, _, err = cli("calibrate", data, "--hardware", "h100", "-o", str(wrong))
    assert status == 2 and "name it .toml" in err and err.count("\n") == 1 and not wrong.exists(), err
    status, _, err = cli("calibrate", data, "--hardware", "h100", "-o", str(kept), "--force")
    assert status == 0 and 'chip = "h100"' in kept.read_text(), err


def test_validate_json_is_strict_json(cli, tmp_path):
    """Issue 31: a mode with no points (held out, under --no-fit) printed its undefined error as a bare NaN."""
    import csv
    import json

    from symroof import validation

    rows = list(csv.DictReader(validation.default_data().open(encoding="utf-8")))
    path = tmp_path / "one.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerow(next(r for r in rows if r["model"] == "llama-3.1-8b" and r["metric"] == "output_tokens_per_s_total"))
    status, out, err = cli("validate", "--data", str(path), "--no-fit", "--format", "json", "--quiet")
    assert status == 0, err

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    data = json.loads(out, parse_constant=refuse)  # NaN, Infinity and -Infinity are refused
    assert data["summary"]["all"]["held_out"] == {"error": None, "measured_over_predicted": None, "points": 0}
    assert data["summary"]["all"]["bound"]["points"] == 1 and data["summary"]["all"]["bound"]["error"] >= 0


DEEP = "a/" * 2000  # 2,000 folders that do not exist, then the file


@pytest.mark.parametrize("argv, name", [
    (["plot", "breakdown", "-o"], "x.png"),
    (["plot", "frontier", "llama-3-70b", "h100", "--rate", "10/s", "-o"], "x.html"),
    (["plot", "serving", "llama-3-70b", "h100", "-o"], "x.svg"),
    (["sweep", *HERE_MODEL, "--vary", "batch_size=1,2", "-o"], "x.csv"),
    (["export", *HERE_MODEL, "-o"], "x.xlsx"),
])
def test_an_output_path_two_thousand_folders_deep_is_one_line(cli, tmp_path, argv, name):
    """Issue 31: Path.mkdir(parents=True) recursed once per missing folder and raised RecursionError."""
    target = tmp_path / DEEP / name
    status, _, err = cli(*argv, str(target))
    assert status == 2 and err.count("\n") == 1 and "Traceback" not in err, err[:400]
    assert err.startswith("symroof: error: cannot write ") and "it would make 2,000 nested folders, more than the 64" \
        in err, err[:400]
    assert len(err) < 400  # the path is shortened, not printed whole (4,000 characters)
    assert list(tmp_path.iterdir()) == []  # nothing made


def test_a_path_too_long_or_with_a_name_too_long_is_one_line(cli, tmp_path):
    """Linux's limits: a path of 4,096 bytes (PATH_MAX), a name of 255 (NAME_MAX); both are refused before any
    folder is made."""
    long = tmp_path / "/".join(["b" * 250] * 20) / "x.csv"  # 20 names of 250 bytes: over 5,000 bytes
    status, _, err = cli("sweep", *HERE_MODEL, "--vary", "batch_size=1,2", "-o", str(long))
    assert status == 2 and err.count("\n") == 1 and "over this system's limit of 4,096" in err, err[:400]
    name = tmp_path / ("c" * 256 + ".csv")
    status, _, err = cli("sweep", *HERE_MODEL, "--vary", "batch_size=1,2", "-o", str(name))
    assert status == 2 and err.count("\n") == 1 and "over this system's limit of 255 bytes" in err, err[:400]
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_removes_the_folders_it_made(tmp_path):
    from symroof.core.files import atomic_write

    def fails(tmp: str) -> None:
        raise OSError(28, "No space left on device", tmp)

    target = tmp_path / "new" / "deeper" / "x.csv"
    with pytest.raises(OSError) as caught:
        atomic_write(target, fails)
    assert caught.value.filename == str(target)
    assert list(tmp_path.iterdir()) == []
    atomic_write(target, lambda tmp: open(tmp, "w").write("ok"))  # the folders are made when the write works
    assert target.read_text() == "ok"
