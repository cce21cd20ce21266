"""The highest request rate meeting percentile limits, by the replay (issue 30, item 2).

The answer is checked by replaying it independently (``serve`` at the rate, then ``replay`` with the same seed):
it meets every limit at the rate found and misses one 2% above; a looser limit gives a higher rate; the rate
stays at or below the closed form's saturation rate. Bad input: one line, exit status 2.
"""

from __future__ import annotations

import json

import pytest

from symroof.core.errors import InputError
from symroof.core.units import Q_
from symroof.max_rate import Limit, limit, max_rate, parse_limits
from symroof.replay import Benchmark, replay
from symroof.serve import serve

MODEL, CHIP, IN, OUT, N = "llama-3.1-8b", "h100", 1024, 256, 300
SERVE = ("serve", MODEL, CHIP, "--input", str(IN), "--output", str(OUT), "--requests", str(N))


def _replayed(rate: float, mode: str, requests: int = N):
    """The replay at ``rate`` through the public route, no search code."""
    return replay(serve(MODEL, CHIP, IN, OUT, rate=rate).evaluations[mode], Benchmark(requests=requests, seed=0))


def _meets(r, limits: tuple[Limit, ...]) -> bool:
    metric = {"ttft": "ttft", "tpot": "itl"}
    return all(r.summary(metric[x.metric], f"p{x.percentile:g}") <= x.seconds for x in limits)


def _rate(result, mode: str) -> float:
    return float(getattr(x := result.value("max_request_rate", mode), "magnitude", x))


@pytest.fixture(scope="module")
def tpot_bound():
    """A TPOT limit that binds in both modes below saturation."""
    return max_rate(MODEL, CHIP, IN, OUT, {"ttft_p99": "2 s", "tpot_p99": "15 ms"}, requests=N)


@pytest.mark.parametrize("limits", [{"ttft_p99": "2 s", "tpot_p99": "15 ms"}, {"ttft_p99": "200 ms"},
                                    {"ttft_p90": "150 ms", "tpot_p95": "25 ms"}])
def test_the_answer_meets_the_limits_and_2_percent_more_misses_them(limits):
    result = max_rate(MODEL, CHIP, IN, OUT, limits, requests=N)
    checked = 0
    for mode, found in result.found.items():
        rate = _rate(result, mode)
        assert rate <= found.saturation * (1 + 1e-9)
        assert _meets(_replayed(rate, mode), result.limits), mode
        if found.everywhere:  # met at saturation: said so, nothing above to miss
            assert rate == pytest.approx(found.saturation) and "saturation" in result.notes(mode)[0]
            continue
        checked += 1
        assert rate < found.saturation
        assert found.above <= rate * (1 + result.tolerance) + 1e-12
        assert not _meets(_replayed(1.02 * rate, mode), result.limits), mode
        assert found.binding and set(found.binding) <= {x.name for x in result.limits}
    assert checked  # every case binds below saturation in at least one mode


def test_the_search_is_deterministic_and_reports_the_replay_at_its_rate(tpot_bound):
    again = max_rate(MODEL, CHIP, IN, OUT, {"ttft_p99": "2 s", "tpot_p99": "15 ms"}, requests=N)
    for mode in ("bound", "estimate"):
        assert _rate(again, mode) == _rate(tpot_bound, mode)
        r = _replayed(_rate(tpot_bound, mode), mode)
        assert tpot_bound.value("itl_p99", mode) == pytest.approx(r.summary("itl", "p99"), rel=1e-12)
        assert tpot_bound.value("replay_output_throughput_per_chip", mode) == pytest.approx(
            r.values()["replay_output_throughput_per_chip"], rel=1e-12)
    assert _rate(tpot_bound, "estimate") < _rate(tpot_bound, "bound")  # overheads cost rate


def test_a_looser_limit_gives_a_higher_rate(tpot_bound):
    looser = max_rate(MODEL, CHIP, IN, OUT, {"ttft_p99": "2 s", "tpot_p99": "25 ms"}, requests=N)
    loosest = max_rate(MODEL, CHIP, IN, OUT, {"ttft_p99": "2 s", "tpot_p99": "60 ms"}, requests=N)
    for mode in ("bound", "estimate"):
        a, b, c = (_rate(x, mode) for x in (tpot_bound, looser, loosest))
        assert a < b <= c, mode
    ttft = [max_rate(MODEL, CHIP, IN, OUT, {"ttft_p99": t}, requests=N) for t in ("150 ms", "300 ms")]
    assert _rate(ttft[0], "estimate") < _rate(ttft[1], "estimate")


def test_a_limit_met_up_to_saturation_answers_the_saturation_rate(cli):
    status, out, err = cli(*SERVE, "--max-rate", "--ttft-p99", "60s", "--tpot-p99", "1s")
    assert status == 0, err
    assert "every limit holds at every rate up to the closed form's saturation rate" in out
    status, out, _ = cli(*SERVE, "--max-rate", "--ttft-p99", "60s", "--tpot-p99", "1s", "--format", "json")
    got = json.loads(out)
    for mode in ("bound", "estimate"):
        q = got[mode]["quantities"]
        assert got[mode]["search"]["saturated"] is True
        assert q["max_request_rate"]["value"] == pytest.approx(q["saturation_request_rate"]["value"])
        assert q["max_request_rate"]["unit"] == "sequence / second"


