"""Write economy: writes over a simulated week of a weekday on/off-peak plan = the planned changes.

Home Assistant with frozen, hand-advanced time (freezegun, as the tests' `freezer`), the
simulator over Modbus TCP on 127.0.0.1 with its physics on the same simulated clock, poll
interval 60 s, the patrol at its default (15 min). The plan, Europe/Paris, from Monday 1 June 2026
00:00 for 7 days:
- the battery's default item: auto mode, reserve 30 %, power 0 W (what holds outside the windows);
- off-peak (window, weekdays 00:30-06:30): force charge at 1500 W, reserve 90 %;
- on-peak (window, weekdays 17:00-21:00): force discharge at 2000 W, reserve 20 %.
The battery really charges, fills, discharges and stops at its reserve in between; no one else
touches it. The clock moves one poll interval at a time, running every timer that falls due.

Planned changes are counted per field (each field is one register write): for every change of
the desired state in the week (the controller's own changes_between), the fields that differ from
the state before. Writes are the Modbus write requests the simulator received in the week.
redundant_writes = writes beyond the planned ones, per field; missed = planned ones not written.

Run from the repo root: .venv/bin/python benchmarks/write_economy.py   (BENCH_DAYS=2 for a quick run)
"""

from _frozen import frozen, tick  # isort: skip  (before Home Assistant: makes its clocks patchable)

import asyncio
from collections import Counter
from datetime import datetime, timedelta
import os
import time
from typing import Any
from zoneinfo import ZoneInfo

from _harness import emit, loop_exceptions, machine, running_hass, setup_entry

from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery
from custom_components.battery_steward.engine.state import Setpoints

DAYS = int(os.environ.get("BENCH_DAYS", "7"))
POLL_S = 60
PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 6, 1, 0, 0, tzinfo=PARIS)  # a Monday, far from either DST change
WEEKDAYS = [0, 1, 2, 3, 4]
FIELD_REGISTER = {"mode": "mode", "reserve_pct": "reserve_pct", "power_w": "power_setpoint_w"}
ITEMS: list[dict[str, Any]] = [
    {
        "type": "default",
        "name": "Default",
        "setpoints": {"mode": "auto", "reserve_pct": 30, "power_w": 0},
    },
    {
        "type": "window",
        "name": "Off-peak charge",
        "weekdays": WEEKDAYS,
        "start": "00:30:00",
        "end": "06:30:00",
        "priority": 1,
        "setpoints": {"mode": "force_charge", "power_w": -1500, "reserve_pct": 90},
    },
    {
        "type": "window",
        "name": "On-peak discharge",
        "weekdays": WEEKDAYS,
        "start": "17:00:00",
        "end": "21:00:00",
        "priority": 1,
        "setpoints": {"mode": "force_discharge", "power_w": 2000, "reserve_pct": 20},
    },
]


def field_changes(before: Setpoints, after: Setpoints) -> list[str]:
    """The fields (that we write) whose desired value differs."""
    return [
        f for f in FIELD_REGISTER if getattr(after, f) is not None and getattr(before, f) != getattr(after, f)
    ]


async def main() -> None:
    print(f"write_economy: {DAYS} simulated days, poll {POLL_S} s, on {machine()}", flush=True)
    started = time.monotonic()
    async with running_hass() as hass:
        with frozen(START) as clock:
            # The simulator's physics follow the frozen clock too (a lambda: looked up at each call).
            battery = SimulatedBattery(
                SimConfig(serial="SIM-BENCH001", noise_w=0.0),
                clock=lambda: time.monotonic(),  # noqa: PLW0108
            )
            await battery.start(host="127.0.0.1", port=0)
            try:
                entry = await setup_entry(hass, battery, ITEMS, {"poll_interval": POLL_S})
                controller = entry.runtime_data.controller
                end = START + timedelta(days=DAYS)
                changes = controller.changes_between(START, end)
                planned: Counter[str] = Counter()
                before = controller.desired_at(START)
                for _at, desired in changes:
                    planned.update(field_changes(before, desired))
                    before = desired
                startup = dict(battery.write_counts)  # the set-up run puts the battery on plan
                requests = battery.write_count
                soc_seen: list[float] = []
                steps = DAYS * 24 * 3600 // POLL_S
                for step in range(steps):
                    await tick(hass, clock, POLL_S)
                    if step % 60 == 0:
                        soc_seen.append(float(battery.read_register("soc_pct")))
                    if (step + 1) % (24 * 3600 // POLL_S) == 0:
                        print(f"day {(step + 1) * POLL_S // 86400}/{DAYS} simulated", flush=True)
                written = Counter(battery.write_counts) - Counter(startup)
                write_requests = battery.write_count - requests
                in_sync = controller.desired_at(end)
                held = {f: battery.read_register(r) for f, r in FIELD_REGISTER.items()}
                journal = controller.statistics()
                await hass.config_entries.async_unload(entry.entry_id)
            finally:
                await battery.stop()
                for _ in range(20):  # let the closed sockets be noticed under the frozen clock
                    await asyncio.sleep(0)

    by_field_planned = {f: planned[f] for f in FIELD_REGISTER}
    by_field_written = {f: written[r] for f, r in FIELD_REGISTER.items()}
    redundant = sum(max(0, by_field_written[f] - by_field_planned[f]) for f in FIELD_REGISTER)
    missed = sum(max(0, by_field_planned[f] - by_field_written[f]) for f in FIELD_REGISTER)
    planned_total = sum(by_field_planned.values())
    print(f"startup writes (not counted): {startup}")
    print(f"{len(changes)} planned change instants; planned field writes {by_field_planned}")
    print(f"written {by_field_written} in {write_requests} write requests; controller: {journal}")
    print(f"state of charge over the run: min {min(soc_seen):.0f} %, max {max(soc_seen):.0f} %")
    print(f"at the end: desired {in_sync}, battery holds {held}")
    print(
        f"writes {write_requests}, planned {planned_total}, redundant {redundant}, missed {missed}; "
        f"{time.monotonic() - started:.0f} s real time; loop exceptions: {len(loop_exceptions)}"
    )
    emit(
        {
            "writes": write_requests,
            "planned_changes": planned_total,
            "redundant_writes": redundant,
            "missed_writes": missed,
            "change_instants": len(changes),
            "days": DAYS,
            "poll_interval_s": POLL_S,
            "polls": steps,
            "soc_min_pct": round(min(soc_seen), 1),
            "soc_max_pct": round(max(soc_seen), 1),
            "loop_exceptions": len(loop_exceptions),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
