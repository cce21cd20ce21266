"""One result and one call shape for every analysis (issue 29, item 3): the same keywords, one value() default,
one frame layout, pint quantities everywhere, names exported from symroof, text read only by the command line."""

from __future__ import annotations

import importlib
import inspect

import pint
import pytest

import symroof
from symroof import Q_, InputError
from symroof.cli import parsing

MODEL, CHIP = "llama-3.1-8b", "h100"
ANALYSES = ("evaluate", "serve", "plan", "frontier", "compare", "sweep")
LAYOUT = ["symbol", "bound", "estimate", "unit", "kind", "group", "description"]


@pytest.fixture(scope="module")
def served():
    return symroof.serve(MODEL, CHIP, 1000, 500, concurrency=8)


@pytest.fixture(scope="module")
def planned():
    return symroof.plan("llama-3-70b", CHIP, {"n_chips": 8}, searched=False)


@pytest.mark.parametrize("name", ANALYSES)
def test_every_analysis_takes_the_same_keywords(name):
    params = inspect.signature(getattr(symroof, name)).parameters
    assert {"overrides", "mode", "calibration"} <= set(params), name
    assert params["mode"].default in (None, "bound")  # None: evaluate's estimate=True may still choose


@pytest.mark.parametrize(("name", "args", "wrong", "right"), [
    ("plan", ("llama-3-70b", CHIP), {"settings": {}}, "plan() takes overrides=, not settings="),
    ("serve", (MODEL, CHIP, 10, 10), {"concurrency": 1, "estimate": True}, "serve() takes mode=, not estimate="),
    ("sweep", (MODEL, CHIP, {"batch_size": [1]}), {"override": {}}, "sweep() takes overrides=, not override="),
    ("frontier", (MODEL, CHIP), {"settings": {}}, "frontier() takes overrides="),
    ("compare", (MODEL, [CHIP, "h200"]), {"calibration_file": "x"}, "compare() takes calibration="),
    ("evaluate", (MODEL, CHIP), {"settings": {"batch_size": 8}}, "evaluate() takes overrides=, not settings="),
])
def test_another_analysis_spelling_is_refused_with_the_right_name(name, args, wrong, right):
    with pytest.raises(InputError) as caught:
        getattr(symroof, name)(*args, **wrong)
    assert right in str(caught.value)


def test_an_unknown_keyword_is_pythons_type_error_and_a_mode_is_bound_or_estimate():
    with pytest.raises(TypeError, match="'colour'"):
        symroof.plan("llama-3-70b", CHIP, colour="red")
    for call in (lambda: symroof.plan("llama-3-70b", CHIP, mode="both"),
                 lambda: symroof.serve(MODEL, CHIP, 10, 10, concurrency=1, mode="best"),
                 lambda: symroof.evaluate(MODEL, CHIP, mode="estimate ")):
        with pytest.raises(InputError, match="choose 'bound' or 'estimate'"):
            call()
    with pytest.raises(InputError, match="give mode='estimate'"):
        symroof.evaluate(MODEL, CHIP, mode="bound", estimate=True)


def test_value_is_a_pint_quantity_in_the_bound_unless_the_call_asked_for_the_estimate(served, planned):
    for result in (served, planned, symroof.evaluate(MODEL, CHIP)):
        q = result.value("n_chips")
        assert isinstance(q, pint.Quantity) and q.units == symroof.ureg.chip
    itl = served.value("itl")
    assert isinstance(itl, pint.Quantity) and itl.units == symroof.ureg.millisecond
    assert itl == served.value("itl", mode="bound") != served.value("itl", mode="estimate")
    assert served.magnitude("itl") == itl.magnitude and isinstance(served.magnitude("itl"), float)
    assert planned.value("monthly_cost") == planned.value("monthly_cost", mode="bound")
    assert planned.value("monthly_cost") < planned.value("monthly_cost", mode="estimate")
    asked = symroof.serve(MODEL, CHIP, 1000, 500, concurrency=8, mode="estimate")
    assert asked.value("itl") == served.value("itl", mode="estimate")
    assert served.value("weight_dtype") == "bf16"  # a choice is its name


def test_evaluate_answers_in_its_one_mode_and_estimate_true_keeps_working():
    by_mode = symroof.evaluate(MODEL, CHIP, batch_size=8, mode="estimate")
    by_flag = symroof.evaluate(MODEL, CHIP, batch_size=8, estimate=True)
    assert by_mode.mode == by_flag.mode == "estimate"
    assert by_mode.value("step_time") == by_flag.value("step_time") == by_mode.value("step_time", mode="estimate")
    with pytest.raises(InputError, match="this evaluation is the estimate"):
        by_mode.value("step_time", mode="bound")


def test_one_frame_layout_for_every_result(served, planned):
    single = symroof.evaluate(MODEL, CHIP).to_frame()
    assert list(single.columns) == [c for c in LAYOUT if c != "estimate"]
    for result in (served, planned):
        frame = result.to_frame()
        assert list(frame.columns) == LAYOUT and frame.index.name == "name"
        assert frame.loc["n_chips", "bound"] == result.magnitude("n_chips", "bound")
        assert frame.loc["n_chips", "unit"] == "chip" and frame.attrs["units"]["n_chips"] == "chip"
    assert served.to_frame().loc["itl", "estimate"] == pytest.approx(served.magnitude("itl", "estimate"))


