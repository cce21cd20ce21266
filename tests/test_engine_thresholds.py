"""Issue 29: serving thresholds solved in closed form on the one engine step, checked against a bisection over
`serve` itself (the bisection only asks serve for the ITL at a rate or a concurrency; it knows no formula)."""

from __future__ import annotations

import pytest

from symroof.evaluation import Evaluation, parse_overrides
from symroof.serve import serve

CASES = [("llama-3.1-8b", {}, "colocated"), ("llama-3.1-8b", {}, "disaggregated"),
         ("llama-3.3-70b", {"n_chips": 4}, "colocated"), ("llama-3.3-70b", {"n_chips": 4}, "disaggregated")]
TARGET = {"llama-3.1-8b": 12.0, "llama-3.3-70b": 25.0}  # ms: tight enough that the per-token target binds first


def _bisect(f, low, high, steps=200):
    """The point where the increasing ``f`` crosses 0 between ``low`` and ``high``."""
    for _ in range(steps):
        mid = (low + high) / 2
        low, high = (mid, high) if f(mid) < 0 else (low, mid)
    return (low + high) / 2


@pytest.mark.parametrize("model, layout, serving", CASES)
@pytest.mark.parametrize("mode", ("bound", "estimate"))
def test_max_request_rate_for_itl_is_the_bisection_over_serve(model, layout, serving, mode):
    target = TARGET[model]
    settings = {**layout, "serving_mode": serving, "target_step_time": f"{target} ms"}
    solved = serve(model, "h100", 2048, 256, rate=1.0, overrides=settings)
    rate = solved.magnitude("max_request_rate_for_itl", mode=mode)
    saturation = solved.magnitude("saturation_request_rate", mode=mode)
    # the bound's FLOPs regime has no fixed time: it meets any target up to saturation
    assert 0 < rate < 0.99 * saturation or (mode == "bound" and rate == pytest.approx(saturation, rel=1e-12))

    def excess(r):
        s = serve(model, "h100", 2048, 256, rate=r, overrides=settings)
        return s.magnitude("itl", mode=mode) - target if not s.overloaded(mode) else 1e9

    assert rate == pytest.approx(_bisect(excess, 1e-6, saturation), rel=1e-6)


@pytest.mark.parametrize("model, layout, serving", CASES)
@pytest.mark.parametrize("mode", ("bound", "estimate"))
def test_saturation_request_rate_is_where_serve_overloads(model, layout, serving, mode):
    """Exact when disaggregated (a request holds its place for its decode steps); colocated, a prompt's chunk
    step can be longer than a mean step, so serve may overload a little earlier: the closed form is an upper
    limit there (checked within 25%)."""
    settings = {**layout, "serving_mode": serving}
    saturation = serve(model, "h100", 2048, 256, rate=1.0, overrides=settings).magnitude("saturation_request_rate",
                                                                                     mode=mode)
    assert serve(model, "h100", 2048, 256, rate=saturation * 1.001, overrides=settings).overloaded(mode)
    below = 0.999 if serving == "disaggregated" else 0.75
    assert not serve(model, "h100", 2048, 256, rate=saturation * below, overrides=settings).overloaded(mode)


@pytest.mark.parametrize("model, layout, serving", CASES)
@pytest.mark.parametrize("mode", ("bound", "estimate"))
def test_max_concurrency_for_itl_is_the_bisection_over_serve(model, layout, serving, mode):
    """A closed loop's users are whole; the bisection runs over a real number of users through the same
    evaluation serve makes (its --concurrency takes whole numbers only)."""
    target = TARGET[model]
    settings = {**layout, "serving_mode": serving, "target_step_time": f"{target} ms"}
    solved = serve(model, "h100", 2048, 256, concurrency=1, overrides=settings)
    users = solved.magnitude("max_concurrency_for_itl", mode=mode)
    ev = solved.evaluations[mode]
    assert users > 1

    def excess(n):
        again = Evaluation(ev.model, ev.hardware, parse_overrides({
            **{k: v for k, v in settings.items()}, "input_length": "2048 token/sequence",
            "output_length": "256 token/sequence", "workload": "concurrency", "concurrency": f"{n!r} sequence"}),
            mode=mode, calibration=ev.calibration, engine=ev.engine)
        return again.magnitude("itl") - target

    cap = ev.magnitude("batch_cap")
    if users >= cap:  # past the cap more users wait for a slot: every concurrency meets the target
        assert excess(cap) <= 1e-9
        return
    assert users == pytest.approx(_bisect(excess, 1.0, cap), rel=1e-6)


def test_a_target_below_the_steps_floor_has_no_rate():
    """A per-token target below what the weights alone take: no rate meets it, and the threshold says 0."""
    r = serve("llama-3.3-70b", "h100", 2048, 256, rate=1.0, overrides={"n_chips": 4, "target_step_time": "1 ms"})
    assert r.magnitude("max_request_rate_for_itl", mode="bound") == 0
    assert r.magnitude("max_concurrency_for_itl", mode="estimate") == 0
