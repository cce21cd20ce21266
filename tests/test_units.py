"""symroof's unit registry: real dimensions for bytes, FLOPs, tokens, chips, money."""

import pint
import pytest

from symroof import ureg
from symroof.core.errors import InputError
from symroof.core.units import parse_unit


@pytest.mark.parametrize("a, b", [("byte", "FLOP"), ("token", "sequence"), ("chip", "parameter"),
                                  ("byte", "parameter"), ("USD", "hour"), ("token", "byte")])
def test_distinct_dimensions_do_not_mix(a, b):
    with pytest.raises(pint.DimensionalityError):
        ureg.Quantity(1, a) + ureg.Quantity(1, b)


@pytest.mark.parametrize("name", ["byte", "FLOP", "token", "sequence", "chip", "parameter", "USD"])
def test_counts_and_information_are_not_dimensionless(name):
    assert not ureg.Quantity(1, name).dimensionless


def test_decimal_and_binary_prefixes():
    assert ureg.Quantity(1, "GB").to("byte").magnitude == 1e9
    assert ureg.Quantity(1, "GiB").to("byte").magnitude == 2**30
    assert ureg.Quantity(160, "KiB").to("byte").magnitude == 163_840
    assert ureg.Quantity(8, "bit").to("byte").magnitude == 1
    assert ureg.Quantity(1, "hour").to("s").magnitude == 3600
    assert ureg.Quantity(1, "TFLOP/s").to("FLOP/s").magnitude == 1e12


@pytest.mark.parametrize("text", ["TFLOPS", "FLOPS", "PFLOPs/s", "flops"])
def test_misleading_flops_spellings_are_refused(text):
    with pytest.raises(InputError, match="FLOP"):
        parse_unit(text)


def test_unknown_unit_is_named():
    with pytest.raises(InputError, match="'furlong'"):
        parse_unit("furlong")
