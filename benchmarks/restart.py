"""Restart: 20 restarts at random instants with the battery in the wrong state each time.

Real-time Home Assistant, the simulator over Modbus TCP on 127.0.0.1 (kept running across
restarts, like a real battery). One entry with a window item active now (reserve 80 %, all day,
every day). Before each set-up an outside actor puts the reserve to a wrong value; then the entry
is set up at a random instant, measured, and unloaded (the same entry each time, so its stored
state carries over as it would across Home Assistant restarts).

Figures per restart (all on the monotonic clock, writes stamped by the simulator):
- from the first successful poll (the coordinator's first read returning) to the simulator
  receiving the write of 80 % — the headline figure;
- from the start of set-up (connect, identify, first poll included) to that write.

Run from the repo root: .venv/bin/python benchmarks/restart.py   (BENCH_RESTARTS=5 for a quick run)
"""

import asyncio
import os
import random
import time
from unittest.mock import patch

from _harness import (
    emit,
    first_write,
    loop_exceptions,
    machine,
    running_hass,
    setup_entry,
    simulator,
    summary,
    wait_until,
)

from custom_components.battery_steward.coordinator import BatteryCoordinator
from custom_components.battery_steward.engine.state import Measurements
from custom_components.battery_steward.runtime import BatteryConfigEntry

RESTARTS = int(os.environ.get("BENCH_RESTARTS", "20"))
WANT = 80
WRONG = [10, 20, 40, 60]
TIMEOUT_S = 10.0

poll_done: list[float] = []  # monotonic time each successful poll returned
_original_update = BatteryCoordinator._async_update_data


async def _timed_update(self: BatteryCoordinator) -> Measurements:
    """The coordinator's own poll, stamped when it returns successfully."""
    data = await _original_update(self)
    poll_done.append(time.monotonic())
    return data


async def main() -> None:
    print(f"restart: {RESTARTS} restarts, battery wrong before each, on {machine()}", flush=True)
    rng = random.Random(2)
    window = {
        "type": "window",
        "name": "All day",
        "weekdays": list(range(7)),
        "start": "00:00:00",
        "end": "23:59:59",
        "setpoints": {"reserve_pct": WANT},
    }
    from_poll_s: list[float] = []
    from_setup_s: list[float] = []
    not_corrected = 0
    with patch.object(BatteryCoordinator, "_async_update_data", _timed_update):
        async with running_hass() as hass, simulator() as battery:
            entry: BatteryConfigEntry | None = None
            for i in range(RESTARTS):
                battery.set_control("reserve_pct", rng.choice(WRONG))  # the outside actor
                await asyncio.sleep(rng.uniform(0.0, 2.0))  # a random instant
                seen = len(battery.writes_log)
                started = time.monotonic()
                poll_done.clear()
                if entry is None:
                    entry = await setup_entry(hass, battery, [window])
                elif not await hass.config_entries.async_setup(entry.entry_id):
                    raise SystemExit(f"restart {i + 1}: entry did not load ({entry.state})")

                def correct(seen: int = seen) -> bool:
                    return first_write(battery, seen, "reserve_pct", WANT) is not None

                await wait_until(correct, TIMEOUT_S)
                write = first_write(battery, seen, "reserve_pct", WANT)
                if write is None or not poll_done:
                    not_corrected += 1
                    print(f"restart {i + 1}: battery not correct within {TIMEOUT_S} s", flush=True)
                else:
                    from_poll_s.append(write.time - poll_done[0])
                    from_setup_s.append(write.time - started)
                    held = battery.read_register("reserve_pct")
                    print(
                        f"restart {i + 1}: correct {from_poll_s[-1] * 1000:.1f} ms after the first poll, "
                        f"{from_setup_s[-1] * 1000:.1f} ms after set-up started; battery holds {held} %",
                        flush=True,
                    )
                await hass.async_block_till_done()
                if not await hass.config_entries.async_unload(entry.entry_id):
                    raise SystemExit(f"restart {i + 1}: entry did not unload")
    stats = summary(from_poll_s)
    setup = summary(from_setup_s)
    print(
        f"correct after the first poll: p50 {stats['p50'] * 1000:.1f} ms, max {stats['max'] * 1000:.1f} ms; "
        f"after set-up started: p50 {setup['p50'] * 1000:.1f} ms, max {setup['max'] * 1000:.1f} ms; "
        f"loop exceptions: {len(loop_exceptions)}"
    )
    emit(
        {
            "max_s": round(stats["max"], 4),
            "p50_s": round(stats["p50"], 4),
            "restarts": RESTARTS,
            "restarts_corrected": len(from_poll_s),
            "restarts_not_corrected": not_corrected,
            "from_setup_start_p50_s": round(setup["p50"], 4),
            "from_setup_start_max_s": round(setup["max"], 4),
            "loop_exceptions": len(loop_exceptions),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
