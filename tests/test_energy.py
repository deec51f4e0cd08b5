"""Sensors fit the energy dashboard and long-term statistics; noisy ones start disabled."""

from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.const import ATTR_DEVICE_CLASS, ATTR_UNIT_OF_MEASUREMENT, UnitOfEnergy
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .helpers import entity_id


@pytest.mark.parametrize("key", ["charge_energy", "discharge_energy"])
async def test_energy_sensors_fit_the_energy_dashboard(
    hass: HomeAssistant, loaded: MockConfigEntry, key: str
) -> None:
    state = hass.states.get(entity_id(hass, "sensor", key))
    assert state is not None
    assert state.attributes[ATTR_DEVICE_CLASS] == SensorDeviceClass.ENERGY
    assert state.attributes["state_class"] == SensorStateClass.TOTAL_INCREASING
    assert state.attributes[ATTR_UNIT_OF_MEASUREMENT] == UnitOfEnergy.KILO_WATT_HOUR
    assert float(state.state) >= 0


@pytest.mark.parametrize("key", ["state_of_charge", "active_power", "reactive_power", "battery_temperature"])
async def test_measurements_keep_long_term_statistics(
    hass: HomeAssistant, loaded: MockConfigEntry, key: str
) -> None:
    state = hass.states.get(entity_id(hass, "sensor", key))
    assert state is not None
    assert state.attributes["state_class"] == SensorStateClass.MEASUREMENT
    assert state.attributes[ATTR_UNIT_OF_MEASUREMENT]


async def test_battery_voltage_is_disabled_by_default_and_can_be_enabled(
    hass: HomeAssistant, loaded: MockConfigEntry
) -> None:
    registry = er.async_get(hass)
    voltage = entity_id(hass, "sensor", "battery_voltage")
    registry_entry = registry.async_get(voltage)
    assert registry_entry is not None
    assert registry_entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert hass.states.get(voltage) is None
    registry.async_update_entity(voltage, disabled_by=None)
    await hass.config_entries.async_reload(loaded.entry_id)
    await hass.async_block_till_done()
    state = hass.states.get(voltage)
    assert state is not None
    assert state.attributes["state_class"] == SensorStateClass.MEASUREMENT
    assert float(state.state) > 0
