"""The replay's percentiles move the way an engine's do (issue 30, done-when: "its p99s move the way engines' do").

Published table: tests/data/published_percentiles.csv (series ``a100x8-tp8``; where it comes from and what each
number means: tests/data/published_percentiles.md). vLLM's benchmark_serving.py, 200 ShareGPT prompts, Llama 3.3
70B on 8 A100 40GB (TP8), Poisson at 1, 4 and 16 requests/s, then all 200 at once (``inf``), run in that order
against one server.

The replay runs the same benchmark: the same 200 requests per run (not more: the run's ramp-up and drain are part
of what the engine measured), ten seeds, and each statistic is the median over the seeds (a p99 of 200 requests is
about the second-largest sample; one seed alone moves it by 20-30%). Lengths: the published run's mean input and
output (213.3 and 213.6 tokens, derived from its throughputs) spread uniformly by +-90% (``--spread 0.9``, the
widest symroof allows; ShareGPT's own spread is wider and heavy-tailed). Chip: the catalog's A100 with the 40 GB
part's memory (1,555 GB/s, 40 GB: NVIDIA A100 datasheet), estimate mode, vLLM profile.

Two readings of the run (see the .md): ``cold``, as the workload is stated; ``warm``, the runs after the first
with their 200 prompts already in vLLM's prefix cache (same server, same seed, same prompts), which the published
all-at-once TTFT requires: its median, 350 ms, is below the compute floor of a cold prefill (about 21,000 prompt
tokens ahead of the median request x 141 GFLOP a token = 3.0 PFLOP, at least 1.2 s at 8 x 312 TFLOP/s peak).
``warm`` sets cached_prefix_fraction 0.96 (whole 16-token blocks of a 213-token prompt) from the second run on.

Assertions, each able to fail (the tolerances and why):
- Median ITL rises with load, strictly, at every step (the engine's: 24.3 < 27.2 < 30.4 < 35.1 ms).
- Its growth from 1/s to all-at-once is within x1.5 of the engine's (1.44): a factor 1.5 separates "the batch
  grows and the step slows like the engine's" from a flat decode (ratio 1.0) or a twice-too-steep one.
- p99 TTFT rises from 4/s to 16/s in both (the engine's 1/s point is left out of this: it is the cold first run,
  above its 4/s point in every reading).
- p99 TTFT all-at-once over p99 TTFT at 4/s is within x3 of the engine's (6.7): the engine's own p99 moved by
  x2.1 between its first two runs for a reason the load does not explain, so x3 sits just above the source's noise;
  a replay whose wave is an order of magnitude too deep (``cold``: about 38) fails it.
- p99/p50 of TTFT at the highest Poisson load and all-at-once is within x1.5 of the engine's (2.07 and 1.29).

Where a reading fails, the assertion stays in and the case is marked xfail(strict=True) with the reason; the .md
says why. The absolute errors are printed (run with -s) and listed in the .md; they are not asserted here.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import numpy
import pytest

from symroof.replay import Benchmark, replay
from symroof.serve import serve

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data" / "published_percentiles.csv"
SERIES = "a100x8-tp8"
MODEL, CHIP = "llama-3.3-70b", "a100"
CHIP_40GB = {"n_chips": 8, "hbm_bandwidth": "1555 GB/s", "hbm_capacity": "40 GB"}
LOADS = ("1", "4", "16", "inf")
SEEDS, REQUESTS, SPREAD = range(10), 200, 0.9
WARM_CACHE = 0.96  # 13 whole 16-token blocks of a 213-token prompt are cached: 208 / 213
STATS = ("ttft_p50", "ttft_p99", "itl_p50", "itl_p99", "itl_mean")


@cache
def published() -> dict[str, dict[str, float]]:
    """The series' points by request rate: each statistic in seconds, and the mean lengths."""
    rows = [r for r in csv.DictReader(DATA.open(encoding="utf-8")) if r["series"] == SERIES]
    out = {}
    for r in rows:
        out[r["request_rate"]] = {
            "ttft_p50": float(r["ttft_p50_ms"]) / 1e3, "ttft_p99": float(r["ttft_p99_ms"]) / 1e3,
            "itl_p50": float(r["itl_p50_ms"]) / 1e3, "itl_p99": float(r["itl_p99_ms"]) / 1e3,
            "itl_mean": float(r["tpot_mean_ms"]) / 1e3,  # per-request TPOT mean: the replay's itl_mean
            "input": float(r["mean_input_tokens_derived"]), "output": float(r["mean_output_tokens_derived"])}
    assert sorted(out) == sorted(LOADS)
    return out


