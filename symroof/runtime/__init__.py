"""The model as the command line runs it: records and compiled functions read from the derivation cache.

:mod:`.spec` defines the record of a quantity; :mod:`.store` keeps the cache on
disk. Nothing here imports sympy or the declarations: :mod:`symroof.derive`
writes what this package reads.
"""

from .spec import Spec, Table

__all__ = ["Spec", "Table"]
