"""Series from an entity: a day of 96 slots from a forecast attribute; lateness at the simulator.

Real-time Home Assistant, the simulator over Modbus TCP on 127.0.0.1, one entry whose schedule
source is `entity`, following `sensor.optimizer_plan`: a generic forecast list
(`{start, end, value}`, W, + discharge) of 96 slots, a day's quarter-hours compressed to
BENCH_SLOT_S seconds each (default 1 s), the power alternating 1000 / 1100 W so every slot really
changes something. Halfway through, the entity is published again (as an optimizer re-planning
mid-day does: from the current slot on) with the later slots' powers shifted by 50 W. Lateness of a slot = the
simulator's monotonic stamp of the write of that slot's power - the slot's start.

Goal: the `timing` benchmark's bound, p99 <= 200 ms (docs/benchmarks.md).

Run from the repo root: .venv/bin/python benchmarks/series_entity.py   (BENCH_SLOTS=20 for a quick run)
"""

import asyncio
from datetime import datetime, timedelta
import json
import math
import os
from pathlib import Path
import time
from typing import Any

from _harness import (
    emit,
    loop_exceptions,
    machine,
    make_entry,
    mono_at,
    rounded,
    running_hass,
    simulator,
    summary,
    wall_minus_mono,
)
from homeassistant.config_entries import ConfigSubentry
from homeassistant.util import dt as dt_util

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.plan_feeds import SUBENTRY_SERIES

SLOTS = int(os.environ.get("BENCH_SLOTS", "96"))
SLOT_S = float(os.environ.get("BENCH_SLOT_S", "1"))
LEAD_S = 6.0  # the first slot starts this long after set-up begins
BOUND_P99_MS = 200.0  # the timing benchmark's goal
ENTITY = "sensor.optimizer_plan"


def power_of(i: int, *, updated: bool) -> float:
    """Watts of slot i (alternating), 50 W more in the re-published half."""
    return 1000.0 + 100.0 * (i % 2) + (50.0 if updated else 0.0)


def attributes(starts: list[datetime], first: int, *, updated_from: int | None = None) -> dict[str, Any]:
    """The optimizer's attribute from slot `first` on; powers updated from slot `updated_from` on."""
    return {
        "unit_of_measurement": "W",
        "plan": [
            {
                "start": starts[i].isoformat(),
                "end": (starts[i] + timedelta(seconds=SLOT_S)).isoformat(),
                "value": power_of(i, updated=updated_from is not None and i >= updated_from),
            }
            for i in range(first, len(starts))
        ],
    }


def lateness(
    starts: list[datetime], writes: list[tuple[float, float]], offset: float, half: int
) -> dict[int, float]:
    """Lateness (ms) by slot: its power's first write from its start (minus 0.5 s) to the next start."""
    out: dict[int, float] = {}
    for i, at in enumerate(starts):
        due = mono_at(at, offset)
        until = due + SLOT_S
        want = power_of(i, updated=i >= half)
        stamp = next((t for t, v in writes if v == want and due - 0.5 <= t < until), None)
        if stamp is not None:
            out[i] = (stamp - due) * 1000
    return out


def choose_entity_source(store: Path) -> None:
    """The battery's stored state says its schedule source is `entity`, as after the user chose it."""
    store.parent.mkdir(parents=True, exist_ok=True)
    data = {"version": 1, "minor_version": 1, "key": store.name, "data": {"source": "entity"}}
    store.write_text(json.dumps(data))


async def main() -> None:
    print(f"series_entity: {SLOTS} slots of {SLOT_S:g} s from an entity on {machine()}", flush=True)
    offset = wall_minus_mono()
    half = SLOTS // 2
    async with running_hass() as hass, simulator() as battery:
        first = dt_util.utcnow().replace(microsecond=0) + timedelta(seconds=math.ceil(LEAD_S))
        starts = [first + timedelta(seconds=i * SLOT_S) for i in range(SLOTS)]
        hass.states.async_set(ENTITY, "1000", attributes(starts, 0))
        entry = make_entry(battery, [])
        await hass.async_add_executor_job(
            choose_entity_source, Path(hass.config.path(".storage", f"{DOMAIN}.{entry.entry_id}"))
        )
        entry.add_to_hass(hass)
        hass.config_entries.async_add_subentry(
            entry,
            ConfigSubentry(
                data={"entity_id": ENTITY, "format": "generic", "attribute": "plan", "value_key": "value"},  # type: ignore[arg-type]
                subentry_type=SUBENTRY_SERIES,
                title="Optimizer",
                unique_id=None,
            ),
        )
        started = time.monotonic()
        if not await hass.config_entries.async_setup(entry.entry_id):
            raise SystemExit(f"entry did not load: {entry.state}")
        await hass.async_block_till_done()
        lead = mono_at(first, offset) - time.monotonic()
        print(f"set-up took {time.monotonic() - started:.2f} s; first slot in {lead:.1f} s")
        if lead < 1.0:
            raise SystemExit("set-up took too long: the first slot was already due")
        since = len(battery.writes_log)
        await asyncio.sleep(max(0.0, (starts[half] - dt_util.utcnow()).total_seconds() - SLOT_S / 2))
        # Re-published from the current slot on (as EMHASS does), later slots changed.
        hass.states.async_set(ENTITY, "1050", attributes(starts, half - 1, updated_from=half))
        print(f"re-published during slot {half - 1}, changed from slot {half} on", flush=True)
        await asyncio.sleep(max(0.0, (starts[-1] - dt_util.utcnow()).total_seconds()) + 2.0)
        log = battery.writes_log[since:]
        writes = [(w.time, float(w.value)) for w in log if w.name == "power_setpoint_w"]
        print(f"controller: {entry.runtime_data.controller.statistics()}")

    landed = lateness(starts, writes, offset, half)
    stats = summary(list(landed.values()))
    missed = SLOTS - len(landed)
    print(
        f"landed {len(landed)}/{SLOTS} ({missed} missed, {len(writes)} power writes); "
        f"lateness p50 {stats['p50']:.1f} ms, p99 {stats['p99']:.1f} ms, max {stats['max']:.1f} ms; "
        f"loop exceptions: {len(loop_exceptions)}"
    )
    emit(
        {
            **rounded(stats, "ms", 1),
            "slots": len(landed),
            "slots_scheduled": SLOTS,
            "slots_missed": missed,
            "slot_s": SLOT_S,
            "power_writes": len(writes),
            "zero_writes": sum(1 for _, v in writes if v == 0.0),  # the stale zero after the last slot
            "bound_p99_ms": BOUND_P99_MS,
            "within_bound": stats["p99"] <= BOUND_P99_MS and missed == 0,
            "loop_exceptions": len(loop_exceptions),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
