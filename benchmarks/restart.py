"""Restart: 20 restarts at random instants with the battery in the wrong state each time.

Measures the time until the battery is correct from the start of the entry's set-up, which
includes connecting, identification and the first poll: an upper bound of the time from the
first successful poll.
Run from the repo root: .venv/bin/python benchmarks/restart.py
"""

import asyncio
import os
import random
import time

from _harness import emit, make_entry, running_hass, simulator, summary

from custom_components.battery_steward.device.simulator import WriteRecord

RESTARTS = int(os.environ.get("BENCH_RESTARTS", "20"))
WANT = 80


async def main() -> None:
    correct_at: list[float] = []

    def on_write(record: WriteRecord) -> None:
        if record.name == "reserve_pct" and record.value == WANT:
            correct_at.append(time.time())

    rng = random.Random(2)
    window = {
        "type": "window",
        "name": "All day",
        "weekdays": list(range(7)),
        "start": "00:00:00",
        "end": "23:59:59",
        "setpoints": {"reserve_pct": WANT},
    }
    took_s: list[float] = []
    async with running_hass() as hass, simulator(on_write) as battery:
        for i in range(RESTARTS):
            await asyncio.sleep(rng.uniform(0.0, 1.0))
            battery.set_control("reserve_pct", rng.choice([10, 20, 40, 60]))
            correct_at.clear()
            entry = make_entry(battery, [window])
            entry.add_to_hass(hass)
            setup_started = time.time()
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
            assert correct_at, "battery not corrected at start-up"
            took_s.append(correct_at[0] - setup_started)
            await hass.config_entries.async_unload(entry.entry_id)
            await hass.config_entries.async_remove(entry.entry_id)
            print(f"restart {i + 1}: correct {took_s[-1] * 1000:.1f} ms after set-up started", flush=True)
    stats = summary(took_s)
    emit(
        {
            "max_s": round(stats["max"], 3),
            "p50_s": round(stats["p50"], 3),
            "restarts": len(took_s),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
