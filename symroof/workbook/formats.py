"""How a value looks in a cell: number formats and styles, chosen from the quantity's unit and size.

Formats change what a cell shows, never its value: a defined name's cell
holds the quantity in the unit ``symroof eval`` reports. Derived cells whose
unit has a decimal prefix ladder (bytes, byte/s, FLOP/s) are shown scaled
with Excel's thousands divisor (``0.00,,,,"TB/s"``); input cells are never
scaled, so a planner types exactly the unit the Unit column names.
"""

from __future__ import annotations

import math

INPUT = {"font_color": "#0000FF", "bg_color": "#FFF2CC", "border": 1, "border_color": "#BFBFBF", "valign": "top"}
RULE = {"font_color": "#0000FF", "bg_color": "#FDF8E6", "border": 1, "border_color": "#D9D9D9", "valign": "top"}
DERIVED = {"valign": "top"}
ESTIMATE = {"valign": "top", "font_color": "#1F4E79", "bg_color": "#EDF3FA"}
NEUTRAL = {"valign": "top", "font_color": "#808080"}
LABEL = {"valign": "top"}
HEAD = {"bold": True, "bg_color": "#D9E1F2", "border": 1, "border_color": "#BFBFBF", "text_wrap": True,
        "valign": "top"}
TITLE = {"bold": True, "font_size": 14}
SECTION = {"bold": True, "font_size": 12}
NOTE = {"italic": True, "font_color": "#595959", "text_wrap": True, "valign": "top"}
CAVEAT = {"italic": True, "font_color": "#9C0006"}
CAVEAT_NOTE = {"italic": True, "font_color": "#595959"}
NAME = {"font_color": "#808080", "font_size": 8}
TEXT = {"text_wrap": False}
WRAP = {"text_wrap": True, "valign": "top"}
STATUS_BAD = {"bold": True, "font_color": "#9C0006", "bg_color": "#FFC7CE"}
STATUS_GOOD = {"bold": True, "font_color": "#006100", "bg_color": "#C6EFCE"}
INFEASIBLE = {"font_color": "#9C0006", "font_strikeout": True}

_LADDER = ((1e15, "P", ",,,,,"), (1e12, "T", ",,,,"), (1e9, "G", ",,,"), (1e6, "M", ",,"), (1e3, "k", ","))
_SCALABLE = ("B", "FLOP")  # units whose decimal prefixes read naturally (kB, TB/s, PFLOP)


def _decimals(value: float) -> str:
    a = abs(value)
    if a >= 100:
        return "#,##0"
    if a >= 10:
        return "#,##0.0"
    if a >= 1:
        return "0.00"
    return "0.000"


def number_format(unit: str, unit_short: str, value, *, integer: bool = False, fraction: bool = False,
                  editable: bool = False) -> str | None:
    """An Excel number format for a value of ``unit`` near ``value`` (None: General)."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return None
    if fraction:
        return "0.0%"
    if unit.startswith("USD"):
        if abs(value) >= 1000:
            return '"$"#,##0'
        return '"$"#,##0.00' if abs(value) >= 0.01 or value == 0 else '"$"0.0000'
    if integer or (abs(value) >= 1 and float(value).is_integer() and abs(value) < 1e7):
        return "#,##0"
    if not editable and unit_short and unit_short.split("/")[0].strip() in _SCALABLE:
        for size, prefix, commas in _LADDER:
            if abs(value) >= size:
                shown = value / size
                return f'{_decimals(shown)}{commas}" {prefix}{unit_short}"'
    if value != 0 and (abs(value) >= 1e7 or abs(value) < 1e-3):
        return "0.00E+00"
    return _decimals(value)


def unit_words(unit_short: str) -> str:
    """A unit as a planner reads it: ``USD/h/chip`` -> ``USD per chip-hour``."""
    words = {"USD/chip/h": "USD per chip-hour", "USD/Mtok": "USD per million tokens", "USD/month": "USD per month",
             "GB/chip": "GB per chip", "B/chip/s": "bytes/s per chip", "FLOP/chip/s": "FLOP/s per chip",
             "tok/chip/s": "tokens/s per chip", "tok/s": "tokens/s", "seq": "sequences", "seq/s": "requests/s",
             "tok/seq": "tokens", "chip": "chips", "B/tok": "bytes per token", "FLOP/USD": "FLOP per USD"}
    return words.get(unit_short, unit_short)
