"""Sentences an evaluation adds beside its numbers: what dominates, in the model's own terms."""

from __future__ import annotations

from .cli.common import fmt

_PARTS = (("step_time_comm_tp", "tensor-parallel all-reduces", "tp_allreduce_time"),
          ("step_time_comm_ep", "expert-parallel all-to-alls", "ep_alltoall_time"),
          ("step_time_comm_pp", "pipeline hand-offs", "pp_handoff_time"))


def communication(ev) -> str | None:
    """Which collective dominates a decode step's communication, and whether it is latency- or bandwidth-bound."""
    try:
        total = float(ev.magnitude("step_time_comm"))
        parts = {name: float(ev.magnitude(name)) for name, _, _ in _PARTS}
    except Exception:  # an unavailable input (a scale-out latency not published) leaves no note to give
        return None
    if parts != parts or not total > 0:  # one chip: nothing is sent
        return None
    name, words, each = max(_PARTS, key=lambda p: parts[p[0]])
    count = parts[name] / float(ev.magnitude(each)) * 1e3
    text = (f"communication: {fmt(total)} ms per decode step, {parts[name] / total:.0%} of it {words} "
            f"({count:.0f} x {fmt(float(ev.magnitude(each)))} us)")
    fixed = float(ev.magnitude("step_time_comm_fixed"))
    text += (f"; latency-bound: {fixed / total:.0%} of it is the fixed (alpha) part" if fixed >= total / 2 else
             f"; bandwidth-bound: {1 - fixed / total:.0%} of it moves bytes (beta)")
    if ev.mode == "bound":
        text += "; bound mode leaves it out of step_time (the chapter's roofline; --estimate adds it)"
    else:
        exposed = float(ev.magnitude("comm_exposed")) * total
        text += f"; {fmt(exposed)} ms of it is exposed, {exposed / float(ev.magnitude('step_time')):.0%} of step_time"
    return text


def notes(ev) -> list[str]:
    return [n for n in (communication(ev),) if n]
