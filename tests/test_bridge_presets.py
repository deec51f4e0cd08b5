"""Bridge presets end to end: stand-ins of each integration's entities (real entities registered
under that integration's platform, its actions under its domain), the preset picked in the config
flow, and the exact service calls each mode makes."""

from collections.abc import AsyncIterator
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.bridge import CONF_MAPPING, CONF_PRESET, CONF_SOC_ENTITY
from custom_components.battery_steward.bridge_presets import candidates
from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.engine.journal import Result
from custom_components.battery_steward.engine.state import Mode, Setpoints

from .conftest import START, Tick
from .helpers import controller, entity_id, freeze_at
from .support.integrations import (
    FakeButton,
    FakeNumber,
    FakeSelect,
    FakeSwitch,
    World,
    power_sensor,
    record_calls,
    register_actions,
    setup_integration,
    soc_sensor,
)

type Call = tuple[str, str, dict[str, Any]]


def sel(entity: str, option: str) -> Call:
    return ("select", "select_option", {"entity_id": entity, "option": option})


def num(entity: str, value: float) -> Call:
    return ("number", "set_value", {"entity_id": entity, "value": value})


def switch(entity: str, on: bool) -> Call:
    return ("switch", "turn_on" if on else "turn_off", {"entity_id": entity})


def press(entity: str) -> Call:
    return ("button", "press", {"entity_id": entity})


def device(domain: str, name: str, model: str) -> DeviceInfo:
    return DeviceInfo(identifiers={(domain, name)}, name=name, manufacturer=domain, model=model)


@pytest.fixture
async def world(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> AsyncIterator[World]:
    await freeze_at(hass, freezer, START)
    found = World()
    record_calls(hass, found)
    with found.cleanup:
        yield found


async def add_by_preset(hass: HomeAssistant, world: World, key: str, *, review: dict[str, Any] | None = None) -> MockConfigEntry:
    """The config flow: pick the device, review the mapping (nothing written), add the battery."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert "bridge_preset" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "bridge_preset"})
    assert result["step_id"] == "bridge_preset"
    schema = result["data_schema"]
    assert schema is not None
    offered = [option["value"] for option in schema.schema["device"].config["options"]]
    assert key in offered
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"device": key})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "bridge_review"
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert placeholders["source"]  # every preset cites its source
    schema = result["data_schema"]
    assert schema is not None
    suggested = {str(k): (k.description or {}).get("suggested_value") for k in schema.schema}
    answer = {k: v for k, v in suggested.items() if v is not None}
    answer |= {"rated_power_w": 5000, **(review or {})}
    assert world.take() == []  # shown for review: nothing written
    result = await hass.config_entries.flow.async_configure(result["flow_id"], answer)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    entry = hass.config_entries.async_get_entry(result["result"].entry_id)
    assert isinstance(entry, MockConfigEntry | type(entry))
    assert entry is not None
    assert entry.state is ConfigEntryState.LOADED
    return entry  # type: ignore[return-value]


async def override(entry: Any, **setpoints: Any) -> None:
    values = {k: Mode(v) if k == "mode" else v for k, v in setpoints.items()}
    await controller(entry).async_set_override(Setpoints(**values), until_cleared=True)


def serial(entry: Any) -> str:
    return str(entry.unique_id)


def our_state(hass: HomeAssistant, entry: Any, platform: str, key: str) -> str:
    state = hass.states.get(entity_id(hass, platform, key, serial(entry)))
    assert state is not None
    return state.state


# ---------------------------------------------------------------- Tesla


async def tesla_world(hass: HomeAssistant, world: World, platform: str = "teslemetry", *, follows: bool = True) -> None:
    site = device(platform, "PW", "Powerwall 3")
    await setup_integration(
        hass,
        platform,
        [
            soc_sensor("Percentage charged", "1234-percentage_charged", 60, device=site),
            power_sensor("Battery power", "1234-battery_power", 0, unit="kW", device=site),
            FakeNumber("Backup reserve", "1234-backup_reserve_percent", 20, device=site),
            FakeSelect(
                "Operation mode",
                "1234-default_real_mode",
                ["autonomous", "backup", "self_consumption"],
                "self_consumption",
                device=site,
                follows=follows,
            ),
            FakeSwitch(
                "Grid charging", "1234-components_disallow_charge_from_grid_with_solar_installed", device=site
            ),
        ],
        world,
    )


def tesla_device(hass: HomeAssistant) -> str:
    entry = er.async_get(hass).async_get("sensor.pw_percentage_charged")
    assert entry is not None
    assert entry.device_id is not None
    return entry.device_id


@pytest.mark.parametrize("platform", ["teslemetry", "tesla_fleet"])
async def test_tesla_cloud(hass: HomeAssistant, world: World, platform: str, tick: Tick) -> None:
    await tesla_world(hass, world, platform)
    entry = await add_by_preset(hass, world, tesla_device(hass))
    assert entry.data[CONF_PRESET] == platform
    await override(entry, mode="force_charge")
    # Reserve 100 %, grid charging on, then time-based control: in that order.
    assert world.take() == [
        num("number.pw_backup_reserve", 100.0),
        switch("switch.pw_grid_charging", True),
        sel("select.pw_operation_mode", "autonomous"),
    ]
    await tick(2)
    assert our_state(hass, entry, "select", "operating_mode") == "force_charge"
    assert our_state(hass, entry, "number", "backup_reserve") == "20.0"  # ours, while the mode holds it at 100
    await override(entry, mode="auto")
    assert world.take() == [num("number.pw_backup_reserve", 20.0), sel("select.pw_operation_mode", "self_consumption")]
    await override(entry, mode="idle")
    assert world.take() == [sel("select.pw_operation_mode", "backup")]
    await override(entry, reserve_pct=35)
    assert world.take() == [num("number.pw_backup_reserve", 35.0)]
    for refused in ({"mode": "force_discharge"}, {"power_w": -1000}):
        with pytest.raises(ServiceValidationError) as err:
            await override(entry, **refused)
        assert err.value.translation_key == "field_not_supported"
    assert world.take() == []
    await hass.config_entries.async_unload(entry.entry_id)


async def test_powerwall_reads_locally_and_writes_through_the_cloud(hass: HomeAssistant, world: World) -> None:
    gateway = device("powerwall", "GW", "Powerwall 2")
    await setup_integration(
        hass,
        "powerwall",
        [
            soc_sensor("Powerwall charge", "GW1_charge", 70, translation_key="charge", device=gateway),
            power_sensor(
                "Powerwall battery power",
                "GW1_battery_instant_power",
                -1.5,
                unit="kW",
                translation_key="battery_instant_power",
                device=gateway,
            ),
        ],
        world,
    )
    await tesla_world(hass, world)
    local = er.async_get(hass).async_get("sensor.gw_powerwall_charge")
    assert local is not None
    assert local.device_id is not None
    entry = await add_by_preset(hass, world, local.device_id)
    assert entry.data[CONF_MAPPING]["soc"] == "sensor.gw_powerwall_charge"
    assert our_state(hass, entry, "sensor", "active_power") == "-1500.0"  # charging, read locally
    await override(entry, mode="idle")
    assert world.take() == [sel("select.pw_operation_mode", "backup")]
    await hass.config_entries.async_unload(entry.entry_id)


async def test_powerwall_alone_controls_nothing(hass: HomeAssistant, world: World) -> None:
    await setup_integration(
        hass,
        "powerwall",
        [soc_sensor("Powerwall charge", "GW1_charge", translation_key="charge", device=device("powerwall", "G", "P"))],
        world,
    )
    assert candidates(hass) == []
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "bridge_preset"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "bridge_no_preset"
