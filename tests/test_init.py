"""Set-up, unload, not-ready and recovery, against the simulator over TCP."""

import logging
from logging import WARNING
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.const import (
    DOMAIN,
)
from custom_components.battery_steward.default_item import MINOR_VERSION_WITH_DEFAULT
from custom_components.battery_steward.device.driver import DeviceConnectionError
from custom_components.battery_steward.device.modbus import ModbusBatteryDriver
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery

from .conftest import SERIAL, Tick, modbus_data
from .helpers import (
    entity_id,
    let_sockets_settle,
    load,
    options_step,
    settings_input,
    setup_entry,
    simulator_data,
)


async def test_setup_and_unload_modbus(
    hass: HomeAssistant, simulator: SimulatedBattery, modbus_entry: MockConfigEntry
) -> None:
    await load(hass, modbus_entry)
    assert modbus_entry.state is ConfigEntryState.LOADED
    driver = modbus_entry.runtime_data.driver
    assert modbus_entry.runtime_data.simulator is None
    assert await hass.config_entries.async_unload(modbus_entry.entry_id)
    assert modbus_entry.state is ConfigEntryState.NOT_LOADED
    assert not driver._client.connected


async def test_builtin_simulator_starts_and_stops(hass: HomeAssistant) -> None:
    entry = await setup_entry(
        hass,
        simulator_data("SIM-BUILTIN1", capacity_kwh=5.0),
        title="Simulated battery SIM-BUILTIN1",
        unique_id="SIM-BUILTIN1",
    )
    assert entry.state is ConfigEntryState.LOADED
    simulator = entry.runtime_data.simulator
    assert simulator is not None
    assert simulator.config.capacity_kwh == 5.0
    port = simulator.port
    assert entry.runtime_data.coordinator.info.serial == "SIM-BUILTIN1"
    assert await hass.config_entries.async_unload(entry.entry_id)
    # Nothing listens any more once the entry is unloaded.
    probe = ModbusBatteryDriver("127.0.0.1", port, 1, timeout=0.5)
    with pytest.raises(DeviceConnectionError):
        await probe.identify()
    await probe.close()


async def test_simulated_battery_keeps_its_state_across_reload_and_restart(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """A reload (saving Configure) or a restart reset it to 50 %, auto, reserve 20: no battery does that."""
    entry = await setup_entry(hass, simulator_data("SIM-KEEP0001"), unique_id="SIM-KEEP0001")
    model = entry.runtime_data.simulator.model
    model.soc_pct, model.charge_energy_kwh = 53.6, 1.25
    model.mode, model.reserve_pct, model.power_setpoint_w = 1, 35, -1500  # force charge at 1.5 kW
    # A setting that needs a reload.
    result = await options_step(hass, entry.entry_id, "settings")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], settings_input({"patrol_interval_min": 5})
    )
    await hass.async_block_till_done()
    reloaded = entry.runtime_data.simulator
    assert reloaded.model is not model
    kept = reloaded.model.snapshot()
    assert kept["soc_pct"] == pytest.approx(53.6, abs=0.1)  # (it charged a little meanwhile)
    assert (kept["mode"], kept["reserve_pct"], kept["power_setpoint_w"]) == (1, 35, -1500)
    assert kept["charge_energy_kwh"] >= 1.25
    # Home Assistant stops (entries are not unloaded): the state is saved for the next start.
    reloaded.model.mode = 2
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert hass_storage[f"{DOMAIN}.{entry.entry_id}.simulator"]["data"]["mode"] == 2
    await hass.config_entries.async_unload(entry.entry_id)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.runtime_data.simulator.model.mode == 2
    # Deleting the battery forgets it.
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert f"{DOMAIN}.{entry.entry_id}.simulator" not in hass_storage


async def test_unreachable_is_not_ready_then_recovers(hass: HomeAssistant, closed_port: int) -> None:
    late = SimulatedBattery(SimConfig(serial=SERIAL, noise_w=0.0))
    entry = MockConfigEntry(domain=DOMAIN, unique_id=SERIAL, data=modbus_data(closed_port))
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    await late.start(host="127.0.0.1", port=closed_port)
    try:
        await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await late.stop()


