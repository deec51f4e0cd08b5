"""Entity states, and writes that land in the simulator's registers."""

from homeassistant.components.number.const import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.components.select import ATTR_OPTION, SERVICE_SELECT_OPTION
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.device.simulator import SimulatedBattery
from custom_components.battery_steward.engine.state import Setpoints

from .conftest import SERIAL
from .helpers import device_id, entity_id


def state(hass: HomeAssistant, platform: str, key: str) -> str:
    found = hass.states.get(entity_id(hass, platform, key))
    assert found is not None
    return found.state


async def test_states_and_device(hass: HomeAssistant, loaded: MockConfigEntry) -> None:
    assert state(hass, "sensor", "state_of_charge") == "50.0"
    assert state(hass, "sensor", "active_power") == "0.0"
    assert state(hass, "sensor", "reactive_power") == "0.0"
    assert state(hass, "select", "operating_mode") == "auto"
    assert state(hass, "number", "backup_reserve") == "20.0"
    assert state(hass, "number", "power_setpoint") == "5000.0"  # the full rate, until told otherwise
    assert state(hass, "binary_sensor", "connected") == "on"
    assert state(hass, "sensor", "charge_energy") == "0.0"
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, SERIAL), loaded.entry_id)
    assert device is not None
    assert device.serial_number == SERIAL
    assert device.model == "Steward Sim 10"
    assert device.manufacturer == "Battery Steward"
    assert device.sw_version == "1.0.0"


async def test_mode_write_lands_in_simulator(
    hass: HomeAssistant, loaded: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    await hass.services.async_call(
        "select",
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: entity_id(hass, "select", "operating_mode"), ATTR_OPTION: "force_charge"},
        blocking=True,
    )
    assert simulator.read_register("mode") == 1
    assert state(hass, "select", "operating_mode") == "force_charge"


@pytest.mark.parametrize(
    ("key", "value", "register", "expected"),
    [
        ("backup_reserve", 35, "reserve_pct", 35),
        ("power_setpoint", -2000, "power_setpoint_w", -2000),
    ],
)
async def test_number_write_lands_in_simulator(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    simulator: SimulatedBattery,
    key: str,
    value: float,
    register: str,
    expected: float,
) -> None:
    await hass.services.async_call(
        "number",
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: entity_id(hass, "number", key), ATTR_VALUE: value},
        blocking=True,
    )
    assert simulator.read_register(register) == expected


async def test_number_range_comes_from_device(hass: HomeAssistant, loaded: MockConfigEntry) -> None:
    found = hass.states.get(entity_id(hass, "number", "power_setpoint"))
    assert found is not None
    assert found.attributes["min"] == -5000
    assert found.attributes["max"] == 5000


async def test_write_outside_limits_refused_nothing_written(
    hass: HomeAssistant, loaded: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    writes_before = simulator.write_count
    with pytest.raises(ServiceValidationError) as err:
        await loaded.runtime_data.controller.async_set_override(Setpoints(power_w=-99999))
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == "value_out_of_range"
    assert err.value.translation_placeholders == {
        "field": "power_w",
        "value": "-99999",
        "minimum": "-5000",
        "maximum": "5000",
    }
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            "number",
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: entity_id(hass, "number", "backup_reserve"), ATTR_VALUE: 150},
            blocking=True,
        )
    assert simulator.write_count == writes_before
    assert simulator.read_register("power_setpoint_w") == 5000  # as it was


async def test_fresh_install_tiles_say_what_is_true(hass: HomeAssistant, loaded: MockConfigEntry) -> None:
    """Nothing planned: no "Unknown" tile (docs/configuration.md, "Nothing planned")."""
    assert state(hass, "sensor", "desired_mode") == "not_planned"
    # Nothing sets the reserve and nothing is scheduled: unavailable by design, not unknown.
    assert state(hass, "sensor", "desired_reserve") == "unavailable"
    assert state(hass, "sensor", "next_change") == "unavailable"
    await hass.services.async_call(
        "number",
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: entity_id(hass, "number", "backup_reserve"), ATTR_VALUE: 35},
        blocking=True,
    )
    # An override held until cleared plans the reserve (and mode stays unplanned).
    assert state(hass, "sensor", "desired_reserve") == "35.0"
    assert state(hass, "sensor", "desired_mode") == "not_planned"


async def test_zero_watts_means_zero_and_full_rate_is_asked_for(
    hass: HomeAssistant, loaded: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    """ "Override power 0 W" meant the full rate: the tile read 0 W while the battery charged at 5 kW."""
    # At power-on the rate is the full rate, and the tile says so.
    assert state(hass, "number", "power_setpoint") == "5000.0"
    await hass.services.async_call(
        "select",
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: entity_id(hass, "select", "operating_mode"), ATTR_OPTION: "force_charge"},
        blocking=True,
    )
    assert simulator.model.target_active_w() == -5000
    await hass.services.async_call(
        "number",
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: entity_id(hass, "number", "power_setpoint"), ATTR_VALUE: 0},
        blocking=True,
    )
    assert simulator.read_register("power_setpoint_w") == 0
    assert simulator.model.target_active_w() == 0  # 0 W is 0 W
    await hass.services.async_call(
        DOMAIN,
        "set_override",
        {"device_id": device_id(hass, loaded), "mode": "force_discharge", "full_rate": True},
        blocking=True,
    )
    assert simulator.model.target_active_w() == 5000
    assert simulator.read_register("power_setpoint_w") == 5000
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "set_override", {"device_id": device_id(hass, loaded), "full_rate": True}, blocking=True
        )
    assert err.value.translation_key == "full_rate_needs_force_mode"
