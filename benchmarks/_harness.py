"""Shared set-up for the benchmarks: a real-time Home Assistant, the simulator, an entry.

Nothing here freezes or fakes time: Home Assistant's timers, the Modbus TCP connection (over
127.0.0.1) and the simulator's clock (time.monotonic) are all real.
"""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import datetime
import json
import math
import multiprocessing
from multiprocessing.connection import Connection
import os
from pathlib import Path
import platform
import statistics
import sys
import tempfile
import threading
import time
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from homeassistant import loader
from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.helpers import frame, translation
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

import custom_components.battery_steward  # noqa: F401  (importable before Home Assistant looks)
from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.device.simulator import (
    SimConfig,
    SimulatedBattery,
    WriteRecord,
)
from custom_components.battery_steward.runtime import BatteryConfigEntry
from custom_components.battery_steward.schedule import SUBENTRY_ITEM

SERIAL = "SIM-BENCH001"
HOST = "127.0.0.1"

# Exceptions that reached the event loop's handler (a benchmark reports how many it saw).
loop_exceptions: list[str] = []


@asynccontextmanager
async def running_hass(tz: str = "Europe/Paris") -> AsyncIterator[HomeAssistant]:
    """A running Home Assistant in real time, with a throw-away config directory.

    Like pytest-homeassistant-custom-component's `hass` plus `enable_custom_integrations`
    fixtures: custom integrations are found (the test harness's empty cache is dropped), and on
    exit every loaded entry is unloaded and Home Assistant is stopped.
    """
    loop = asyncio.get_running_loop()

    def on_exception(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        loop_exceptions.append(repr(context.get("exception", context.get("message"))))
        _loop.default_exception_handler(context)

    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as config_dir:
        async with async_test_home_assistant(loop, config_dir=config_dir) as hass:
            loop.set_exception_handler(on_exception)
            frame.async_setup(hass)
            await translation.async_load_integrations(hass, {"homeassistant"})
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)  # enable_custom_integrations
            await hass.config.async_set_time_zone(tz)
            try:
                yield hass
            finally:
                for entry in hass.config_entries.async_entries(DOMAIN):
                    if entry.state is ConfigEntryState.LOADED:
                        await hass.config_entries.async_unload(entry.entry_id)
                await hass.async_stop(force=True)
                loop.set_exception_handler(None)


@asynccontextmanager
async def simulator(on_write: Callable[[WriteRecord], None] | None = None) -> AsyncIterator[SimulatedBattery]:
    """The simulated battery on a free loopback port; its clock is time.monotonic."""
    battery = SimulatedBattery(SimConfig(serial=SERIAL, noise_w=0.0), on_write=on_write)
    await battery.start(host=HOST, port=0)
    try:
        yield battery
    finally:
        await battery.stop()


class CountingBattery(SimulatedBattery):
    """The simulated battery, also counting read requests by their start address.

    A poll cycle of any client reading a register list starts with a read at its first address,
    so the count at that address is the number of cycles the client really ran.
    """

    def __init__(self, config: SimConfig) -> None:
        super().__init__(config, on_read=self._count_read)
        self.reads_at: Counter[int] = Counter()

    def _count_read(self, address: int) -> None:
        self.reads_at[address] += 1


class SimulatorThread:
    """Simulated batteries served from their own thread and event loop.

    Their request handling then costs nothing on Home Assistant's event loop, so the loop's CPU
    time (time.thread_time() in the main thread) is Home Assistant's alone. Counters such as
    request_count are plain ints and safe to read from the main thread.
    """

    def __init__(self, serials: list[str]) -> None:
        self._serials = serials
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="simulators", daemon=True)
        self.batteries: list[CountingBattery] = []

    def _run[T](self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=60)

    async def start(self) -> list[CountingBattery]:
        """Start the thread and every simulator on a free loopback port."""
        self._thread.start()

        async def start_all() -> list[CountingBattery]:
            batteries = [CountingBattery(SimConfig(serial=s, noise_w=0.0)) for s in self._serials]
            for battery in batteries:
                await battery.start(host=HOST, port=0)
            return batteries

        self.batteries = await asyncio.to_thread(self._run, start_all())
        return self.batteries

    async def stop(self) -> None:
        """Stop every simulator, then the thread."""

        async def stop_all() -> None:
            for battery in self.batteries:
                await battery.stop()

        if self._thread.is_alive():
            await asyncio.to_thread(self._run, stop_all())
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join, 10)
        self._loop.close()


