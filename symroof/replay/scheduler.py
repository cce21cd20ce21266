"""vLLM V1's scheduler, iteration by iteration, over the declared engine step.

Each iteration is one engine step, or a stretch of identical steps: between events (a request finishing, one
arriving, the KV pool filling) a decode-only step repeats with the same batch, so k of them are taken at once.
A step schedules, under the token budget, the running requests first in the order they were admitted (their
decode tokens, ``1 + speculative_tokens`` each, or the next chunk of a prompt still prefilling), then admits
waiting requests first come, first served (those preempted before the new ones) while the budget, the sequence
cap and the KV pool allow, the last one taking a partial chunk (chunked prefill). The KV pool holds blocks of
16 tokens (vLLM's default block); when a step's running requests need more blocks than the pool has, the most
recently admitted are preempted (recompute: their KV is freed and their prompt and the tokens they had
generated are prefilled again when they are readmitted; no request is admitted in that step), as vLLM V1
does. With ``prefill_separate`` (SGLang's default) a step that can prefill carries no decodes; it can where
the KV pool holds the next chunk beside the running requests' blocks (else it decodes, and preempts as
above where the pool is full).

A decode step gains each sequence ``accepted_tokens_per_step`` tokens (speculative decoding, the mean; the last
step of a request may gain fewer); the step that completes a prompt samples the first token. A request is
sent at its issue time and reaches the scheduler ``api_overhead`` later (the frontend); it waits for the next
step to begin. State is numpy arrays per request; the per-token gaps are kept as weighted values.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy

from .pricing import StepPrice

BLOCK = 16  # tokens per KV block (vLLM's default block_size)
_EPS = 1e-9


@dataclass
class Engine:
    """What the scheduler obeys (plain numbers, base units)."""

    budget: float  # max_num_batched_tokens
    max_seqs: float  # max_num_seqs
    blocks: int  # KV pool, in blocks of BLOCK tokens
    draft: float  # tokens a decode step computes per sequence (1 + speculative_tokens)
    accepted: float  # tokens a decode step gains per sequence
    api: float  # seconds before the scheduler sees a request
    separate: bool  # prefill steps of their own


@dataclass
class Trace:
    """What happened: per request its times (seconds); per iteration the step; the pooled per-token gaps."""

    issue: numpy.ndarray
    first: numpy.ndarray
    finish: numpy.ndarray
    steps: dict[str, numpy.ndarray] = field(default_factory=dict)  # start, count, time, sequences, prefill, running
    gaps: tuple[numpy.ndarray, numpy.ndarray] = (numpy.empty(0), numpy.empty(0))  # (value, weight)
    preemptions: int = 0


def run(engine: Engine, price: StepPrice, inputs: numpy.ndarray, outputs: numpy.ndarray, cached: numpy.ndarray,
        issue: numpy.ndarray, users: int | None = None, starts: numpy.ndarray | None = None) -> Trace:
    """Replay ``len(inputs)`` requests. ``issue``: when each is sent; a closed loop of ``users`` gives only the
    first users' times, and each later request is sent when one ends. ``starts``: instead, the step at whose
    beginning each user of a closed loop sends its first request."""
    n = len(inputs)
    issue = issue.astype(float).copy() if users is None else numpy.concatenate([issue[:users], numpy.zeros(n)])[:n]
    issued = n if users is None else min(users, n)
    starts = numpy.empty(0) if starts is None else starts[:issued]
    issued -= starts.size  # sent as the steps pass
    ready = issue + engine.api
    first, finish = numpy.full(n, numpy.nan), numpy.full(n, numpy.nan)
    last, computed, emitted = numpy.zeros(n), cached.astype(float).copy(), numpy.zeros(n)
    a, s, cap, budget = engine.accepted, engine.draft, engine.blocks, engine.budget
    r = numpy.empty(0, dtype=numpy.int64)  # the running requests, in the order they were admitted
    front: deque[int] = deque()  # preempted requests, waiting before the new ones
    nready = fresh = done = preempted = stepno = 0
    now = 0.0
    log: list[tuple] = []
    gap_v: list = []
    gap_w: list = []
    while done < n:
        while issued < starts.size and (starts[issued] <= stepno or not (r.size or front or fresh < issued)):
            issue[issued], ready[issued] = now, now + engine.api
            issued += 1
        if nready < issued and ready[nready] <= now:
            nready += int(numpy.searchsorted(ready[nready:issued], now, side="right"))
        waiting = bool(front) or fresh < nready
        if not r.size and not waiting:
            now = max(now, ready[nready])
            continue
        # --- the running requests, first: decode tokens, or the next chunk of a prompt ---
        c, em = computed[r], emitted[r]
        need = inputs[r] + em - c
        dec = (em > 0) & (need <= 1 + _EPS)
        hold = engine.separate and _can_prefill(dec, c, need, front, fresh, nready, inputs, emitted, computed, engine)
        if not hold and dec.all() and s * r.size <= budget:  # the common step: every running request decodes
            give = numpy.full(r.size, s)
        else:
            want = numpy.where(dec, 0.0 if hold else s, need)
            give = numpy.clip(budget - (numpy.cumsum(want) - want), 0.0, want)
        after = c + give
        bound = float(after.sum()) / BLOCK + r.size  # at least the blocks they hold after the step
        blocks = None
        cut = False
        if bound > cap:
            blocks = numpy.ceil(after / BLOCK - _EPS)
            held = numpy.cumsum(blocks)
            if held[-1] > cap:  # the pool is full: preempt the most recently admitted until the rest fit
                m = int(numpy.searchsorted(held, cap, side="right"))
                out = r[m:]
                computed[out] = cached[out]
                front.extendleft(out[::-1].tolist())
                preempted += out.size
                r, dec, give, c, em, blocks = r[:m], dec[:m], give[:m], c[:m], em[:m], blocks[:m]
                cut = True
            bound = float(blocks.sum())
        used, left = bound, budget - float(give.sum())
        # --- then the waiting, first come first served, while the budget, the cap and the pool allow ---
        new: list[int] = []
        chunks: list[float] = []
        while not cut and left > 0 and r.size + len(new) < engine.max_seqs and (front or fresh < nready):
            i = front[0] if front else fresh
            chunk = min(inputs[i] + emitted[i] - computed[i], left)
            b = math.ceil((computed[i] + chunk) / BLOCK - _EPS)
            if used + b > cap and blocks is None:  # near full: count the blocks exactly
                blocks = numpy.ceil(after / BLOCK - _EPS)
                used = float(blocks.sum()) + sum(math.ceil((computed[j] + x) / BLOCK - _EPS)
                                                 for j, x in zip(new, chunks, strict=True))
            if used + b > cap:
                break
            if front:
                front.popleft()
            else:
                fresh += 1
            new.append(i)
            chunks.append(chunk)
            used, left = used + b, left - chunk
        going = dec & (give > 0)
        filling = ~dec & (give > 0)
        decoding = r[going]
        sequences = decoding.size
        prefill = float(give[filling].sum()) + sum(chunks)
        if sequences == 0 and prefill == 0:
            raise RuntimeError("replay: a step with nothing to run (a scheduler bug)")
        dt = price.step(sequences, prefill)
        k = 1
        if decoding.size:
            em_d, out_d = em[going], outputs[decoding]
        if prefill == 0 and not cut:  # a decode-only stretch: identical steps until the next event
            k = max(1, int(numpy.ceil((out_d - em_d) / a - _EPS).min()))
            if not waiting and nready < issued:
                k = min(k, max(1, math.ceil((ready[nready] - now) / dt - _EPS)))
            if issued < starts.size:
                k = min(k, max(1, int(starts[issued]) - stepno))
            if k > 1 and (float(c.sum()) + sequences * ((k - 1) * a + s)) / BLOCK + r.size > cap:
                others = float(numpy.ceil(c[~going] / BLOCK - _EPS).sum())  # the blocks of those sitting out
                k = _room(c[going], a, s, cap - others, k)
        end = now + k * dt
        if decoding.size:
            lag = now - last[decoding]
            k_even = k
            if lag.max() > _EPS * max(1.0, now):  # a request that sat out steps: its first gap is longer
                gap_v.append((lag + dt) / a)
                gap_w.append(numpy.ones(decoding.size))
                k_even = k - 1
            if k_even:
                gap_v.append(numpy.array([dt / a]))
                gap_w.append(numpy.array([float(k_even * decoding.size)]))
            em_d = numpy.minimum(em_d + a * k, out_d)
            emitted[decoding] = em_d
            computed[decoding] += a * k
            last[decoding] = end
            gone = decoding[em_d >= out_d - _EPS]
        else:
            gone = decoding
        if prefill:
            filled = numpy.concatenate([r[filling], numpy.asarray(new, dtype=numpy.int64)])
            computed[filled] += numpy.concatenate([give[filling], chunks])
            whole = filled[computed[filled] >= inputs[filled] + emitted[filled] - _EPS]
            if whole.size:
                again = whole[emitted[whole] > 0]
                first[whole[emitted[whole] == 0]] = end
                if again.size:  # recomputed after a preemption: the next token, after a long gap
                    gap_v.append(end - last[again])
                    gap_w.append(numpy.ones(again.size))
                emitted[whole] = numpy.minimum(emitted[whole] + 1, outputs[whole])
                last[whole] = end
                gone = numpy.concatenate([gone, whole[emitted[whole] >= outputs[whole] - _EPS]])
            if new:
                r = numpy.concatenate([r, numpy.asarray(new, dtype=numpy.int64)])
        log.append((now, k, dt, sequences, prefill, r.size))
        if gone.size:
            finish[gone] = end
            done += gone.size
            r = r[numpy.isnan(finish[r])]
            if users is not None and issued < n:  # each user sends its next request
                more = min(gone.size, n - issued)
                issue[issued:issued + more] = end
                ready[issued:issued + more] = end + engine.api
                issued += more
        now, stepno = end, stepno + k
    steps = numpy.array(log, dtype=float).reshape(-1, 6).T
    names = ("start", "count", "time", "sequences", "prefill", "running")
    values = (numpy.concatenate(gap_v), numpy.concatenate(gap_w)) if gap_v else (numpy.empty(0), numpy.empty(0))
    return Trace(issue, first, finish, dict(zip(names, steps, strict=True)), values, preempted)


def _room(computed: numpy.ndarray, a: float, s: float, free: float, k: int) -> int:
    """Most steps (1..k) a decode stretch runs before its sequences need more KV blocks than ``free``."""

    def fits(j: int) -> bool:
        return float(numpy.ceil((computed + (j - 1) * a + s) / BLOCK - _EPS).sum()) <= free

    if fits(k):
        return k
    lo, hi = 1, k  # fits(lo), not fits(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def _can_prefill(dec, c, need, front, fresh, nready, inputs, emitted, computed, engine: Engine) -> bool:
    """Whether a step could carry prefill: the next chunk of a prompt still filling, or of a waiting request the
    caps admit, where the KV pool holds it beside the running requests' blocks. A chunk the pool cannot hold
    would preempt its own request and leave the held decodes nothing to run: the step decodes instead."""
    used = float(numpy.ceil(c / BLOCK - _EPS).sum())
    if not dec.all():  # the first prompt still filling (the earliest admitted; the pool preempts the later first)
        j = int(numpy.argmin(dec))
        grow = math.ceil((c[j] + min(need[j], engine.budget)) / BLOCK - _EPS) - math.ceil(c[j] / BLOCK - _EPS)
        return used + grow <= engine.blocks
    if not front and fresh >= nready or dec.size >= engine.max_seqs:
        return False
    i = front[0] if front else fresh
    chunk = min(inputs[i] + emitted[i] - computed[i], engine.budget)
    return used + math.ceil((computed[i] + chunk) / BLOCK - _EPS) <= engine.blocks
