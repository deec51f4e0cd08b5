"""Fan-out: many batteries with a change at the same instant; how late is the LAST write.

Real-time Home Assistant; BENCH_BATTERIES (default 50) simulated batteries served from a process
of their own (as real devices are other machines; BENCH_SIMULATORS=thread serves them from a
thread of Home Assistant's process, sharing its interpreter lock) over Modbus TCP on 127.0.0.1,
one entry each. Each entry has BENCH_ROUNDS (default
20) one-off items at the same instants for every battery, 2 s apart (backup reserve alternating
30 % / 31 %). For each instant the figure is the lateness of the last
battery's write of its value (the simulator's monotonic stamp - the instant): every battery's
timer fires at once and each controller's runner writes on its own connection, so this shows
what one event loop does with 50 writes due together. The same run is then made with a single
battery. Goals (issue 12): last-write lateness p99 <= 50 ms for 50 batteries, <= 10 ms for one.

Run from the repo root: .venv/bin/python benchmarks/fan_out.py   (BENCH_BATTERIES=5 BENCH_ROUNDS=5 quick)
"""

import asyncio
from datetime import timedelta
import math
import os

from _harness import (
    RemoteBattery,
    emit,
    loop_exceptions,
    machine,
    mono_at,
    one_off_items,
    rounded,
    running_hass,
    setup_entry,
    simulators_in_process,
    simulators_in_thread,
    summary,
    wall_minus_mono,
)
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from custom_components.battery_steward.device.simulator import SimulatedBattery

BATTERIES = int(os.environ.get("BENCH_BATTERIES", "50"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "20"))
SPACING_S = 2
LEAD_S = 4  # the first instant this long after set-up is expected to be done
SETUP_S_PER_BATTERY = 0.5  # set-up budget per entry (loaded machine)
EARLY_S = 0.5
# The simulators run in a process of their own, as real devices are other machines; with
# BENCH_SIMULATORS=thread they share Home Assistant's process (and its interpreter lock) instead.
IN_THREAD = os.environ.get("BENCH_SIMULATORS", "process") == "thread"
Battery = SimulatedBattery | RemoteBattery


def value_of(i: int) -> int:
    return 30 + i % 2


async def fan_out(hass: HomeAssistant, batteries: list[Battery], offset: float) -> list[float]:
    """Last-write lateness (ms) per instant for these batteries; NaN where a battery missed it."""
    for battery in batteries:
        battery.set_control("reserve_pct", 50)  # neither 30 nor 31
    lead_s = LEAD_S + SETUP_S_PER_BATTERY * len(batteries)  # every entry is set up before the first
    first = dt_util.utcnow().replace(microsecond=0) + timedelta(seconds=math.ceil(lead_s))
    instants = [first + timedelta(seconds=SPACING_S * i) for i in range(ROUNDS)]
    items = one_off_items(instants, value_of)
    seen = [len(b.writes_log) for b in batteries]
    entries = [await setup_entry(hass, battery, items) for battery in batteries]
    await hass.async_block_till_done()
    left = (instants[0] - dt_util.utcnow()).total_seconds()
    print(f"{len(batteries)} entries set up; first shared instant in {left:.1f} s", flush=True)
    if left < 0.5:
        raise SystemExit("set-up took too long: the first change was already due")
    await asyncio.sleep((instants[-1] - dt_util.utcnow()).total_seconds() + 2.0)
    logs = [battery.writes_log for battery in batteries]  # fetched once (from another process)
    last_ms: list[float] = []
    for i, at in enumerate(instants):
        due = mono_at(at, offset)
        until = due + SPACING_S
        late: list[float] = []
        for log, since in zip(logs, seen, strict=True):
            hit = next(
                (
                    w.time
                    for w in log[since:]
                    if w.name == "reserve_pct" and w.value == value_of(i) and due - EARLY_S <= w.time < until
                ),
                None,
            )
            late.append(math.nan if hit is None else (hit - due) * 1000)
        last_ms.append(math.nan if any(math.isnan(v) for v in late) else max(late))
    for entry in entries:
        await hass.config_entries.async_unload(entry.entry_id)
    return last_ms


async def main() -> None:
    load = os.getloadavg()
    print(
        f"fan out: {BATTERIES} batteries, {ROUNDS} shared instants on {machine()}; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        flush=True,
    )
    offset = wall_minus_mono()
    simulators = simulators_in_thread if IN_THREAD else simulators_in_process
    async with running_hass() as hass, simulators(BATTERIES) as batteries:
        many = await fan_out(hass, list(batteries), offset)
        print(f"{BATTERIES} batteries: last-write lateness per instant (ms): {[round(v, 1) for v in many]}")
        one = await fan_out(hass, [batteries[0]], offset)
        print(f"1 battery: lateness per instant (ms): {[round(v, 1) for v in one]}")
    landed_many = [v for v in many if not math.isnan(v)]
    landed_one = [v for v in one if not math.isnan(v)]
    stats_many, stats_one = summary(landed_many), summary(landed_one)
    print(
        f"{BATTERIES} batteries: last write p50 {stats_many['p50']:.1f} ms, p99 {stats_many['p99']:.1f} ms; "
        f"1 battery: p50 {stats_one['p50']:.1f} ms, p99 {stats_one['p99']:.1f} ms; "
        f"loop exceptions: {len(loop_exceptions)}"
    )
    emit(
        {
            "batteries": BATTERIES,
            **{f"last_write_{k}": v for k, v in rounded(stats_many, "ms", 1).items()},
            **{f"single_{k}": v for k, v in rounded(stats_one, "ms", 1).items()},
            "instants": ROUNDS,
            "instants_all_landed": len(landed_many),
            "single_instants_landed": len(landed_one),
            "simulators_in_thread": IN_THREAD,
            "load_average_1min": round(load[0], 2),
            "loop_exceptions": len(loop_exceptions),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
