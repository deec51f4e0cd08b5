"""Poll cost: Modbus requests and event-loop CPU per poll cycle, Battery Steward vs core `modbus`.

Each phase runs in a fresh process of its own: one real-time Home Assistant, one simulated battery
(served from its own thread, so answering requests costs nothing on Home Assistant's event loop),
and one integration reading the same 13 registers (every register Battery Steward polls:
measurements and controls) every POLL_S seconds:
- Battery Steward: one entry, no schedule items (nothing to write), poll interval POLL_S;
- Home Assistant core's `modbus` integration, configured as YAML through async_setup_component,
  one sensor per register (the usual way a register list is written for it), scan_interval POLL_S.

The phases alternate, ROUNDS times: Battery Steward, core `modbus`, Battery Steward, ... A fresh
process per phase lets each start from the same state (core `modbus` has no unload), and
alternating them spreads the machine's drift over both. In a phase: set-up, a warm-up of WARMUP_S
(longer than the 10 s after which Home Assistant saves the registries that its start and the
set-up changed), a full garbage collection and gc.freeze() (so a collection in the window walks
the objects made since, not all of Home Assistant's heap), then a window of CYCLES cycles:
requests = the simulator's count of Modbus requests received; CPU = time.thread_time() of the
event-loop thread, all of it (an idle Home Assistant's loop, about 0.01 ms per 2 s, is not
subtracted: it counts against both). Per cycle = divided by the cycles each really ran, counted
at the simulator as reads at the first register (every cycle of either starts there; core's
per-sensor timers run a little slower than every POLL_S). The figures are the medians over the
rounds, the ratio theirs; each round's ratio (its two phases side by side) is given too.

Run from the repo root: .venv/bin/python benchmarks/poll_cost.py   (BENCH_CYCLES=5 BENCH_ROUNDS=1
for a quick run)
"""

import asyncio
from concurrent.futures import ProcessPoolExecutor
import gc
import multiprocessing
import os
import statistics
import time
from typing import Any

from _harness import (
    CountingBattery,
    emit,
    loop_exceptions,
    machine,
    running_hass,
    setup_entry,
    simulators_in_thread,
    wait_until,
)
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component

from custom_components.battery_steward.device import registers as r
from custom_components.battery_steward.device.simulator import SimulatedBattery