@cache
def replayed(reading: str) -> dict[str, dict[str, float]]:
    """The replay's statistics per load (seconds), the median over SEEDS of 200-request runs."""
    first = published()["1"]
    out = {}
    for i, load in enumerate(LOADS):
        overrides = dict(CHIP_40GB)
        if reading == "warm" and i > 0:
            overrides["cached_prefix_fraction"] = WARM_CACHE
        workload = {"concurrency": "max"} if load == "inf" else {"rate": f"{load}/s"}
        s = serve(MODEL, CHIP, first["input"], first["output"], overrides=overrides, **workload)
        runs = [replay(s.evaluations["estimate"], Benchmark(requests=REQUESTS, spread=SPREAD, seed=k)).values()
                for k in SEEDS]
        out[load] = {k: float(numpy.median([r[k] for r in runs])) for k in STATS}
    return out


def _report(reading: str) -> str:
    lines = [f"replay ({reading}) against {SERIES}, ms (error = replay / engine - 1):"]
    for load in LOADS:
        eng, rep = published()[load], replayed(reading)[load]
        lines.append(f"  {load:>3}/s " + "  ".join(
            f"{k} {1e3 * rep[k]:8.1f} vs {1e3 * eng[k]:7.1f} ({rep[k] / eng[k] - 1:+.0%})" for k in STATS))
    return "\n".join(lines)


READINGS = ("cold", "warm")


@pytest.mark.parametrize("reading", READINGS)
def test_the_absolute_errors_are_reported(reading, capsys):
    """Not a target here (symroof's absolute error is judged elsewhere): printed for the record."""
    with capsys.disabled():
        print("\n" + _report(reading))


@pytest.mark.parametrize("reading", READINGS)
def test_median_itl_rises_with_load_like_the_engine(reading):
    eng, rep = published(), replayed(reading)
    assert all(eng[a]["itl_p50"] < eng[b]["itl_p50"] for a, b in zip(LOADS, LOADS[1:], strict=False))  # the source
    got = [rep[x]["itl_p50"] for x in LOADS]
    assert all(a < b for a, b in zip(got, got[1:], strict=False)), got
    ratio_engine = eng["inf"]["itl_p50"] / eng["1"]["itl_p50"]
    ratio_replay = rep["inf"]["itl_p50"] / rep["1"]["itl_p50"]
    assert 1 / 1.5 <= ratio_replay / ratio_engine <= 1.5, (ratio_replay, ratio_engine)


@pytest.mark.parametrize("reading", READINGS)
def test_p99_ttft_rises_with_poisson_load(reading):
    eng, rep = published(), replayed(reading)
    assert eng["16"]["ttft_p99"] > eng["4"]["ttft_p99"]
    assert rep["16"]["ttft_p99"] > rep["4"]["ttft_p99"]


@pytest.mark.parametrize("reading", [
    pytest.param("cold", marks=pytest.mark.xfail(strict=True, reason=(
        "cold prefill of 200 prompts at once: the replay's p99 TTFT jumps x38 over 4/s against the engine's x6.7; "
        "the published all-at-once TTFT is below a cold prefill's compute floor, so that run read its prompts "
        "from the prefix cache (see published_percentiles.md)"))),
    "warm"])
def test_p99_ttft_jump_when_all_arrive_at_once(reading):
    eng, rep = published(), replayed(reading)
    jump_engine = eng["inf"]["ttft_p99"] / eng["4"]["ttft_p99"]
    jump_replay = rep["inf"]["ttft_p99"] / rep["4"]["ttft_p99"]
    assert jump_replay > 1 and jump_engine > 1
    assert 1 / 3 <= jump_replay / jump_engine <= 3, (jump_replay, jump_engine)


@pytest.mark.parametrize("reading, load", [
    ("cold", "16"), ("cold", "inf"), ("warm", "inf"),
    pytest.param("warm", "16", marks=pytest.mark.xfail(strict=True, reason=(
        "with the prompts cached a first token is one short step: the replay's TTFT at 16/s is nearly "
        "deterministic (p99/p50 about 1.2) where the engine's is 2.07; the engine's tail there is not prefill "
        "queueing, which is all the replay models (see published_percentiles.md)")))])
def test_ttft_tail_over_median_at_the_highest_loads(reading, load):
    eng, rep = published()[load], replayed(reading)[load]
    tail_engine, tail_replay = eng["ttft_p99"] / eng["ttft_p50"], rep["ttft_p99"] / rep["ttft_p50"]
    assert 1 / 1.5 <= tail_replay / tail_engine <= 1.5, (tail_replay, tail_engine)
