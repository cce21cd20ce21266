"""The Python API: pint quantities, DataFrames, LaTeX, overrides, and the unit-testing helper."""

import pandas
import pytest
import sympy

import symroof
from symroof import Q_, symbol
from symroof.core.errors import InputError
from symroof.testing import assert_unit, unit_of

from .conftest import ev, value


def test_quantities_are_pint_in_the_single_registry():
    r = ev()
    step = r["step_time"]
    assert step.units == symroof.ureg.ms
    assert (step + Q_(1, "s")).to("ms").magnitude == pytest.approx(step.magnitude + 1000)


def test_overrides_accept_numbers_text_and_pint():
    a = ev(hbm_bandwidth=8.2e11)
    b = ev(hbm_bandwidth="820 GB/s")
    c = ev(hbm_bandwidth=Q_(0.82, "TB/s"))
    assert value(a, "step_time", "ms") == pytest.approx(value(b, "step_time", "ms"), rel=1e-12)
    assert value(b, "step_time", "ms") == pytest.approx(value(c, "step_time", "ms"), rel=1e-12)


def test_foreign_pint_registry_is_refused():
    import pint

    other = pint.UnitRegistry()
    with pytest.raises(InputError, match="symroof.ureg"):
        ev(batch_size=other.Quantity(3, "dimensionless"))


def test_dataframe():
    frame = ev().to_frame()
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame.columns) == ["symbol", "bound", "unit", "kind", "group", "description"]  # every result's layout
    assert frame.loc["step_time", "unit"] == "millisecond"
    assert frame.loc["batch_size", "kind"] == "input"


def test_dtype_switches_bytes_and_flop_rate():
    r = ev(weight_dtype="int4", kv_dtype="fp8", compute_dtype="int8")
    assert value(r, "weight_bytes_per_param", "byte/parameter") == 0.5
    assert value(r, "kv_bytes_per_value", "byte/token") == 1
    assert value(r, "chip_flops", "FLOP/s/chip") == 3.94e14
    assert r["compute_dtype"] == "int8"


def test_n_chips_defaults_to_the_smallest_slice():
    # int8, batch 32 at 8k needs 113.5 GB: 7.09 v5e chips, so a slice of 8.
    r = ev(weight_dtype="int8", kv_dtype="int8")
    assert value(r, "n_chips", "chip") == 8
    assert r.origin["n_chips"] == "default"


def test_latex_for_jupyter():
    latex = symroof.formula("step_time")._repr_latex_()
    assert latex.startswith("$T_{\\text{step}} = ") and "\\max" in latex
    # unit-carrying constants show as the seed writes them: 2 B N / (Y C)
    # issue 11: FLOPs count the parameters a token uses (all of them in a dense model)
    assert symroof.formula("step_flops").latex() == r"F_{\text{step}} = 2 N_{\text{active}} B_{\text{tok}}"


def test_warning_when_memory_does_not_fit():
    r = ev(batch_size=512, n_chips=8)
    assert any("do not fit" in w for w in r.warnings())


def test_assert_unit_helper():
    assert_unit("step_time", "s")
    assert_unit(symbol("kv_cache_bytes") / (symbol("n_chips") * symbol("hbm_bandwidth")), "ms")
    with pytest.raises(AssertionError, match=r"has units of \[time\] \* \[chip\], expected s"):
        assert_unit(symbol("kv_cache_bytes") / symbol("hbm_bandwidth"), "s")
    with pytest.raises(AssertionError, match="units do not combine"):
        assert_unit(symbol("param_bytes") + symbol("step_time"), "s")
    assert unit_of(sympy.Max(symbol("step_time"), symbol("prefill_time"))) == Q_(1, "s").dimensionality
