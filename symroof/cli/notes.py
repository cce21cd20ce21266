"""Sentences an evaluation adds beside its numbers: what dominates, in the model's own terms."""

from __future__ import annotations

from .render import quantity

_PARTS = (("step_time_comm_tp", "tensor-parallel all-reduces", "tp_allreduce_time"),
          ("step_time_comm_ep", "expert-parallel all-to-alls", "ep_alltoall_time"),
          ("step_time_comm_pp", "pipeline hand-offs", "pp_handoff_time"))


def communication(ev) -> str | None:
    """Which collective dominates a decode step's communication, and whether it is latency- or bandwidth-bound."""
    needed = ("step_time_comm", "step_time_comm_fixed", "step_time", "comm_exposed",
              *(n for part in _PARTS for n in part[::2]))
    if any(n in ev.unavailable for n in needed):  # a figure not published (a scale-out latency): nothing to say
        return None
    total = ev.quantity("step_time_comm")
    if not total.magnitude > 0:  # one chip: nothing is sent
        return None
    name, words, each = max(_PARTS, key=lambda p: ev.quantity(p[0]))
    share = (ev.quantity(name) / total).to("").magnitude
    count = (ev.quantity(name) / ev.quantity(each)).to("").magnitude  # collectives per step, pint's units
    unit = ev.table.specs["step_time_comm"].unit_text  # times as the tables show them (render's units)
    text = (f"communication: {quantity(total.magnitude, unit)} per decode step, {share:.0%} of it {words} "
            f"({count:.0f} x {quantity(ev.magnitude(each), ev.table.specs[each].unit_text)})")
    fixed = (ev.quantity("step_time_comm_fixed") / total).to("").magnitude
    text += (f"; latency-bound: {fixed:.0%} of it is the fixed (alpha) part" if fixed >= 0.5 else
             f"; bandwidth-bound: {1 - fixed:.0%} of it moves bytes (beta)")
    if ev.mode == "bound":
        return text + "; bound mode leaves it out of step_time (the chapter's roofline; --estimate adds it)"
    exposed = ev.magnitude("comm_exposed") * total
    return text + (f"; {quantity(exposed.magnitude, unit)} of it is exposed, "
                   f"{(exposed / ev.quantity('step_time')).to('').magnitude:.0%} of step_time")


def notes(ev) -> list[str]:
    return [n for n in (communication(ev),) if n]