def bench_serials(count: int) -> list[str]:
    """The serials of count simulated batteries: SIM-BENCH001..."""
    return [f"SIM-BENCH{i + 1:03d}" for i in range(count)]


@asynccontextmanager
async def simulators_in_thread(count: int) -> AsyncIterator[list[CountingBattery]]:
    """count simulated batteries in a thread of their own."""
    sims = SimulatorThread(bench_serials(count))
    try:
        yield await sims.start()
    finally:
        await sims.stop()


class RemoteBattery:
    """A simulated battery served by another process (SimulatorProcess): its port, its serial, and
    over a pipe its controls and its write log (stamped with time.monotonic, which on Linux is the
    same clock in every process)."""

    def __init__(self, sims: SimulatorProcess, index: int, serial: str, port: int) -> None:
        self._sims = sims
        self._index = index
        self.config = SimConfig(serial=serial, noise_w=0.0)
        self.port = port

    def set_control(self, name: str, value: float) -> None:
        """As SimulatedBattery.set_control, in the simulators' process."""
        self._sims.call("set_control", self._index, name, value)

    @property
    def writes_log(self) -> list[WriteRecord]:
        """Every write the battery accepted so far (a copy fetched from its process)."""
        rows: list[tuple[float, str, float]] = self._sims.call("writes", self._index)
        return [WriteRecord(time=t, name=n, value=v) for t, n, v in rows]


def _serve_simulators(conn: Connection, serials: list[str]) -> None:
    """The simulators' process: serve them on free loopback ports and answer the pipe."""

    async def main() -> None:
        batteries = [SimulatedBattery(SimConfig(serial=s, noise_w=0.0)) for s in serials]
        for battery in batteries:
            await battery.start(host=HOST, port=0)
        conn.send([battery.port for battery in batteries])
        loop = asyncio.get_running_loop()
        while (msg := await loop.run_in_executor(None, conn.recv))[0] != "stop":
            op, index, *args = msg
            battery = batteries[index]
            if op == "set_control":
                battery.set_control(*args)
                conn.send(None)
            else:
                conn.send([(w.time, w.name, w.value) for w in battery.writes_log])
        for battery in batteries:
            await battery.stop()
        conn.send(None)

    asyncio.run(main())


class SimulatorProcess:
    """Simulated batteries served from a process of their own, as a real device is its own machine.

    In a thread of Home Assistant's process (SimulatorThread) the simulators share the interpreter
    lock with the event loop, so CPU Home Assistant spends after one battery's write delays the
    simulator's receipt of the next battery's write; a device on the network never waits for
    that. Write stamps are time.monotonic (one clock for every process on Linux).
    """

    def __init__(self, serials: list[str]) -> None:
        self._serials = serials
        self._conn, child = multiprocessing.get_context("spawn").Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_serve_simulators, args=(child, serials), name="simulators", daemon=True
        )
        self._lock = threading.Lock()
        self.batteries: list[RemoteBattery] = []

    def call(self, *msg: Any) -> Any:
        """Send a request to the simulators' process and return its answer."""
        with self._lock:
            self._conn.send(msg)
            return self._conn.recv()

    async def start(self) -> list[RemoteBattery]:
        """Start the process and every simulator in it on a free loopback port."""
        self._process.start()
        ports: list[int] = await asyncio.to_thread(self._conn.recv)
        self.batteries = [
            RemoteBattery(self, i, serial, port)
            for i, (serial, port) in enumerate(zip(self._serials, ports, strict=True))
        ]
        return self.batteries

    async def stop(self) -> None:
        """Stop every simulator, then the process."""
        if self._process.is_alive():
            await asyncio.to_thread(self.call, "stop", 0)
            await asyncio.to_thread(self._process.join, 10)


