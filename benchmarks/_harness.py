"""Shared set-up for the benchmarks: a real-time Home Assistant, the simulator, an entry."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
import json
from pathlib import Path
import statistics
import sys
import tempfile
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from homeassistant import loader
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.device.simulator import (
    SimConfig,
    SimulatedBattery,
    WriteRecord,
)
from custom_components.battery_steward.schedule import SUBENTRY_ITEM

SERIAL = "SIM-BENCH001"


@asynccontextmanager
async def running_hass(tz: str = "Europe/Paris") -> AsyncIterator[HomeAssistant]:
    """A Home Assistant in real time, with a throw-away config directory."""
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as config_dir:
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
            await hass.config.async_set_time_zone(tz)
            yield hass


@asynccontextmanager
async def simulator(on_write: Callable[[WriteRecord], None] | None = None) -> AsyncIterator[SimulatedBattery]:
    """The simulated battery on a free loopback port."""
    battery = SimulatedBattery(SimConfig(serial=SERIAL, noise_w=0.0), on_write=on_write)
    await battery.start(host="127.0.0.1", port=0)
    try:
        yield battery
    finally:
        await battery.stop()


def make_entry(
    battery: SimulatedBattery, items: list[dict[str, Any]], options: dict[str, Any] | None = None
) -> MockConfigEntry:
    """A Modbus entry for the simulator with schedule items as subentries."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Bench battery",
        unique_id=SERIAL,
        data={
            "kind": "modbus",
            "serial": SERIAL,
            "host": "127.0.0.1",
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


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary(values: list[float]) -> dict[str, float]:
    """p50, p99, max, mean."""
    return {
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values),
        "mean": statistics.fmean(values),
    }


def emit(figures: dict[str, Any]) -> None:
    """The last line of output: the figures as JSON."""
    print(json.dumps(figures), flush=True)
