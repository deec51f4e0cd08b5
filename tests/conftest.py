"""Shared fixtures: a real simulated battery on loopback TCP and config entries that use it."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime, timedelta
import logging
import os
import socket
from typing import Any, cast
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

# Imported before the hass fixture runs, or setup fails with "Integration not found".
import custom_components.battery_steward  # noqa: F401
from custom_components.battery_steward.const import (
    CONF_KIND,
    CONF_PROFILE,
    CONF_SERIAL,
    CONF_UNIT,
    DOMAIN,
    KIND_MODBUS,
)
from custom_components.battery_steward.default_item import MINOR_VERSION_WITH_DEFAULT
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery

from .support.issues import recording_issues
from .support.secrets import LogCapture, leaked_secrets

SERIAL = "SIM-TEST0001"
LONG_ENV = "BATTERY_STEWARD_LONG"

PARIS = ZoneInfo("Europe/Paris")
# The evening schedule of the end-to-end tests, and a start a minute before its peak (a Monday).
START = datetime(2026, 6, 1, 18, 59, tzinfo=PARIS)
PEAK: dict[str, Any] = {
    "type": "window",
    "name": "Peak",
    "weekdays": [0, 1, 2, 3, 4],
    "start": "19:00:00",
    "end": "22:00:00",
    "tz": "Europe/Paris",
    "setpoints": {"reserve_pct": 80},
}
NIGHT: dict[str, Any] = {
    "type": "cron",
    "name": "Evening reserve",
    "cron": "0 22 * * *",
    "tz": "Europe/Paris",
    "setpoints": {"reserve_pct": 20, "mode": "auto"},
}

type Tick = Callable[[float], Awaitable[None]]


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--long` runs the long reliability variants (or BATTERY_STEWARD_LONG=1)."""
    parser.addoption(
        "--long",
        action="store_true",
        default=False,
        help="run the long variants of the reliability suite (also BATTERY_STEWARD_LONG=1)",
    )


def long_enabled(config: pytest.Config) -> bool:
    """Whether the long variants run."""
    return bool(config.getoption("--long")) or os.environ.get(LONG_ENV, "") not in ("", "0")


def pytest_configure(config: pytest.Config) -> None:
    """Declare the `long` marker."""
    config.addinivalue_line("markers", "long: a long reliability variant; runs with --long")
    config.addinivalue_line("markers", "last: runs after every other test (it reads what they did)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the `last` tests last; skip the long variants unless asked for."""
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)  # stable: the rest keep order
    if long_enabled(config):
        return
    skip = pytest.mark.skip(reason="long variant: run with --long or BATTERY_STEWARD_LONG=1")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def long_run(request: pytest.FixtureRequest) -> bool:
    """True when the long variants were asked for."""
    return long_enabled(request.config)


@pytest.fixture(autouse=True)
def no_secret_in_logs() -> Iterator[LogCapture]:
    """Fail any test whose log output contains a known credential or token.

    Every record of every logger that reaches the root logger is checked, at every level,
    with its arguments and traceback, against the test passwords and every token a reference
    server issued.
    """
    capture = LogCapture()
    root = logging.getLogger()
    root.addHandler(capture)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
    leaks = leaked_secrets(capture.texts)
    assert not leaks, f"secret values in the log output: {leaks}"


@pytest.fixture(autouse=True, scope="session")
def record_raised_issues() -> Iterator[None]:
    """Note every repair issue a scenario raises (tests/support/issues.py, read by test_repairs.py)."""
    with recording_issues():
        yield


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/battery_steward."""


@pytest.fixture(autouse=True)
def auto_socket_enabled(socket_enabled: None) -> None:
    """Real TCP on loopback: the simulator and the driver talk Modbus to each other.

    pytest-socket still refuses connections to any host but 127.0.0.1.
    """


@pytest.fixture
def sim_config() -> SimConfig:
    """Deterministic simulator: no noise."""
    return SimConfig(serial=SERIAL, noise_w=0.0)


@pytest.fixture
async def simulator(sim_config: SimConfig) -> AsyncIterator[SimulatedBattery]:
    """A simulated battery answering Modbus TCP on 127.0.0.1 at a port the OS chose."""
    battery = SimulatedBattery(sim_config)
    await battery.start(host="127.0.0.1", port=0)
    yield battery
    await battery.stop()


def modbus_data(port: int, **overrides: Any) -> dict[str, Any]:
    """Config entry data for a Modbus battery at a loopback port."""
    return {
        CONF_KIND: KIND_MODBUS,
        CONF_SERIAL: SERIAL,
        "host": "127.0.0.1",
        "port": port,
        CONF_UNIT: 1,
        CONF_PROFILE: "steward",
        **overrides,
    }


@pytest.fixture
def modbus_entry(simulator: SimulatedBattery) -> MockConfigEntry:
    """A config entry for the simulator reached as a Modbus TCP battery.

    Its schedule items are exactly the test's: it is past the set-up that gives a battery its
    default item (tests/test_default_item.py covers that set-up).
    """
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"Steward Sim 10 {SERIAL}",
        unique_id=SERIAL,
        data=modbus_data(simulator.port),
        minor_version=MINOR_VERSION_WITH_DEFAULT,
    )


@pytest.fixture
async def loaded(
    hass: HomeAssistant, simulator: SimulatedBattery, modbus_entry: MockConfigEntry
) -> AsyncIterator[MockConfigEntry]:
    """The simulator's Modbus entry, set up; unloaded afterwards."""
    modbus_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(modbus_entry.entry_id)
    await hass.async_block_till_done()
    yield modbus_entry
    await hass.config_entries.async_unload(modbus_entry.entry_id)


@pytest.fixture
def items() -> list[dict[str, Any]]:
    """Schedule items for an entry fixture that takes them: PEAK and NIGHT unless a test parametrizes them."""
    return [PEAK, NIGHT]


@pytest.fixture
def options() -> dict[str, Any]:
    """Options for an entry fixture that takes them: none, unless a test parametrizes `options`."""
    return {}


@pytest.fixture
def tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> Tick:
    """Move the frozen clock forward, fire the timers due and wait for all the work, background too."""

    async def _tick(seconds: float) -> None:
        freezer.tick(timedelta(seconds=seconds))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)

    return _tick


@pytest.fixture
async def foreign_server() -> AsyncIterator[int]:
    """A Modbus TCP server that is not a Battery Steward map (all zeros); yields its port."""
    server = ModbusTcpServer(
        SimDevice(id=1, simdata=[SimData(address=0, count=300, datatype=DataType.REGISTERS)]),
        address=("127.0.0.1", 0),
    )
    await server.serve_forever(background=True)
    listener = cast(asyncio.Server, server.transport)
    yield int(listener.sockets[0].getsockname()[1])
    await server.shutdown()  # type: ignore[no-untyped-call]


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