def pymodbus_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What pymodbus itself would put in a log at Home Assistant's default level (warning)."""
    return [r.getMessage() for r in caplog.records if r.name.startswith("pymodbus") and r.levelno >= WARNING]


async def test_lost_device_goes_unavailable_and_logs_once(
    hass: HomeAssistant,
    tick: Tick,
    caplog: pytest.LogCaptureFixture,
    closed_port: int,
) -> None:
    caplog.set_level(logging.INFO)
    battery = SimulatedBattery(SimConfig(serial=SERIAL, noise_w=0.0))
    await battery.start(host="127.0.0.1", port=closed_port)
    entry = await load(
        hass,
        MockConfigEntry(
            domain=DOMAIN,
            unique_id=SERIAL,
            data=modbus_data(closed_port),
            minor_version=MINOR_VERSION_WITH_DEFAULT,  # items as given: none (no default made)
        ),
    )
    soc = entity_id(hass, "sensor", "state_of_charge")
    connected = entity_id(hass, "binary_sensor", "connected")
    last_seen = entity_id(hass, "sensor", "last_seen")
    assert hass.states.get(connected).state == STATE_ON  # type: ignore[union-attr]
    changes: list[str] = []

    @callback
    def changed(event: Event[EventStateChangedData]) -> None:
        """What the logbook (Activity) would list: changes of the state itself."""
        new, old = event.data["new_state"], event.data["old_state"]
        if new is not None and (old is None or new.state != old.state):
            changes.append(new.state)

    async_track_state_change_event(hass, last_seen, changed)
    for _ in range(6):
        await tick(10)
    assert changes == []  # one poll after another changes nothing the Activity log shows
    last_answer = entry.runtime_data.coordinator.last_seen
    assert last_answer is not None
    seen = last_answer.isoformat(timespec="seconds")

    await battery.stop()
    await let_sockets_settle()
    for _ in range(3):
        await tick(10)
    assert hass.states.get(soc).state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    assert hass.states.get(connected).state == STATE_OFF  # type: ignore[union-attr]
    # Last seen stays, telling how long the outage has lasted.
    assert hass.states.get(last_seen).state == seen  # type: ignore[union-attr]
    assert changes == [seen]  # once when it was lost: its last answer
    # What stays available is what docs/configuration.md ("Data updates") says.
    registry = er.async_get(hass)
    unavailable = {
        e.unique_id.removeprefix(f"{SERIAL}_")
        for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        if not e.disabled and hass.states.get(e.entity_id).state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    }
    assert unavailable == {
        "state_of_charge", "active_power", "reactive_power", "battery_temperature", "charge_energy",
        "discharge_energy", "operating_mode", "backup_reserve", "power_setpoint",
        "reactive_power_setpoint", "plant_enabled", "in_sync",
        # Nothing planned on this battery (by design, not because of the outage).
        "next_change", "desired_reserve",
    }  # fmt: skip
    assert caplog.text.count("Error fetching") == 1
    # pymodbus's own warnings ("Failed to connect", "Repeating....") stay out of the user's log.
    assert pymodbus_warnings(caplog) == []

    await battery.start(host="127.0.0.1", port=closed_port)
    try:
        await tick(10)
        assert hass.states.get(soc).state == "50.0"  # type: ignore[union-attr]
        assert hass.states.get(connected).state == STATE_ON  # type: ignore[union-attr]
        for _ in range(3):
            await tick(10)
        assert len(changes) == 2  # and once when it came back
        assert changes[1] > seen
        assert caplog.text.count("recovered") == 1
        assert pymodbus_warnings(caplog) == []
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await battery.stop()


async def test_removing_the_battery_forgets_its_stored_state(
    hass: HomeAssistant, modbus_entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    await load(hass, modbus_entry, wait="background")
    assert await hass.config_entries.async_unload(modbus_entry.entry_id)  # saves the journal
    key = f"{DOMAIN}.{modbus_entry.entry_id}"
    assert key in hass_storage
    await hass.config_entries.async_remove(modbus_entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage
