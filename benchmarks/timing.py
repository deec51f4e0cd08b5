"""Timing: 200 scheduled changes one second apart; lateness of each write at the simulator.

Run from the repo root: .venv/bin/python benchmarks/timing.py
"""

import asyncio
from datetime import timedelta
import os
import time

from _harness import emit, make_entry, running_hass, simulator, summary
from homeassistant.util import dt as dt_util

from custom_components.battery_steward.device.simulator import WriteRecord

CHANGES = int(os.environ.get("BENCH_CHANGES", "200"))
LEAD_S = 5.0


async def main() -> None:
    arrivals: list[tuple[float, float]] = []  # (monotonic, value)

    def on_write(record: WriteRecord) -> None:
        if record.name == "reserve_pct":
            arrivals.append((time.monotonic(), record.value))

    async with running_hass() as hass, simulator(on_write) as battery:
        start = (dt_util.utcnow() + timedelta(seconds=LEAD_S + 3)).replace(microsecond=0)
        instants = [start + timedelta(seconds=i) for i in range(CHANGES)]
        items = [
            {
                "type": "one_off",
                "name": f"change {i}",
                "at": at.isoformat(),
                "setpoints": {"reserve_pct": 30 + i % 2},
            }
            for i, at in enumerate(instants)
        ]
        entry = make_entry(battery, items)
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        arrivals.clear()  # the start-up run's write is not a scheduled change
        wall_minus_mono = time.time() - time.monotonic()
        print(f"{CHANGES} changes from {start.isoformat()}", flush=True)
        await asyncio.sleep((instants[-1] - dt_util.utcnow()).total_seconds() + 2)
        await hass.config_entries.async_unload(entry.entry_id)

    lateness_ms: list[float] = []
    for i, at in enumerate(instants):
        due_mono = at.timestamp() - wall_minus_mono
        value = 30 + i % 2
        hit = next((t for t, v in arrivals if v == value and t >= due_mono - 0.5), None)
        if hit is None:
            continue
        arrivals.remove(next(a for a in arrivals if a[0] == hit))
        lateness_ms.append((hit - due_mono) * 1000)
    stats = summary(lateness_ms)
    print(f"landed {len(lateness_ms)}/{CHANGES}; p50 {stats['p50']:.1f} ms, p99 {stats['p99']:.1f} ms")
    emit(
        {
            "p50_ms": round(stats["p50"], 1),
            "p99_ms": round(stats["p99"], 1),
            "max_ms": round(stats["max"], 1),
            "changes": len(lateness_ms),
            "seed_model_mean_s": 30,
            "seed_model_max_s": 60,
            "seed_mean_over_our_p50": round(30000 / max(stats["p50"], 0.001)),
            "seed_max_over_our_max": round(60000 / max(stats["max"], 0.001)),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