def test_the_command_line_answers_with_units_and_the_percentiles_there(cli):
    status, out, err = cli(*SERVE, "--max-rate", "--ttft-p99=2s", "--tpot-p95", "15ms", "--format", "json")
    assert status == 0, err
    got = json.loads(out)
    assert got["tolerance"] == 0.01 and got["requests"] == N
    assert [x["name"] for x in got["limits"]] == ["ttft_p99", "tpot_p95"]
    for mode in ("bound", "estimate"):
        q = got[mode]["quantities"]
        assert q["max_request_rate"]["value"] > 0
        assert q["itl_p95"]["unit"] == "millisecond" and q["itl_p95"]["value"] <= 15
        assert q["ttft_p99"]["value"] <= 2000
        assert q["replay_output_throughput_per_chip"]["unit"] == "token / chip / second"
    status, out, err = cli(*SERVE, "--max-rate", "--ttft-p99", "2s", "--tpot-p95", "15ms")
    assert status == 0, err
    assert "max_request_rate" in out and "itl_p95" in out and "at most 1% higher" in out


def test_the_api_takes_quantities_and_refuses_what_the_command_line_refuses():
    assert limit("tpot", 99, Q_(200, "ms")).seconds == pytest.approx(0.2)
    assert parse_limits({"itl_p90": "50 ms"})[0].name == "tpot_p90"
    for bad in ({"ttft_p99": "2"}, {"ttft_p99": "-1 s"}, {"ttft_p100": "2 s"}, {"ttft_mean": "2 s"}, {},
                {"ttft_p99": "2 GB"}):
        with pytest.raises(InputError):
            parse_limits(bad)
    with pytest.raises(InputError, match="request_rate"):
        max_rate(MODEL, CHIP, IN, OUT, {"ttft_p99": "2 s"}, overrides={"request_rate": "5/s"})


@pytest.mark.parametrize(("args", "says"), [
    (("--max-rate", "--ttft-p100", "2s"), "strictly between 0 and 100"),
    (("--max-rate", "--tpot-p0", "20ms"), "strictly between 0 and 100"),
    (("--max-rate", "--ttft-percentile", "-5", "--ttft", "2s"), "strictly between 0 and 100"),
    (("--max-rate", "--ttft-p99", "2"), "give the unit too"),
    (("--max-rate", "--ttft-p99", "0s"), "above zero"),
    (("--max-rate", "--ttft-p99=-2s"), "above zero"),
    (("--max-rate", "--tpot-p99", "20 GB"), "a limit is a time"),
    (("--max-rate",), "--max-rate needs a limit"),
    (("--ttft-p99", "2s", "--rate", "5/s"), "needs --max-rate"),
    (("--max-rate", "--ttft-p99", "2s", "--rate", "5/s"), "leave --rate out"),
    (("--max-rate", "--ttft-p99", "2s", "--concurrency", "8"), "leave --concurrency out"),
    (("--max-rate", "--ttft-p99", "2s", "--batch", "8"), "leave --batch out"),
    (("--max-rate", "--ttft-p99", "2s", "--ttft-p99", "1s"), "--ttft-p99 is given twice"),
    (("--max-rate", "--ttft", "2s"), "say the percentile"),
    (("--max-rate", "--ttft-p99", "10ms"), "one request alone takes"),
    (("--max-rate", "--tpot-p99", "1ms"), "one request alone takes"),
    (("--max-rate", "--ttft-p99", "2s", "--replay"), "leave --replay out"),
])
def test_bad_input_is_one_line_and_exit_2(cli, args, says):
    status, out, err = cli(*SERVE, *args)
    assert status == 2 and not out
    assert says in err and len(err.strip().splitlines()) == 1, err


def test_a_limit_below_one_idle_request_says_what_it_takes_and_what_works(cli):
    alone = {mode: _replayed(1.0, mode, requests=1) for mode in ("bound", "estimate")}
    status, _, err = cli(*SERVE, "--max-rate", "--ttft-p99", "10ms")
    assert status == 2
    for mode, r in alone.items():
        assert f"{r.ttft[0] * 1e3:.4g} ms {mode}" in err
    works = err.split("give at least ")[1].split()[0]
    assert float(works) >= max(r.ttft[0] for r in alone.values()) * 1e3
    status, _, err = cli(*SERVE, "--max-rate", "--ttft-p99", f"{works}ms", "--tpot-p99", "1s")
    assert status == 0, err
    status, _, err = cli("serve", MODEL, CHIP, "--input", "64", "--output", "1", "--max-rate", "--tpot-p99", "1s")
    assert status == 2 and "no time per output token" in err