CYCLES = int(os.environ.get("BENCH_CYCLES", "20"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
POLL_S = 2
# Set-up's own saves (Home Assistant writes its entity and device registries 10 s after a change)
# are over before the window opens: they are not the cost of a poll.
WARMUP_S = 15
WINDOW_S = CYCLES * POLL_S
OURS, CORE = "Battery Steward", "core modbus"
FIRST = r.POLLED[0].address

_DATA_TYPES = {
    r.RegType.U16: "uint16",
    r.RegType.I16: "int16",
    r.RegType.U32: "uint32",
    r.RegType.I32: "int32",
}


def core_modbus_config(battery: SimulatedBattery) -> dict[str, Any]:
    """YAML for core `modbus`: one hub on the simulator, one sensor per polled register."""
    sensors: list[dict[str, Any]] = []
    for reg in r.POLLED:
        sensor: dict[str, Any] = {
            "name": f"core {reg.name}",
            "unique_id": f"core_{reg.name}",
            "address": reg.address,
            "device_address": battery.unit,
            "input_type": "holding",
            "data_type": _DATA_TYPES[reg.type],
            "scan_interval": POLL_S,
        }
        if reg.scale != 1:
            sensor |= {"scale": reg.scale, "precision": 3}
        sensors.append(sensor)
    return {
        "modbus": [
            {
                "name": "bench",
                "type": "tcp",
                "host": "127.0.0.1",
                "port": battery.port,
                "sensors": sensors,
            }
        ]
    }


async def measure(hass: HomeAssistant, battery: CountingBattery, window_s: float) -> tuple[int, float, int]:
    """Requests received, event-loop CPU seconds and poll cycles run over a window.

    A cycle is counted at the simulator: each one starts with a read at the first register.
    """
    await hass.async_block_till_done()
    requests, cpu, cycles = battery.request_count, time.thread_time(), battery.reads_at[FIRST]
    await asyncio.sleep(window_s)
    return (
        battery.request_count - requests,
        time.thread_time() - cpu,
        battery.reads_at[FIRST] - cycles,
    )


def core_states_known(hass: HomeAssistant) -> bool:
    """Every core sensor has a numeric state."""
    states = [hass.states.get(f"sensor.core_{reg.name}") for reg in r.POLLED]
    return all(s is not None and s.state not in ("unknown", "unavailable") for s in states)


async def phase(kind: str) -> dict[str, Any]:
    """One integration's phase in this (fresh) process: set-up, warm-up, window."""
    async with running_hass() as hass, simulators_in_thread(1) as (battery,):
        if kind == OURS:
            await setup_entry(hass, battery, [], {"poll_interval": POLL_S})
        else:
            if not await async_setup_component(hass, "modbus", core_modbus_config(battery)):
                raise SystemExit("core modbus did not set up")
            if not await wait_until(lambda: core_states_known(hass), 10 * POLL_S, step_s=0.1):
                raise SystemExit("core modbus sensors never got a value")
        await asyncio.sleep(WARMUP_S)
        # A full collection walks all of Home Assistant's heap, whichever window it lands in (it
        # moved core's figure from 2.4 to 5-6 ms in one window of three): the heap as set up is
        # frozen, so collections in the window cost what the integration's own objects do.
        gc.collect()
        gc.freeze()
        writes = battery.write_count
        requests, cpu, cycles = await measure(hass, battery, WINDOW_S)
        if kind == CORE:
            soc = hass.states.get("sensor.core_soc_pct")
            if soc is None or float(soc.state) != battery.read_register("soc_pct"):
                raise SystemExit(f"core soc_pct {soc and soc.state} is not the simulator's")
        return {
            "requests": requests / max(cycles, 1),
            "cpu_ms": cpu * 1000 / max(cycles, 1),
            "cycles": cycles,
            "writes": battery.write_count - writes,
            "loop_exceptions": len(loop_exceptions),
        }


def run_phase(kind: str) -> dict[str, Any]:
    """phase() in the calling process (the pool gives each phase a process of its own)."""
    return asyncio.run(phase(kind))


def main() -> None:
    print(
        f"poll_cost: {ROUNDS} rounds of a phase each, {CYCLES} cycles of {POLL_S} s per phase, "
        f"{len(r.POLLED)} registers, on {machine()}",
        flush=True,
    )
    results: dict[str, list[dict[str, Any]]] = {OURS: [], CORE: []}
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn, max_tasks_per_child=1) as pool:
        for round_no in range(1, ROUNDS + 1):
            for kind in (OURS, CORE):
                result = pool.submit(run_phase, kind).result()
                results[kind].append(result)
                print(
                    f"round {round_no}, {kind}: {result['cycles']} cycles, {result['requests']:.2f} requests "
                    f"and {result['cpu_ms']:.2f} ms loop CPU per cycle",
                    flush=True,
                )

    def median(kind: str, key: str) -> float:
        return float(statistics.median(float(result[key]) for result in results[kind]))

    cpu_ms, core_cpu_ms = median(OURS, "cpu_ms"), median(CORE, "cpu_ms")
    requests, core_requests = median(OURS, "requests"), median(CORE, "requests")
    round_ratios = [
        round(core["cpu_ms"] / ours["cpu_ms"], 1) if ours["cpu_ms"] > 0 else None
        for ours, core in zip(results[OURS], results[CORE], strict=True)
    ]
    exceptions = sum(result["loop_exceptions"] for kind in results for result in results[kind])
    print(
        f"median per cycle: Battery Steward {requests:.2f} requests, {cpu_ms:.2f} ms; "
        f"core modbus {core_requests:.2f} requests, {core_cpu_ms:.2f} ms; ratio per round {round_ratios}; "
        f"loop exceptions: {exceptions}"
    )
    emit(
        {
            "requests_per_cycle": round(requests, 2),
            "core_requests_per_cycle": round(core_requests, 2),
            "cpu_ms_per_cycle": round(cpu_ms, 2),
            "core_cpu_ms_per_cycle": round(core_cpu_ms, 2),
            "requests_ratio": round(core_requests / max(requests, 1e-9), 1),
            "cpu_ratio": round(core_cpu_ms / cpu_ms, 1) if cpu_ms > 0 else None,
            "cpu_ratio_per_round": round_ratios,
            "rounds": ROUNDS,
            "registers": len(r.POLLED),
            "cycles": sum(result["cycles"] for result in results[OURS]),
            "core_cycles": sum(result["cycles"] for result in results[CORE]),
            "poll_interval_s": POLL_S,
            "writes_during_window": sum(result["writes"] for result in results[OURS]),
            "loop_exceptions": exceptions,
        }
    )


if __name__ == "__main__":
    main()
