"""A grid of points (a sweep, a frontier) read the way every result reads (issue 29).

``sweep`` and ``frontier`` answer with many points, one row each; scripts read them as pandas DataFrames, and
a :class:`Grid` still is one. It adds what :class:`~symroof.evaluation.pair.Pair` has:
``value(name, mode=None)`` (the column as a pint quantity, in the mode the grid was computed in),
``magnitude(name, mode=None)`` (the numbers) and ``to_frame()`` in the pair's layout: one row per quantity
(here per point and quantity), a value column named for the mode, and the unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy
import pandas

from ..core.errors import InputError
from ..core.units import Q_
from ..derive import table
from .pair import Mode, check_mode


class Grid(pandas.DataFrame):
    """One row per point, one column per quantity (units in ``attrs["units"]``), in one mode
    (``attrs["mode"]``)."""

    @property
    def _constructor(self):  # a slice of a grid is a grid, with its attrs
        return Grid

    @classmethod
    def of(cls, frame: pandas.DataFrame, mode: Mode, units: Mapping[str, str] | None = None) -> Grid:
        """``frame`` as a grid in ``mode``; ``units`` per column (by default ``frame.attrs["units"]``, else each
        declared quantity's reporting unit)."""
        grid = cls(frame)
        grid.attrs = {**frame.attrs, "mode": check_mode(mode)}
        if units is None:
            units = frame.attrs.get("units") or {c: table().get(c).unit_text for c in frame.columns
                                                  if c in table()}
        grid.attrs["units"] = dict(units)
        return grid

    @property
    def mode(self) -> Mode:
        return self.attrs.get("mode", "bound")

    def _column(self, name: str, mode: Mode | None) -> pandas.Series:
        if mode is not None and check_mode(mode) != self.mode:
            raise InputError(f"this grid was computed in {self.mode} mode; compute it again with mode={mode!r}")
        if name not in self.columns:
            raise InputError(f"{name!r} is not a column of this grid; it has {', '.join(map(str, self.columns))}")
        return self[name]

    def magnitude(self, name: str, mode: Mode | None = None) -> numpy.ndarray:
        """``name``'s values, one per point, in its reporting unit."""
        return self._column(name, mode).to_numpy()

    def value(self, name: str, mode: Mode | None = None) -> Any:
        """``name``'s values as a pint quantity (an array, one per point); a column without a unit (a dtype, a
        layout in words) as its values."""
        column = self._column(name, mode)
        unit = self.attrs.get("units", {}).get(name)
        if unit is None or not pandas.api.types.is_numeric_dtype(column):
            return column.to_numpy()
        return Q_(column.to_numpy(dtype=float), unit)

    def to_frame(self) -> pandas.DataFrame:
        """The pair's layout: one row per point and quantity (those with a unit), the value under the mode's
        name, and the unit."""
        units = {c: u for c, u in self.attrs.get("units", {}).items()
                 if c in self.columns and pandas.api.types.is_numeric_dtype(self[c])}
        rows = [(i, name, float(self.at[i, name]), unit) for i in self.index for name, unit in units.items()]
        return pandas.DataFrame(rows, columns=["point", "name", self.mode, "unit"])
