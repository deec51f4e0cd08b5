"""Actions on several batteries at once: Home Assistant targets (device, area, floor, label,
entity) resolved to our batteries. Two simulators over loopback TCP, no mocks."""

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import (
    area_registry as ar,
    device_registry as dr,
    entity_registry as er,
    floor_registry as fr,
    label_registry as lr,
)
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.default_item import MINOR_VERSION_WITH_DEFAULT
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery
from custom_components.battery_steward.engine.journal import Trigger

from .conftest import SERIAL, modbus_data
from .helpers import let_sockets_settle

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 6, 1, 12, tzinfo=PARIS)
OTHER = "SIM-TEST0002"

type Pair = tuple[tuple[MockConfigEntry, SimulatedBattery], tuple[MockConfigEntry, SimulatedBattery]]


@pytest.fixture
async def pair(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> AsyncIterator[Pair]:
    await hass.config.async_set_time_zone("Europe/Paris")
    freezer.move_to(START)
    other_sim = SimulatedBattery(SimConfig(serial=OTHER, noise_w=0.0))
    await other_sim.start(host="127.0.0.1", port=0)
    entries = []
    for serial, sim in ((SERIAL, simulator), (OTHER, other_sim)):
        entry = MockConfigEntry(
            domain=DOMAIN,
            title=serial,
            unique_id=serial,
            data=modbus_data(sim.port),
            minor_version=MINOR_VERSION_WITH_DEFAULT,  # its items are the test's
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        entries.append(entry)
    await hass.async_block_till_done(wait_background_tasks=True)
    yield (entries[0], simulator), (entries[1], other_sim)
    for entry in entries:
        await hass.config_entries.async_unload(entry.entry_id)
    await other_sim.stop()


def device_id(hass: HomeAssistant, entry: MockConfigEntry, serial: str) -> str:
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, serial), entry.entry_id)
    assert device is not None
    return device.id


async def call(hass: HomeAssistant, name: str, data: dict[str, Any], response: bool = False) -> Any:
    return await hass.services.async_call(DOMAIN, name, data, blocking=True, return_response=response)


async def test_override_and_reconcile_by_area(
    hass: HomeAssistant, pair: Pair, freezer: FrozenDateTimeFactory
) -> None:
    (first, sim1), (second, sim2) = pair
    garage = ar.async_get(hass).async_create("Garage")
    devices = dr.async_get(hass)
    for entry, serial in ((first, SERIAL), (second, OTHER)):
        devices.async_update_device(device_id(hass, entry, serial), area_id=garage.id)

    await call(hass, "set_override", {"area_id": garage.id, "reserve_pct": 60})
    # Each battery's own run has applied it when the call returns.
    assert sim1.read_register("reserve_pct") == 60
    assert sim2.read_register("reserve_pct") == 60
    for entry in (first, second):
        last = entry.runtime_data.controller.journal.last
        assert (last.trigger, last.fields) == (Trigger.OVERRIDE, {"reserve_pct": (20.0, 60.0)})

    freezer.tick(5)  # past the settle time of those writes
    sim1.set_control("reserve_pct", 30)
    sim2.set_control("reserve_pct", 35)
    await call(hass, "reconcile_now", {"area_id": [garage.id]})
    assert sim1.read_register("reserve_pct") == 60
    assert sim2.read_register("reserve_pct") == 60
    for entry, old in ((first, 30.0), (second, 35.0)):
        last = entry.runtime_data.controller.journal.last
        assert (last.trigger, last.fields) == (Trigger.MANUAL, {"reserve_pct": (old, 60.0)})

    preview = await call(hass, "preview_plan", {"area_id": garage.id, "hours": 2}, response=True)
    assert set(preview) == {first.title, second.title}  # keyed by battery name
    assert preview[second.title]["now"] == {"reserve_pct": 60.0}


