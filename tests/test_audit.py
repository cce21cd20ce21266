"""The audit of symroof/data/serving.csv and validation with the replay (issue 30, items 4 and 5).

Every expected count here comes from pandas over the CSV itself, not from symroof's reading of it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas
import pytest

from symroof import serve, validation
from symroof.validation import audit

HERE = Path(__file__).parent
NOVEL = HERE / "data" / "held_back_novel.csv"
HELD_BACK = HERE / "data" / "held_back_inferencemax.csv"
#: The columns that name a configuration, as the audit (and the issue) state them.
CONFIG = [
    "model",
    "chip",
    "n_chips",
    "tensor_parallel",
    "pipeline_parallel",
    "expert_parallel",
    "attention_data_parallel",
    "weight_dtype",
    "kv_dtype",
    "input_length",
    "output_length",
    "batch",
    "concurrency",
    "rate",
]


def frame(path: Path) -> pandas.DataFrame:
    d = pandas.read_csv(path, dtype=str, keep_default_na=False)
    d["group"] = d["source"].str.split(" @").str[0].str.split(" (", regex=False).str[0].str.strip()
    return d


def keys(d: pandas.DataFrame) -> list[tuple]:
    """Each row's configuration: numbers by value, words in lower case, the engine by its first word."""

    def cell(text: str) -> str:
        try:
            return f"{float(text):g}"
        except ValueError:
            return text.strip().lower()

    engine = d["engine"].str.lower().str.split().str[0]
    cols = [d[c].map(cell) if c in d else pandas.Series([""] * len(d), index=d.index) for c in CONFIG]
    return list(zip(*cols, engine, strict=True))


@pytest.fixture(scope="module")
def data():
    return frame(validation.default_data())


@pytest.fixture(scope="module")
def shipped():
    return validation.run(fit=False)


def test_audit_counts_match_an_independent_count_of_the_file(data, shipped):
    sources = audit.audit(shipped.points)
    expected = data.groupby("group").size().to_dict()
    assert {name: s.rows for name, s in sources.items()} == expected
    flagged = data[data["excluded_from_fit"] != ""].groupby("group").size().to_dict()
    assert {n: s.excluded for n, s in sources.items() if s.excluded} == flagged
    # nothing is dropped without a word: every row is predicted or counted under a reason
    for s in sources.values():
        assert s.predicted + sum(s.not_predicted.values()) == s.rows, s.name
    # the named cases: 260 rows of an engine without a profile, and the rows whose chip does not publish
    # a value they need (once 298 rows silently dropped as nan), counted
    atom = int(data["engine"].str.startswith("AMD ATOM").sum())
    assert atom == 260
    counted = sum(n for s in sources.values() for r, n in s.not_predicted.items() if "'AMD ATOM' has no profile" in r)
    assert counted == atom
    unpublished = sum(n for s in sources.values() for r, n in s.not_predicted.items() if "does not publish" in r)
    assert unpublished > 0


def test_repeated_configurations_are_counted(data, shipped):
    sources = audit.audit(shipped.points)
    d = data.assign(key=keys(data))
    expected = int(d.duplicated(subset=["key", "metric"], keep=False).sum())
    assert sum(s.repeated for s in sources.values()) == expected > 0


def test_qps_rows_are_read_as_an_open_loop(data):
    """The audit's fix: 18 rows at 'QPS=2 req/s' were predicted as one user (their rate lived in the notes)."""
    qps = data[data["notes"].str.contains("QPS=2 req/s", regex=False)]
    assert len(qps) == 18 and set(qps["rate"]) == {"2"} and set(qps["workload"]) == {"rate"}
    points = {p.line: p for p in validation.load()}
    for line in qps.index + 2:
        assert points[line].serve.get("rate") == 2.0


