"""Scale: 50 simulated batteries polled every 10 s in one Home Assistant; planning 10,000 items.

One real-time Home Assistant with 50 Battery Steward entries (each with the two ready-made items,
peak window and night idle), 50 simulators served from their own thread (so answering costs
nothing on Home Assistant's event loop), poll interval 10 s. After a warm-up, over a window:
- event-loop lag: a probe sleeps PROBE_S again and again; lag = how much later than asked it
  wakes up (p99 over the window);
- CPU share: CPU time of the event-loop thread (time.thread_time()) / wall time (1.0 = one core);
- memory per battery: resident set size after the entries minus before, per battery. The first
  entry is set up before the "before" figure, so imports are not counted as per-battery cost.
Then, separately (so it does not disturb the lag figure): planning the next change over 10,000
mixed items, the pure engine as in benchmarks/plan.py (per change and cold).

Run from the repo root: .venv/bin/python benchmarks/scale.py   (BENCH_BATTERIES=5 for a quick run)
"""

import asyncio
import gc
import os
from pathlib import Path
import time
from typing import Any

from _harness import (
    emit,
    loop_exceptions,
    machine,
    percentile,
    running_hass,
    setup_entry,
    simulators_in_thread,
)
from plan import measure as plan_figures

from custom_components.battery_steward.runtime import BatteryConfigEntry

BATTERIES = int(os.environ.get("BENCH_BATTERIES", "50"))
POLL_S = 10
WINDOW_S = int(os.environ.get("BENCH_WINDOW_S", "60"))
WARMUP_S = POLL_S
PROBE_S = 0.05
MIB = 1024 * 1024

ITEMS: list[dict[str, Any]] = [
    {
        "type": "window",
        "name": "Peak",
        "weekdays": [0, 1, 2, 3, 4],
        "start": "19:00:00",
        "end": "22:00:00",
        "setpoints": {"mode": "auto", "reserve_pct": 20},
    },
    {
        "type": "window",
        "name": "Night idle",
        "weekdays": list(range(7)),
        "start": "22:00:00",
        "end": "06:00:00",
        "setpoints": {"mode": "idle"},
    },
]


async def probe_lag(lags_ms: list[float], stop: asyncio.Event) -> None:
    """Sleep PROBE_S repeatedly; record how late each wake-up is."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        asked = loop.time() + PROBE_S
        await asyncio.sleep(PROBE_S)
        lags_ms.append(max(0.0, loop.time() - asked) * 1000)


def rss() -> int:
    """Resident set size of this process in bytes, after a collection (Linux: /proc/self/statm)."""
    gc.collect()
    resident_pages = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def polling(entries: list[BatteryConfigEntry]) -> int:
    """How many entries polled successfully last time (the coordinators' own bookkeeping)."""
    return sum(1 for e in entries if e.runtime_data.coordinator.last_update_success)


async def main() -> None:
    print(f"scale: {BATTERIES} batteries, poll {POLL_S} s, window {WINDOW_S} s, on {machine()}", flush=True)
    async with running_hass() as hass, simulators_in_thread(BATTERIES) as batteries:
        options = {"poll_interval": POLL_S}
        started = time.monotonic()
        entries = [await setup_entry(hass, batteries[0], ITEMS, options)]
        mem_before = rss()
        entries.extend([await setup_entry(hass, battery, ITEMS, options) for battery in batteries[1:]])
        print(f"{len(entries)} entries set up in {time.monotonic() - started:.1f} s", flush=True)
        await asyncio.sleep(WARMUP_S)

        lags_ms: list[float] = []
        stop = asyncio.Event()
        probe = asyncio.create_task(probe_lag(lags_ms, stop))
        reads = sum(b.read_count for b in batteries)
        wall, cpu = time.monotonic(), time.thread_time()
        await asyncio.sleep(WINDOW_S)
        cpu_s, wall_s = time.thread_time() - cpu, time.monotonic() - wall
        reads = sum(b.read_count for b in batteries) - reads
        stop.set()
        await probe
        mem_after = rss()
        healthy = polling(entries)
        entity_count = len(hass.states.async_all())
        print(
            f"window: {reads} Modbus reads ({reads / BATTERIES / (wall_s / POLL_S):.2f} per battery per "
            f"interval), {healthy}/{BATTERIES} batteries polling, {entity_count} entities",
            flush=True,
        )

    plan = plan_figures(changes=100)
    others = max(1, BATTERIES - 1)
    mem_mb = (mem_after - mem_before) / MIB / others
    lag_p99 = percentile(lags_ms, 99)
    print(
        f"loop lag p50 {percentile(lags_ms, 50):.1f} ms, p99 {lag_p99:.1f} ms, max {max(lags_ms):.1f} ms "
        f"({len(lags_ms)} probes); loop CPU {cpu_s:.2f} s in {wall_s:.1f} s = {cpu_s / wall_s:.3f}; "
        f"memory {mem_mb:.2f} MiB per battery (RSS {mem_before / MIB:.0f} -> {mem_after / MIB:.0f} MiB); "
        f"plan 10k items {plan['plan_10k_items_ms']} ms per change, {plan['plan_10k_items_cold_ms']} ms cold;"
        f" loop exceptions: {len(loop_exceptions)}"
    )
    emit(
        {
            "batteries": BATTERIES,
            "loop_lag_p99_ms": round(lag_p99, 1),
            "cpu_share": round(cpu_s / wall_s, 4),
            "mem_mb_per_battery": round(mem_mb, 2),
            "plan_10k_items_ms": plan["plan_10k_items_ms"],
            "plan_10k_items_cold_ms": plan["plan_10k_items_cold_ms"],
            "loop_lag_p50_ms": round(percentile(lags_ms, 50), 1),
            "loop_lag_max_ms": round(max(lags_ms), 1),
            "poll_interval_s": POLL_S,
            "window_s": WINDOW_S,
            "reads_in_window": reads,
            "batteries_polling": healthy,
            "entities": entity_count,
            "loop_exceptions": len(loop_exceptions),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
