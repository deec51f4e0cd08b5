"""Timing: 200 scheduled changes one second apart; lateness of each write at the simulator.

Real-time Home Assistant, the simulator over Modbus TCP on 127.0.0.1, one entry with 200 one-off
items (backup reserve alternating 30 % / 31 %) from about 5 s after set-up. Lateness of a change
= the simulator's monotonic stamp of the write of that value - the monotonic time of the
scheduled instant (wall clock converted with an offset taken once).

Run from the repo root: .venv/bin/python benchmarks/timing.py   (BENCH_CHANGES=20 for a quick run)
"""

import asyncio
from datetime import datetime, timedelta
import math
import os
import time

from _harness import (
    emit,
    loop_exceptions,
    machine,
    mono_at,
    one_off_items,
    ratio,
    rounded,
    running_hass,
    setup_entry,
    simulator,
    summary,
    wall_minus_mono,
)
from homeassistant.util import dt as dt_util

from custom_components.battery_steward.device.simulator import WriteRecord

CHANGES = int(os.environ.get("BENCH_CHANGES", "200"))
LEAD_S = 5.0  # first change this long after set-up is expected to be done
SETUP_ALLOWANCE_S = 1.0  # budget for set-up before the lead (200 items: about 0.2 s)
EARLY_S = 0.5  # a write this much before its instant still counts (as negative lateness)
SEED_MEAN_S = 30  # the seed executor's one-minute tick: on average half a minute late
SEED_MAX_S = 60  # and at worst a whole minute


def value_of(i: int) -> int:
    """Reserve (%) set by change i: alternating, so every change really changes something."""
    return 30 + i % 2


def match(instants: list[datetime], writes: list[WriteRecord], offset: float) -> dict[int, float]:
    """Lateness (ms) of each change that landed, by change index; a missing index did not land.

    Change i is the first write of its value at or after its instant (minus EARLY_S) and before
    the next change is due: a write after that belongs to a later change.
    """
    used: set[int] = set()
    lateness_ms: dict[int, float] = {}
    for i, at in enumerate(instants):
        due = mono_at(at, offset)
        until = mono_at(instants[i + 1], offset) if i + 1 < len(instants) else due + 5.0
        hit = next(
            (
                k
                for k, w in enumerate(writes)
                if k not in used and w.value == value_of(i) and due - EARLY_S <= w.time < until
            ),
            None,
        )
        if hit is not None:
            used.add(hit)
            lateness_ms[i] = (writes[hit].time - due) * 1000
    return lateness_ms


async def main() -> None:
    print(f"timing: {CHANGES} one-off changes 1 s apart on {machine()}", flush=True)
    offset = wall_minus_mono()
    async with running_hass() as hass, simulator() as battery:
        battery.set_control("reserve_pct", 50)  # neither 30 nor 31
        lead_s = math.ceil(LEAD_S + SETUP_ALLOWANCE_S)
        first = dt_util.utcnow().replace(microsecond=0) + timedelta(seconds=lead_s)
        instants = [first + timedelta(seconds=i) for i in range(CHANGES)]
        items = one_off_items(instants, value_of)
        started = time.monotonic()
        entry = await setup_entry(hass, battery, items)
        lead = mono_at(first, offset) - time.monotonic()
        took = time.monotonic() - started
        print(f"set-up with {CHANGES} items took {took:.2f} s; first change in {lead:.1f} s")
        if lead < 1.0:
            raise SystemExit("set-up took too long: the first change was already due")
        setup_writes = len(battery.writes_log)
        for done in sorted({*range(50, CHANGES, 50), CHANGES}):
            await asyncio.sleep(max(0.0, (instants[done - 1] - dt_util.utcnow()).total_seconds()))
            print(f"{done}/{CHANGES} changes due", flush=True)
        await asyncio.sleep(2.0)
        writes = [w for w in battery.writes_log[setup_writes:] if w.name == "reserve_pct"]
        run_stats = entry.runtime_data.controller.statistics()
        print(f"controller: {run_stats}")

    landed = match(instants, writes, offset)
    lateness_ms = list(landed.values())
    missed = CHANGES - len(landed)
    block = max(1, CHANGES // 4)
    for lo in range(0, CHANGES, block):
        part = [ms for i, ms in landed.items() if lo <= i < lo + block]
        if part:
            mean = sum(part) / len(part)
            print(f"changes {lo + 1}-{min(CHANGES, lo + block)}: mean lateness {mean:.1f} ms")
    stats = summary(lateness_ms)
    print(
        f"landed {len(lateness_ms)}/{CHANGES} ({missed} missed, {len(writes)} reserve writes); "
        f"lateness p50 {stats['p50']:.1f} ms, p99 {stats['p99']:.1f} ms, max {stats['max']:.1f} ms, "
        f"min {stats['min']:.1f} ms; loop exceptions: {len(loop_exceptions)}"
    )
    emit(
        {
            **rounded(stats, "ms", 1),
            "changes": len(lateness_ms),
            "changes_scheduled": CHANGES,
            "changes_missed": missed,
            "reserve_writes": len(writes),
            "seed_model_mean_s": SEED_MEAN_S,
            "seed_model_max_s": SEED_MAX_S,
            "seed_mean_over_p50": ratio(SEED_MEAN_S * 1000, stats["p50"]),
            "seed_mean_over_mean": ratio(SEED_MEAN_S * 1000, stats["mean"]),
            "seed_max_over_max": ratio(SEED_MAX_S * 1000, stats["max"]),
            "loop_exceptions": len(loop_exceptions),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
