"""The seed's serving roofline, one module per section of the chapter.

Importing this package declares every quantity in :data:`symroof.declare.REGISTRY`;
the order of the groups is the order of the workbook's sheets.
"""

from ..declare import REGISTRY
from . import (  # noqa: F401
    communication,
    decode,
    engine,
    engine_inputs,
    engine_step,
    engine_thresholds,
    inputs,
    memory,
    ownership,
    parallelism,
    planning,
    prefill,
    serving,
    thresholds,
)

GROUPS = [
    inputs.MODEL, inputs.HARDWARE, inputs.SCENARIO, inputs.ESTIMATE,
    memory.GROUP, decode.GROUP, prefill.GROUP, parallelism.GROUP, communication.GROUP, serving.GROUP,
    thresholds.GROUP, ownership.GROUP, planning.GROUP, engine_inputs.INPUTS, engine.GROUP,
]

#: The quantities the model declares: a registry holding others was extended by a script.
DECLARED = frozenset(REGISTRY)
