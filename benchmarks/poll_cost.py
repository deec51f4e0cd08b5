"""Poll cost: Modbus requests and event-loop CPU per poll cycle, Battery Steward vs core `modbus`.

One real-time Home Assistant, one simulated battery (served from its own thread, so answering
requests costs nothing on Home Assistant's event loop), both integrations reading the same 13
registers (every register Battery Steward polls: measurements and controls) every POLL_S seconds:
- Battery Steward: one entry, no schedule items (nothing to write), poll interval POLL_S;
- Home Assistant core's `modbus` integration, configured as YAML through async_setup_component,
  one sensor per register (the usual way a register list is written for it), scan_interval POLL_S.

Phases, one after the other in the same run: idle Home Assistant (baseline), Battery Steward
alone, core `modbus` alone (it has no unload). In each phase, after a warm-up: requests = the
simulator's count of Modbus requests received; CPU = time.thread_time() of the event-loop
thread, minus the idle baseline's rate. Per cycle = divided by the cycles each really ran,
counted at the simulator as reads at the first register (every cycle of either starts there;
core's per-sensor timers run a little slower than every POLL_S).

Run from the repo root: .venv/bin/python benchmarks/poll_cost.py   (BENCH_CYCLES=5 for a quick run)
"""

import asyncio
import os
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

CYCLES = int(os.environ.get("BENCH_CYCLES", "30"))
POLL_S = 2
WARMUP_CYCLES = 2
WINDOW_S = CYCLES * POLL_S
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


async def measure(hass: HomeAssistant, battery: CountingBattery) -> tuple[int, float, int]:
    """Requests received, event-loop CPU seconds and poll cycles run over a window of WINDOW_S.

    A cycle is counted at the simulator: each one starts with a read at the first register.
    """
    await hass.async_block_till_done()
    requests, cpu, cycles = battery.request_count, time.thread_time(), battery.reads_at[FIRST]
    await asyncio.sleep(WINDOW_S)
    return (
        battery.request_count - requests,
        time.thread_time() - cpu,
        battery.reads_at[FIRST] - cycles,
    )


def core_states_known(hass: HomeAssistant) -> bool:
    """Every core sensor has a numeric state."""
    states = [hass.states.get(f"sensor.core_{reg.name}") for reg in r.POLLED]
    return all(s is not None and s.state not in ("unknown", "unavailable") for s in states)


async def main() -> None:
    print(f"poll_cost: {CYCLES} cycles of {POLL_S} s per phase, {len(r.POLLED)} registers, on {machine()}")
    async with running_hass() as hass, simulators_in_thread(1) as (battery,):
        await asyncio.sleep(POLL_S)
        idle_requests, idle_cpu, _ = await measure(hass, battery)
        idle_rate = idle_cpu / WINDOW_S
        print(
            f"idle: {idle_requests} requests, {idle_cpu * 1000:.1f} ms loop CPU in {WINDOW_S} s", flush=True
        )

        entry = await setup_entry(hass, battery, [], {"poll_interval": POLL_S})
        await asyncio.sleep(WARMUP_CYCLES * POLL_S)
        writes = battery.write_count
        ours_requests, ours_cpu, ours_cycles = await measure(hass, battery)
        ours_writes = battery.write_count - writes
        print(
            f"Battery Steward: {ours_cycles} cycles, {ours_requests} requests, {ours_cpu * 1000:.1f} ms CPU"
        )
        if not await hass.config_entries.async_unload(entry.entry_id):
            raise SystemExit("Battery Steward did not unload")
        await asyncio.sleep(POLL_S)

        if not await async_setup_component(hass, "modbus", core_modbus_config(battery)):
            raise SystemExit("core modbus did not set up")
        if not await wait_until(lambda: core_states_known(hass), 10 * POLL_S, step_s=0.1):
            raise SystemExit("core modbus sensors never got a value")
        await asyncio.sleep(WARMUP_CYCLES * POLL_S)
        core_requests, core_cpu, core_cycles = await measure(hass, battery)
        print(f"core modbus: {core_cycles} cycles, {core_requests} requests, {core_cpu * 1000:.1f} ms CPU")
        soc = hass.states.get("sensor.core_soc_pct")
        print(f"core soc_pct = {soc.state if soc else None} (simulator: {battery.read_register('soc_pct')})")

    def per_cycle_ms(cpu: float, cycles: int) -> float:
        return round(max(0.0, cpu - idle_rate * WINDOW_S) * 1000 / max(cycles, 1), 2)

    requests_per_cycle = ours_requests / max(ours_cycles, 1)
    core_requests_per_cycle = core_requests / max(core_cycles, 1)
    cpu_ms, core_cpu_ms = per_cycle_ms(ours_cpu, ours_cycles), per_cycle_ms(core_cpu, core_cycles)
    print(
        f"per cycle: Battery Steward {requests_per_cycle:.2f} requests, {cpu_ms:.2f} ms; "
        f"core modbus {core_requests_per_cycle:.2f} requests, {core_cpu_ms:.2f} ms "
        f"(idle loop {idle_rate * POLL_S * 1000:.2f} ms per {POLL_S} s subtracted); "
        f"loop exceptions: {len(loop_exceptions)}"
    )
    emit(
        {
            "requests_per_cycle": round(requests_per_cycle, 2),
            "core_requests_per_cycle": round(core_requests_per_cycle, 2),
            "cpu_ms_per_cycle": cpu_ms,
            "core_cpu_ms_per_cycle": core_cpu_ms,
            "requests_ratio": round(core_requests_per_cycle / max(requests_per_cycle, 1e-9), 1),
            "cpu_ratio": round(core_cpu_ms / cpu_ms, 1) if cpu_ms > 0 else None,
            "registers": len(r.POLLED),
            "cycles": ours_cycles,
            "core_cycles": core_cycles,
            "poll_interval_s": POLL_S,
            "idle_cpu_ms_per_cycle": round(idle_rate * POLL_S * 1000, 2),
            "writes_during_window": ours_writes,
            "loop_exceptions": len(loop_exceptions),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