@asynccontextmanager
async def simulators_in_process(count: int) -> AsyncIterator[list[RemoteBattery]]:
    """count simulated batteries in a process of their own (SimulatorThread's twin)."""
    sims = SimulatorProcess(bench_serials(count))
    try:
        yield await sims.start()
    finally:
        await sims.stop()


def make_entry(
    battery: SimulatedBattery | RemoteBattery,
    items: list[dict[str, Any]],
    options: dict[str, Any] | None = None,
) -> MockConfigEntry:
    """A Modbus entry for the simulator with schedule items as subentries."""
    serial = battery.config.serial
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"Bench battery {serial}",
        unique_id=serial,
        data={
            "kind": "modbus",
            "serial": serial,
            "host": HOST,
            "port": battery.port,
            "unit_id": 1,
            "profile": "steward",
        },
        options=options or {},
        subentries_data=[
            ConfigSubentryData(
                data=item, subentry_type=SUBENTRY_ITEM, title=item.get("name", "item"), unique_id=None
            )
            for item in items
        ],
    )


async def setup_entry(
    hass: HomeAssistant,
    battery: SimulatedBattery | RemoteBattery,
    items: list[dict[str, Any]],
    options: dict[str, Any] | None = None,
) -> BatteryConfigEntry:
    """Add the entry and set it up; fails loudly if it does not load."""
    entry: BatteryConfigEntry = make_entry(battery, items, options)
    entry.add_to_hass(hass)  # type: ignore[attr-defined]  # MockConfigEntry's own method
    if not await hass.config_entries.async_setup(entry.entry_id):
        raise RuntimeError(f"entry did not load: {entry.state}")
    await hass.async_block_till_done()
    return entry


def one_off_items(instants: list[datetime], reserve_of: Callable[[int], float]) -> list[dict[str, Any]]:
    """One-off items, change i at instants[i] setting the backup reserve to reserve_of(i)."""
    return [
        {
            "type": "one_off",
            "name": f"change {i}",
            "at": at.isoformat(),
            "setpoints": {"reserve_pct": reserve_of(i)},
        }
        for i, at in enumerate(instants)
    ]


def first_write(battery: SimulatedBattery, since: int, name: str, value: float) -> WriteRecord | None:
    """The first write of value to register name in the simulator's log from index since on."""
    return next((w for w in battery.writes_log[since:] if w.name == name and w.value == value), None)


async def wait_until(predicate: Callable[[], bool], timeout_s: float, step_s: float = 0.005) -> bool:
    """Poll predicate until it holds (True) or timeout_s passes (False)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(step_s)
    return True


def wall_minus_mono() -> float:
    """Offset to turn a wall-clock instant into the monotonic clock the simulator stamps."""
    return time.time() - time.monotonic()


def mono_at(instant: datetime, offset: float) -> float:
    """The monotonic time of a wall-clock instant, given wall_minus_mono() taken at the start."""
    return instant.timestamp() - offset


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (the smallest value with at least pct % of values at or below)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: list[float]) -> dict[str, float]:
    """p50, p99, max, min, mean (NaN for no values)."""
    if not values:
        return dict.fromkeys(("p50", "p99", "max", "min", "mean"), math.nan)
    return {
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values),
        "min": min(values),
        "mean": statistics.fmean(values),
    }


def rounded(stats: dict[str, float], unit: str, digits: int) -> dict[str, float]:
    """A summary's figures rounded and named with their unit: p50_s, p99_s, max_s, min_s, mean_s."""
    return {f"{name}_{unit}": round(value, digits) for name, value in stats.items()}


def ratio(seed: float, ours: float) -> float | None:
    """How many times longer the seed's figure is than ours (None when ours is missing)."""
    if math.isnan(ours):
        return None
    return round(seed / max(ours, 1e-6), 1)


def machine() -> str:
    """One line naming the machine the figures come from."""
    return (
        f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}"
    )


def emit(figures: dict[str, Any]) -> None:
    """The last line of output: the figures as JSON."""
    clean = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in figures.items()}
    print(json.dumps(clean), flush=True)