def test_flagged_rows_never_enter_a_fit(tmp_path):
    """A flagged row 100x off changes nothing the fit chooses, and the fit counts only the unflagged row."""
    rows = list(csv.DictReader(validation.default_data().open(encoding="utf-8")))
    row = next(
        r
        for r in rows
        if r["model"] == "llama-3.1-8b" and r["batch"] == "max" and r["metric"] == "output_tokens_per_s_total"
    )
    plain, flagged = tmp_path / "plain.csv", tmp_path / "flagged.csv"
    for path, extra in (
        (plain, []),
        (flagged, [{**row, "value": str(float(row["value"]) * 100), "excluded_from_fit": "test: 100x off"}]),
    ):
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, list(row))
            w.writeheader()
            w.writerows([row, *extra])
    a, b = validation.run(plain), validation.run(flagged)
    assert a.fitted == b.fitted and all(n == 1 for _, _, n in b.fitted.values())
    summary = json.loads(validation.render(b, "json"))["summary"]
    assert summary["excluded from fit"]["estimate"]["points"] == 1  # still predicted, reported apart


def test_the_fit_never_uses_a_flagged_or_held_out_source(shipped):
    full = validation.run()  # the fit over the shipped data
    done = full.predicted()
    flagged = [p for p in done if p.excluded]
    assert flagged and all(p.row["chip"] == "h100" for p in flagged)
    fitting = [p for p in done if not p.excluded]
    for harness, (values, _, n) in full.fitted.items():
        assert n == sum(p.harness == harness for p in fitting)
        for name, v in values.items():
            assert validation.BOUNDS[name][0] <= v <= validation.BOUNDS[name][1]


def test_the_novel_held_back_file_repeats_no_fitted_configuration(data):
    novel, fitted = frame(NOVEL), set(keys(data))
    assert len(novel) >= 300
    assert not set(keys(novel)) & fitted
    # and it is the held-back file less exactly the rows whose configuration serving.csv has
    held = frame(HELD_BACK)
    assert len(novel) == sum(k not in fitted for k in keys(held))


def _inferencemax_ttft_row(tmp_path) -> tuple[Path, dict]:
    rows = list(csv.DictReader(validation.default_data().open(encoding="utf-8")))
    row = next(
        r
        for r in rows
        if "inferencemax" in r["source"]
        and r["metric"] == "ttft_ms"
        and r["workload"] == "concurrency"
        and r["engine"].startswith("vLLM")
        and r["concurrency"] == "16"
    )
    static = next(
        r for r in rows if r["workload"] == "" and r["batch"] not in ("", "max") and r["metric"].startswith("e2e")
    )
    path = tmp_path / "bench.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, list(row))
        w.writeheader()
        w.writerows([row, static])
    return path, row


def test_the_replay_column_is_serve_replay_for_benchmark_rows(cli, tmp_path):
    path, row = _inferencemax_ttft_row(tmp_path)
    status, out, err = cli("validate", "--data", str(path), "--quiet", "--replay", "--format", "json")
    assert status == 0, err
    replayed, static = json.loads(out)["points"]
    assert static["estimate"] is not None and static["replay"] is None  # a static batch: no benchmark to replay
    p = validation.load(path)[0]
    kwargs = {k: v for k, v in p.serve.items() if k != "workload_text"}
    bench = validation.benchmark(p)  # InferenceMAX: 10 requests per user, lengths drawn over 0.8 L .. L
    assert len(bench.lengths[0]) == 10 * int(row["concurrency"])
    assert bench.lengths[0].min() >= int(0.8 * float(row["input_length"])) and bench.lengths[0].max() <= float(
        row["input_length"]
    )
    replays = serve(row["model"], row["chip"], engine=p.engine, replay=bench, **kwargs).replays
    mean_ttft_ms = replays["estimate"].values()["ttft_mean"] * 1000  # seconds to ms
    assert replayed["replay"] == pytest.approx(mean_ttft_ms, rel=1e-9)
    assert replayed["replay"] != pytest.approx(replayed["estimate"], rel=1e-3)  # not the closed form again


@pytest.mark.slow
def test_the_committed_audit_tables_are_fresh():
    """symroof/data/AUDIT.md's tables are written by symroof.validation.audit.markdown over the shipped dataset;
    an edit of the data or of how a row is read must rewrite them, or the file's counts say something false."""
    from pathlib import Path

    from symroof.validation import run
    from symroof.validation.audit import markdown

    committed = (Path(__file__).resolve().parents[1] / "symroof" / "data" / "AUDIT.md").read_text()
    assert markdown(run(fit=False).points).strip() in committed
