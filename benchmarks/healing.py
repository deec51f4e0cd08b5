"""Healing: 100 tampers (reserve changed behind our back); time until the corrective write.

Run from the repo root: .venv/bin/python benchmarks/healing.py
"""

import asyncio
import os
import random
import time

from _harness import emit, make_entry, running_hass, simulator, summary

from custom_components.battery_steward.device.simulator import WriteRecord

TAMPERS = int(os.environ.get("BENCH_TAMPERS", "100"))
POLL_S = 2
WANT = 20


async def main() -> None:
    corrected = asyncio.Event()

    def on_write(record: WriteRecord) -> None:
        if record.name == "reserve_pct" and record.value == WANT:
            corrected.set()

    rng = random.Random(1)
    items = [
        {
            "type": "cron",
            "name": "Reserve",
            "cron": "0 0 * * *",
            "setpoints": {"reserve_pct": WANT, "mode": "auto"},
        }
    ]
    # A fight would (rightly) stop the corrections: this benchmark measures healing, so the
    # fight threshold is set above the number of tampers.
    options = {"poll_interval": POLL_S, "fight_max_corrections": 100, "fight_window_min": 1}
    heal_s: list[float] = []
    async with running_hass() as hass, simulator(on_write) as battery:
        entry = make_entry(battery, items, options)
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        for i in range(TAMPERS):
            await asyncio.sleep(rng.uniform(0.0, POLL_S))
            corrected.clear()
            battery.set_control("reserve_pct", rng.choice([w for w in range(5, 95) if w != WANT]))
            tampered = time.monotonic()
            await asyncio.wait_for(corrected.wait(), POLL_S * 5)
            heal_s.append(time.monotonic() - tampered)
            if (i + 1) % 20 == 0:
                print(f"{i + 1} tampers healed", flush=True)
        await hass.config_entries.async_unload(entry.entry_id)
    stats = summary(heal_s)
    print(f"p50 {stats['p50']:.2f} s, p99 {stats['p99']:.2f} s, max {stats['max']:.2f} s (poll {POLL_S} s)")
    emit(
        {
            "p50_s": round(stats["p50"], 3),
            "p99_s": round(stats["p99"], 3),
            "max_s": round(stats["max"], 3),
            "poll_interval_s": POLL_S,
            "tampers": len(heal_s),
            "seed_model_mean_s": 450,
            "seed_model_max_s": 900,
            "seed_mean_over_our_mean": round(450 / stats["mean"], 1),
            "seed_max_over_our_max": round(900 / stats["max"], 1),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
