"""Every platform's entities, and the diagnostics, as syrupy snapshots (as core's peblar tests do).

One battery (the simulator over Modbus TCP) with the evening schedule and the schedule API, at a
frozen instant; each platform is loaded alone so its snapshot holds its entities only. A change
to what the user sees shows up as a snapshot diff: update with `pytest --snapshot-update`.
"""

from collections.abc import AsyncIterator, Iterator
from unittest.mock import PropertyMock, patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import paths

from custom_components.battery_steward.device.simulator import SimulatedBattery
from custom_components.battery_steward.diagnostics import async_get_config_entry_diagnostics

from .conftest import NIGHT, PEAK, START, modbus_data
from .helpers import freeze_at, item
from .support.remote_server import ReferenceApi, day_rows, serve


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots with Home Assistant's serializer (registry ids and timestamps left out)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Iterator[None]:
    """Every entity enabled, those disabled by default too (core's fixture of the same name)."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


@pytest.fixture
async def api_url() -> AsyncIterator[str]:
    api = ReferenceApi()
    api.schedules[("lib", "2026-06-01")] = day_rows("2026-06-01", "Europe/Paris", lambda _t: -1000.0)
    async with serve(api) as url:
        yield url


async def load_with(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery, url: str
) -> MockConfigEntry:
    await freeze_at(hass, freezer, START)
    entry = MockConfigEntry(
        domain="battery_steward",
        title="Battery",
        unique_id="SIM-TEST0001",
        data=modbus_data(simulator.port),
        options={"api_url": url, "api_username": "steward", "api_password": "secret", "api_plant": "lib"},
        subentries_data=[item(PEAK), item(NIGHT)],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry


@pytest.mark.parametrize(
    "platform",
    [
        p
        for p in Platform
        if p.value in {"binary_sensor", "button", "calendar", "number", "select", "sensor", "switch"}
    ],
)
@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_entities(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    api_url: str,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    with patch("custom_components.battery_steward.PLATFORMS", [platform]):
        entry = await load_with(hass, freezer, simulator, api_url)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_diagnostics(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    api_url: str,
    snapshot: SnapshotAssertion,
) -> None:
    entry = await load_with(hass, freezer, simulator, api_url)
    diag = await async_get_config_entry_diagnostics(hass, entry)
    # The port is the OS's choice and the items' ids are random; the rest is fixed by the instant.
    for stored in diag["items"]:
        stored.pop("id")
    assert diag == snapshot(exclude=paths("entry.data.port"))
    await hass.config_entries.async_unload(entry.entry_id)