def test_results_display_richly_and_read_plainly(served, planned):
    for result in (served, planned):
        assert result._repr_html_().startswith("<table>") and "<th>bound</th><th>estimate</th>" in result._repr_html_()
    text = repr(served)
    assert text.startswith("<Served llama-3.1-8b on h100, vllm; value() reads mode='bound'")
    assert "  itl: bound " in text and ", estimate " in text and " ms" in text
    assert "  monthly_cost: bound " in repr(planned) and "USD/month" in repr(planned)
    assert repr(symroof.evaluate(MODEL, CHIP)).startswith("<Evaluation ") and "mode='bound'" in repr(
        symroof.evaluate(MODEL, CHIP))


def test_every_public_name_resolves_and_the_functions_outlive_their_modules():
    for name in symroof.__all__:
        assert getattr(symroof, name) is not None, name
    module = importlib.import_module("symroof.serve")  # importing the module leaves symroof.serve the function
    importlib.import_module("symroof.sweep")
    assert symroof.serve is module.serve and callable(symroof.sweep) and not inspect.ismodule(symroof.sweep)
    assert issubclass(symroof.Served, symroof.Pair) and issubclass(symroof.Plan, symroof.Pair)
    assert symroof.MODES == ("bound", "estimate")


def test_workloads_take_numbers_and_pint_quantities():
    per_minute = symroof.serve(MODEL, CHIP, Q_(1000, "token"), 500, rate=Q_(600, "1/min"))
    per_second = symroof.serve(MODEL, CHIP, 1000, 500, rate=10)
    assert per_minute.value("itl") == per_second.value("itl")
    assert per_minute.workload["request_rate"] == "10.0 sequence/s"
    users = symroof.serve(MODEL, CHIP, 1000, 500, concurrency=Q_(8, "sequence"))
    assert users.magnitude("concurrency") == 8
    with pytest.raises(InputError, match="give requests per second"):
        symroof.serve(MODEL, CHIP, 1000, 500, rate=Q_(3, "GB/s"))
    with pytest.raises(InputError, match="at least one input token"):
        symroof.serve(MODEL, CHIP, 0, 500, concurrency=1)


def test_the_command_line_reads_its_text_through_pint():
    assert parsing.rate("600/min") == Q_(10, "sequence/s") == parsing.rate("10 per second") == parsing.rate("10")
    assert parsing.length("1024", "input") == Q_(1024, "token/sequence")
    assert parsing.requests("64", "--concurrency") == Q_(64, "sequence")
    for text, says in (("fast", "--rate 'fast': give requests per second, like 2000/s"),
                       ("10/fortnight", "--rate '10/fortnight': a rate is requests per unit of time"),
                       ("-1/s", "the rate must be above 0 and finite")):
        with pytest.raises(InputError, match=says):
            parsing.rate(text)
    with pytest.raises(InputError, match="give a whole number of requests"):
        parsing.requests("2.5", "--batch")


def test_no_module_imports_serve_or_sweep_as_a_package_attribute():
    """``from .. import serve`` would get the function (the package keeps its public name), not the module."""
    import re
    from pathlib import Path

    package = Path(symroof.__file__).parent
    pattern = re.compile(r"from \.+ import [^\n]*\b(serve|sweep)\b(?! as _)|import symroof\.(serve|sweep) as")
    found = [str(p.relative_to(package)) for p in package.rglob("*.py") if pattern.search(p.read_text())]
    assert not found, found


def test_sweep_and_frontier_read_as_every_result_does():
    """Issue 29: a grid (sweep, frontier) is still a DataFrame for scripts, and reads as every result does:
    value() a pint quantity per point in the grid's mode, magnitude() the numbers, to_frame() the pair's layout
    (a row per point and quantity, the value under the mode's name, the unit); another mode is refused."""
    import pandas

    from symroof.core.errors import InputError

    grid = symroof.sweep("llama-3-70b", "tpu-v5e", {"batch_size": [8, 32]})
    assert isinstance(grid, pandas.DataFrame) and grid.mode == "bound"
    step = grid.value("step_time")
    assert str(step.units) == "millisecond"
    one = symroof.evaluate("llama-3-70b", "tpu-v5e", {"batch_size": 32, "n_chips": grid.magnitude("n_chips")[1]})
    assert step.magnitude[1] == pytest.approx(one.magnitude("step_time"), rel=1e-12)
    frame = grid.to_frame()
    assert list(frame.columns) == ["point", "name", "bound", "unit"]
    row = frame[(frame["point"] == 1) & (frame["name"] == "step_time")].iloc[0]
    assert row["bound"] == pytest.approx(step.magnitude[1]) and row["unit"] == "millisecond"
    with pytest.raises(InputError, match="computed in bound mode"):
        grid.value("step_time", mode="estimate")
    rows = symroof.frontier("llama-3.1-8b", "h100", {"request_rate": "10 sequence/s"})
    cost = rows.value("cost_per_million_output_tokens", mode="bound")
    assert str(cost.units) == "USD / megatoken" and (cost.magnitude > 0).all()
    assert isinstance(rows[rows["meets"]], type(rows))  # a slice of a grid is a grid