async def test_floor_label_entity_and_device_targets(hass: HomeAssistant, pair: Pair) -> None:
    (first, _), (second, _) = pair
    dev1, dev2 = device_id(hass, first, SERIAL), device_id(hass, second, OTHER)
    devices = dr.async_get(hass)

    # A label on both devices adds a preset to both.
    label = lr.async_get(hass).async_create("Home batteries")
    for dev in (dev1, dev2):
        devices.async_update_device(dev, labels={label.label_id})
    added = await call(
        hass, "add_preset", {"label_id": label.label_id, "preset": "night_idle"}, response=True
    )
    assert set(added) == {first.title, second.title}

    # One battery by device, the other by one of its entities.
    entity = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{OTHER}_state_of_charge")
    assert entity is not None
    listed = await call(hass, "list_items", {"device_id": dev1, "entity_id": entity}, response=True)
    assert set(listed) == {first.title, second.title}
    # The preset completed the battery's (absent) default with automatic mode.
    assert [i["name"] for i in listed[second.title]["items"]] == ["Night idle 22:00-06:00", "Default"]

    # A floor holding an area that holds one of them: just that one.
    floor = fr.async_get(hass).async_create("Ground floor")
    cellar = ar.async_get(hass).async_create("Cellar", floor_id=floor.floor_id)
    devices.async_update_device(dev2, area_id=cellar.id)
    journal = await call(hass, "get_journal", {"floor_id": floor.floor_id}, response=True)
    assert set(journal) == {second.title}


async def test_targets_without_a_battery_are_refused(hass: HomeAssistant, pair: Pair) -> None:
    (first, sim1), _ = pair
    writes = sim1.write_count
    empty = ar.async_get(hass).async_create("Attic")
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "set_override", {"area_id": empty.id, "mode": "idle"})
    assert err.value.translation_key == "no_battery_matched"
    # An area holding only another integration's device matches no battery either.
    foreign_entry = MockConfigEntry(domain="other")
    foreign_entry.add_to_hass(hass)
    foreign = dr.async_get(hass).async_get_or_create(
        config_entry_id=foreign_entry.entry_id, identifiers={("other", "x")}
    )
    dr.async_get(hass).async_update_device(foreign.id, area_id=empty.id)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "reconcile_now", {"area_id": empty.id})
    assert err.value.translation_key == "no_battery_matched"
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "clear_override", {})
    assert err.value.translation_key == "no_battery_matched"
    # A device named explicitly must be a battery, even next to one that is.
    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass, "set_override", {"device_id": [device_id(hass, first, SERIAL), foreign.id], "mode": "idle"}
        )
    assert err.value.translation_key == "unknown_battery"
    assert sim1.write_count == writes


async def test_one_battery_failing_does_not_stop_the_others_and_each_outcome_is_reported(
    hass: HomeAssistant, pair: Pair
) -> None:
    """indevolt's multi_device_errors: every battery is tried, the error names each one's outcome."""
    (first, sim1), (second, sim2) = pair
    await sim2.stop()  # the second battery is gone
    await let_sockets_settle()
    await second.runtime_data.coordinator.async_refresh()
    assert not second.runtime_data.coordinator.last_update_success
    targets = {"device_id": [device_id(hass, first, SERIAL), device_id(hass, second, OTHER)]}
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "set_override", {**targets, "reserve_pct": 55})
    assert err.value.translation_key == "multi_battery_errors"
    placeholders = err.value.translation_placeholders or {}
    assert (placeholders["failed"], placeholders["total"]) == ("1", "2")
    assert f"{SERIAL}: done" in placeholders["outcomes"]
    assert f"{OTHER}: " in placeholders["outcomes"]
    assert sim1.read_register("reserve_pct") == 55  # the working battery got its override
    # With one battery targeted, its own error comes back as it is.
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "clear_override", {"device_id": device_id(hass, second, OTHER)})
    assert err.value.translation_key == "run_failed"
    await sim2.start(host="127.0.0.1", port=second.data["port"])
