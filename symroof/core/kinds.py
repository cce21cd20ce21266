"""What a quantity is, and where one evaluation took a value from (shared by declarations and runtime)."""

from __future__ import annotations

from enum import Enum


class Kind(str, Enum):
    """What a quantity is in the model."""

    INPUT = "input"
    DERIVED = "derived"
    CONSTANT = "constant"

    def __str__(self) -> str:
        return self.value


class Origin(str, Enum):
    """Where one evaluation took a value from."""

    SET = "set"  # --set, or a keyword of evaluate()
    CATALOG = "catalog"  # the model's config or the chip's datasheet
    CALIBRATION = "calibration"  # a calibration file (estimate mode)
    ENGINE = "engine profile"  # an engine profile (symroof serve --engine)
    CHOICE = "default choice"  # a categorical input's default
    VALUE = "default value"  # an input's default number
    RULE = "default rule"  # an input's default formula (n_chips = the smallest slice), or a template's rule
    NEUTRAL = "neutral"  # an estimate factor in bound mode: 1 for efficiencies, 0 for overheads
    FORMULA = "formula"  # a derived quantity
    CONSTANT = "constant"

    def __str__(self) -> str:
        return self.value

    @property
    def coarse(self) -> str:
        """The word ``Evaluation.origin`` has always used: set, catalog, calibration, default or formula."""
        return {Origin.CHOICE: "default", Origin.VALUE: "default", Origin.RULE: "default",
                Origin.NEUTRAL: "default"}.get(self, self.value)
