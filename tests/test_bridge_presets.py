"""Bridge presets end to end: stand-ins of each integration's entities (real entities registered
under that integration's platform, its actions under its domain), the preset picked in the config
flow, and the exact service calls each mode makes."""

from collections.abc import AsyncIterator
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, ConfigEntry, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.helpers.device_registry import DeviceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.bridge_presets import candidates
from custom_components.battery_steward.const import (
    CONF_KIND,
    CONF_MAPPING,
    CONF_PRESET,
    CONF_RATED_POWER_W,
    CONF_SERIAL,
    CONF_SOC_ENTITY,
    DOMAIN,
    KIND_BRIDGE,
)
from custom_components.battery_steward.engine.journal import Result, Trigger
from custom_components.battery_steward.engine.state import Mode, Setpoints

from .conftest import START, Tick
from .helpers import controller, cron_item, entity_id, freeze_at, setup_entry, window_item
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


async def add_by_preset(
    hass: HomeAssistant, world: World, key: str, *, review: dict[str, Any] | None = None
) -> ConfigEntry:
    """The config flow: pick the device, review the mapping (nothing written), add the battery."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert "bridge_preset" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "bridge_preset"}
    )
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
    answer = {key: value for key, value in answer.items() if value is not None}
    assert world.take() == []  # shown for review: nothing written
    result = await hass.config_entries.flow.async_configure(result["flow_id"], answer)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    entry = hass.config_entries.async_get_entry(result["result"].entry_id)
    assert entry is not None
    assert entry.state is ConfigEntryState.LOADED
    return entry


async def override(entry: Any, **setpoints: Any) -> None:
    mode = setpoints.pop("mode", None)
    wanted = Setpoints(mode=Mode(mode) if mode else None, **setpoints)
    await controller(entry).async_set_override(wanted, until_cleared=True)


def serial(entry: Any) -> str:
    return str(entry.unique_id)


def our_state(hass: HomeAssistant, entry: Any, platform: str, key: str) -> str:
    state = hass.states.get(entity_id(hass, platform, key, serial(entry)))
    assert state is not None
    return state.state


# ---------------------------------------------------------------- Tesla


async def tesla_world(
    hass: HomeAssistant, world: World, platform: str = "teslemetry", *, follows: bool = True
) -> None:
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
    assert (
        our_state(hass, entry, "number", "backup_reserve") == "20.0"
    )  # ours, while the mode holds it at 100
    await override(entry, mode="auto")
    assert world.take() == [
        num("number.pw_backup_reserve", 20.0),
        sel("select.pw_operation_mode", "self_consumption"),
    ]
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


async def test_powerwall_reads_locally_and_writes_through_the_cloud(
    hass: HomeAssistant, world: World
) -> None:
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
        [
            soc_sensor(
                "Powerwall charge",
                "GW1_charge",
                translation_key="charge",
                device=device("powerwall", "G", "P"),
            )
        ],
        world,
    )
    assert candidates(hass) == []
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "bridge_preset"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "bridge_no_preset"


# ---------------------------------------------------------------- Huawei Solar: actions, keep-alive


async def huawei_world(hass: HomeAssistant, world: World) -> str:
    battery = device("huawei_solar", "LUNA", "Batteries")
    await setup_integration(
        hass,
        "huawei_solar",
        [
            soc_sensor("Battery state of capacity", "HV123_storage_state_of_capacity", 40, device=battery),
            power_sensor("Charge discharge power", "HV123_storage_charge_discharge_power", 0, device=battery),
            FakeNumber("Backup power SOC", "HV123_storage_backup_power_state_of_charge", 15, device=battery),
            FakeSelect(
                "Working mode",
                "HV123_storage_working_mode_settings",
                ["adaptive", "fixed_charge_discharge", "maximise_self_consumption", "fully_fed_to_grid"],
                "maximise_self_consumption",
                device=battery,
            ),
        ],
        world,
    )
    register_actions(
        hass, "huawei_solar", ["forcible_charge", "forcible_discharge", "stop_forcible_charge"], world
    )
    found = er.async_get(hass).async_get("sensor.luna_battery_state_of_capacity")
    assert found is not None
    assert found.device_id is not None
    return found.device_id


def action(service: str, **data: Any) -> Call:
    return ("huawei_solar", service, data)


async def test_huawei_actions_and_keepalive(hass: HomeAssistant, world: World, tick: Tick) -> None:
    battery = await huawei_world(hass, world)
    entry = await add_by_preset(hass, world, battery)
    await override(entry, mode="force_charge", power_w=-2000)
    assert world.take() == [action("forcible_charge", device_id=battery, power=2000, duration=60)]
    await tick(2)
    assert our_state(hass, entry, "select", "operating_mode") == "force_charge"  # remembered
    assert our_state(hass, entry, "number", "power_setpoint") == "-2000.0"
    # The forcible charge lasts 60 minutes: re-sent every 30 while the mode lasts.
    await tick(1800)
    assert world.take() == [action("forcible_charge", device_id=battery, power=2000, duration=60)]
    # A new power alone goes out with the mode's action.
    await override(entry, power_w=-1000)
    assert world.take() == [action("forcible_charge", device_id=battery, power=1000, duration=60)]
    await override(entry, mode="force_discharge", power_w=1500)
    assert world.take() == [action("forcible_discharge", device_id=battery, power=1500, duration=60)]
    # A charging power in a discharge mode is refused before anything is sent.
    with pytest.raises(HomeAssistantError, match="power_w"):
        await override(entry, power_w=-500)
    assert world.take() == []
    await override(entry, mode="auto", power_w=0)
    assert world.take() == [
        action("stop_forcible_charge", device_id=battery),
        sel("select.luna_working_mode", "maximise_self_consumption"),
    ]
    await tick(1800)
    assert world.take() == []  # auto needs no keep-alive
    with pytest.raises(ServiceValidationError) as err:
        await override(entry, mode="idle")
    assert err.value.translation_key == "field_not_supported"
    await hass.config_entries.async_unload(entry.entry_id)


# ---------------------------------------------------------------- SolaX: a button after the writes


async def solax_world(hass: HomeAssistant, world: World) -> str:
    inverter = device("solax_modbus", "SolaX", "X1 Hybrid G4")
    entities = [
        soc_sensor("Battery capacity", "SolaX_battery_capacity", 55, device=inverter),
        power_sensor("Battery power charge", "SolaX_battery_power_charge", 0, device=inverter),
        FakeNumber("Selfuse discharge min soc", "SolaX_selfuse_discharge_min_soc", 10, device=inverter),
        FakeSelect(
            "Remotecontrol power control",
            "SolaX_remotecontrol_power_control",
            [
                "Disabled",
                "Enabled Power Control",
                "Enabled Grid Control",
                "Enabled Battery Control",
                "Enabled Self Use",
                "Enabled Feedin Priority",
                "Enabled No Discharge",
            ],
            "Disabled",
            device=inverter,
        ),
        FakeNumber(
            "Remotecontrol active power",
            "SolaX_remotecontrol_active_power",
            0,
            low=-30000,
            high=30000,
            step=100,
            unit="W",
            device=inverter,
        ),
        FakeNumber(
            "Remotecontrol autorepeat duration",
            "SolaX_remotecontrol_autorepeat_duration",
            0,
            high=172800,
            unit="s",
            device=inverter,
        ),
        FakeButton("Remotecontrol trigger", "SolaX_remotecontrol_trigger", device=inverter),
    ]
    await setup_integration(hass, "solax_modbus", entities, world)
    found = er.async_get(hass).async_get("sensor.solax_battery_capacity")
    assert found is not None
    assert found.device_id is not None
    return found.device_id


async def test_solax_remote_control(hass: HomeAssistant, world: World, tick: Tick) -> None:
    entry = await add_by_preset(hass, world, await solax_world(hass, world))
    remote = "select.solax_remotecontrol_power_control"
    active = "number.solax_remotecontrol_active_power"
    repeat = "number.solax_remotecontrol_autorepeat_duration"
    trigger = "button.solax_remotecontrol_trigger"
    charge = [
        sel(remote, "Enabled Battery Control"),
        num(active, 3000.0),
        num(repeat, 3600.0),
        press(trigger),
    ]
    await override(entry, mode="force_charge", power_w=-3000)
    assert world.take() == charge  # the button last, after the parameters it triggers
    await tick(2)
    # Read back from two entities: the control select and the sign of the active power.
    assert our_state(hass, entry, "select", "operating_mode") == "force_charge"
    assert our_state(hass, entry, "number", "power_setpoint") == "-3000.0"
    await tick(1800)
    assert world.take() == charge  # keep-alive: pressed again before autorepeat runs out
    await override(entry, mode="force_discharge", power_w=2000)
    assert world.take() == [
        sel(remote, "Enabled Battery Control"),
        num(active, -2000.0),
        num(repeat, 3600.0),
        press(trigger),
    ]
    await tick(2)
    assert our_state(hass, entry, "select", "operating_mode") == "force_discharge"
    await override(entry, mode="idle", power_w=0)
    assert world.take() == [
        sel(remote, "Enabled Battery Control"),
        num(active, 0.0),
        num(repeat, 3600.0),
        press(trigger),
    ]
    await tick(2)
    assert our_state(hass, entry, "select", "operating_mode") == "idle"
    await override(entry, mode="auto")
    assert world.take() == [sel(remote, "Disabled"), num(repeat, 0.0), press(trigger)]
    await tick(2)
    assert our_state(hass, entry, "select", "operating_mode") == "auto"
    await hass.config_entries.async_unload(entry.entry_id)


# ---------------------------------------------------------------- GoodWe: reserve = 100 - depth of discharge


async def test_goodwe_reserve_is_the_complement_of_the_depth_of_discharge(
    hass: HomeAssistant, world: World, tick: Tick
) -> None:
    inverter = device("goodwe", "GW", "GW10K-ET")
    await setup_integration(
        hass,
        "goodwe",
        [
            soc_sensor("Battery State of Charge", "goodwe-battery_soc-9010KETU000W0001", 65, device=inverter),
            power_sensor("Battery Power", "goodwe-pbattery1-9010KETU000W0001", 0, device=inverter),
            FakeNumber(
                "Depth of discharge (on-grid)",
                "goodwe-battery_discharge_depth-9010KETU000W0001",
                80,
                high=99,
                device=inverter,
            ),
            FakeSelect(
                "Inverter operation mode",
                "goodwe-operation_mode-9010KETU000W0001",
                ["general", "off_grid", "backup", "eco", "peak_shaving", "eco_charge", "eco_discharge"],
                "general",
                device=inverter,
            ),
        ],
        world,
    )
    soc = er.async_get(hass).async_get("sensor.gw_battery_state_of_charge")
    assert soc is not None
    entry = await add_by_preset(hass, world, str(soc.device_id))
    assert our_state(hass, entry, "number", "backup_reserve") == "20.0"  # 100 - 80
    number = hass.states.get(entity_id(hass, "number", "backup_reserve", serial(entry)))
    assert number is not None
    assert (number.attributes["min"], number.attributes["max"]) == (1, 100)  # from DoD 99..0
    await override(entry, reserve_pct=30)
    assert world.take() == [num("number.gw_depth_of_discharge_on_grid", 70.0)]
    select = "select.gw_inverter_operation_mode"
    for mode, option in (
        ("force_charge", "eco_charge"),
        ("force_discharge", "eco_discharge"),
        ("idle", "backup"),
        ("auto", "general"),
    ):
        await override(entry, mode=mode)
        assert world.take() == [sel(select, option)], mode
        await tick(2)
        assert our_state(hass, entry, "select", "operating_mode") == mode
    await hass.config_entries.async_unload(entry.entry_id)


# ---------------------------------------------------------------- Marstek: separate charge, discharge power


async def test_marstek_split_power(hass: HomeAssistant, world: World, tick: Tick) -> None:
    venus = device("marstek_modbus", "Venus", "Venus E")
    entities = [
        soc_sensor("Battery SOC", "e1_battery_soc", 50, translation_key="battery_soc", device=venus),
        power_sensor("Battery power", "e1_battery_power", 0, translation_key="battery_power", device=venus),
        FakeSwitch(
            "RS485 control mode", "e1_rs485_control_mode", translation_key="rs485_control_mode", device=venus
        ),
        FakeSelect(
            "Force mode",
            "e1_force_mode",
            ["standby", "charge", "discharge"],
            "standby",
            translation_key="force_mode",
            device=venus,
        ),
        FakeNumber(
            "Set charge power",
            "e1_set_charge_power",
            0,
            high=2500,
            step=50,
            unit="W",
            translation_key="set_charge_power",
            device=venus,
        ),
        FakeNumber(
            "Set discharge power",
            "e1_set_discharge_power",
            0,
            high=2500,
            step=50,
            unit="W",
            translation_key="set_discharge_power",
            device=venus,
        ),
    ]
    await setup_integration(hass, "marstek_modbus", entities, world)
    soc = er.async_get(hass).async_get("sensor.venus_battery_soc")
    assert soc is not None
    entry = await add_by_preset(hass, world, str(soc.device_id))
    charge, discharge = "number.venus_set_charge_power", "number.venus_set_discharge_power"
    await override(entry, mode="force_charge", power_w=-1200)
    # The power first, then RS485 control on and the force mode.
    assert world.take() == [
        num(charge, 1200.0),
        num(discharge, 0.0),
        switch("switch.venus_rs485_control_mode", True),
        sel("select.venus_force_mode", "charge"),
    ]
    await tick(2)
    assert our_state(hass, entry, "number", "power_setpoint") == "-1200.0"
    await override(entry, mode="force_discharge", power_w=800)
    assert world.take() == [
        num(charge, 0.0),
        num(discharge, 800.0),
        switch("switch.venus_rs485_control_mode", True),
        sel("select.venus_force_mode", "discharge"),
    ]
    await override(entry, power_w=600)
    assert world.take() == [num(charge, 0.0), num(discharge, 600.0)]  # the mode stays
    await override(entry, mode="auto", power_w=0)
    assert world.take() == [
        num(charge, 0.0),
        num(discharge, 0.0),
        sel("select.venus_force_mode", "standby"),
        switch("switch.venus_rs485_control_mode", False),
    ]
    await tick(2)
    assert our_state(hass, entry, "select", "operating_mode") == "auto"
    with pytest.raises(ServiceValidationError):
        await override(entry, reserve_pct=30)  # no reserve entity
    await hass.config_entries.async_unload(entry.entry_id)


# ---------------------------------------------------------------- Sungrow: a package without a device


async def sungrow_world(hass: HomeAssistant, world: World) -> None:
    await setup_integration(
        hass,
        "modbus",
        [
            soc_sensor("Battery level", "sg_battery_level", 45),
            power_sensor("Battery power", "sg_battery_power", 0),
        ],
        world,
    )
    await setup_integration(
        hass,
        "template",
        [
            FakeSelect(
                "EMS mode",
                "uid_ems_mode",
                ["Self-consumption mode (default)", "Forced mode", "External EMS", "VPP"],
                "Self-consumption mode (default)",
            ),
            FakeSelect(
                "Battery forced charge discharge",
                "uid_battery_forced_charge_discharge",
                ["Stop (default)", "Forced charge", "Forced discharge"],
                "Stop (default)",
            ),
            FakeNumber(
                "Battery forced charge discharge power",
                "uid_battery_forced_charge_discharge_power",
                0,
                high=10600,
                step=100,
                unit="W",
            ),
            FakeNumber("Battery reserved SoC for backup", "uid_battery_reserved_soc_for_backup", 10),
        ],
        world,
    )


async def test_sungrow_forced_mode_then_command(hass: HomeAssistant, world: World, tick: Tick) -> None:
    await sungrow_world(hass, world)
    entry = await add_by_preset(hass, world, "package:sungrow_shx")
    ems, command = "select.ems_mode", "select.battery_forced_charge_discharge"
    power = "number.battery_forced_charge_discharge_power"
    await override(entry, mode="force_charge", power_w=-2500)
    # The magnitude first; then EMS "Forced mode" before the command.
    assert world.take() == [num(power, 2500.0), sel(ems, "Forced mode"), sel(command, "Forced charge")]
    await tick(2)
    assert our_state(hass, entry, "number", "power_setpoint") == "-2500.0"
    await override(entry, mode="force_discharge", power_w=1000)
    assert world.take() == [num(power, 1000.0), sel(ems, "Forced mode"), sel(command, "Forced discharge")]
    await override(entry, mode="idle", power_w=0)
    assert world.take() == [num(power, 0.0), sel(ems, "Forced mode"), sel(command, "Stop (default)")]
    await override(entry, mode="auto")
    assert world.take() == [sel(ems, "Self-consumption mode (default)"), sel(command, "Stop (default)")]
    await tick(2)
    # A magnitude cannot say which way without a force mode: refused when written, nothing sent.
    with pytest.raises(HomeAssistantError) as err:
        await override(entry, power_w=500)
    assert err.value.translation_key == "run_failed"
    assert "power_w" in str(err.value)
    assert world.take() == []
    last = controller(entry).journal.last
    assert last is not None
    assert last.result is Result.FAILED
    await hass.config_entries.async_unload(entry.entry_id)


# ---------------------------------------------------------------- Victron, SolarEdge, Enphase


async def test_victron_signed_grid_setpoint(hass: HomeAssistant, world: World, tick: Tick) -> None:
    gx = device("victron", "100", "GX")
    await setup_integration(
        hass,
        "victron",
        [
            soc_sensor("Battery SoC", "225_battery_soc", 80, device=gx),
            power_sensor("Battery power", "225_battery_power", 0, device=gx),
            FakeNumber(
                "ESS setpoint",
                "100_settings_ess_acpowersetpoint",
                0,
                low=-32768,
                high=32767,
                unit="W",
                device=gx,
            ),
            FakeNumber("ESS minimum SoC", "100_settings_ess_batterylife_minimumsoc", 10, device=gx),
        ],
        world,
    )
    soc = er.async_get(hass).async_get("sensor.100_battery_soc")
    assert soc is not None
    entry = await add_by_preset(hass, world, str(soc.device_id))
    setpoint = "number.100_ess_setpoint"
    await override(entry, mode="force_charge", power_w=-2000)
    assert world.take() == [num(setpoint, 2000.0)]  # + takes from the grid; written once
    await tick(2)
    assert our_state(hass, entry, "select", "operating_mode") == "force_charge"
    assert our_state(hass, entry, "number", "power_setpoint") == "-2000.0"
    await override(entry, mode="force_discharge", power_w=1500)
    assert world.take() == [num(setpoint, -1500.0)]
    await override(entry, mode="auto", power_w=0)
    assert world.take() == [num(setpoint, 0.0)]
    await tick(2)
    assert our_state(hass, entry, "select", "operating_mode") == "auto"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_solaredge_remote_control(hass: HomeAssistant, world: World, tick: Tick) -> None:
    inverter = device("solaredge_modbus_multi", "SE", "SE5000H")
    battery = device("solaredge_modbus_multi", "SEB1", "Battery")
    modes = ["Disabled", "Maximize Self Consumption", "Time of Use", "Backup Only", "Remote Control"]
    commands = [
        "Solar Power Only (Off)",
        "Charge from Clipped Solar Power",
        "Charge from Solar Power",
        "Charge from Solar Power and Grid",
        "Discharge to Maximize Export",
        "Discharge to Minimize Import",
        "Maximize Self Consumption",
    ]
    await setup_integration(
        hass,
        "solaredge_modbus_multi",
        [
            soc_sensor("State of energy", "se_i1_b1_battery_soe", 50, device=battery),
            power_sensor("DC power", "se_i1_b1_dc_power", 0, device=battery),
            power_sensor("Inverter DC power", "se_i1_dc_power", 3000, device=inverter),
            FakeSelect(
                "Storage control mode",
                "se_i1_storage_control_mode",
                modes,
                "Maximize Self Consumption",
                device=inverter,
            ),
            FakeSelect(
                "Storage command mode",
                "se_i1_storage_command_mode",
                commands,
                "Solar Power Only (Off)",
                device=inverter,
            ),
            FakeNumber(
                "Storage command timeout",
                "se_i1_storage_command_timeout",
                0,
                high=86400,
                unit="s",
                device=inverter,
            ),
            FakeNumber(
                "Storage charge limit",
                "se_i1_storage_charge_limit",
                5000,
                high=5000,
                unit="W",
                device=inverter,
            ),
            FakeNumber(
                "Storage discharge limit",
                "se_i1_storage_discharge_limit",
                5000,
                high=5000,
                unit="W",
                device=inverter,
            ),
            FakeNumber("Storage backup reserve", "se_i1_storage_backup_reserve", 10, device=inverter),
        ],
        world,
    )
    soc = er.async_get(hass).async_get("sensor.seb1_state_of_energy")
    assert soc is not None
    entry = await add_by_preset(hass, world, str(soc.device_id))
    assert entry.data[CONF_MAPPING]["power_sensor"] == "sensor.seb1_dc_power"  # the battery's, not the PV's
    await override(entry, mode="force_charge", power_w=-3000)
    assert world.take() == [
        num("number.se_storage_charge_limit", 3000.0),
        num("number.se_storage_discharge_limit", 0.0),
        sel("select.se_storage_control_mode", "Remote Control"),
        num("number.se_storage_command_timeout", 3600.0),
        sel("select.se_storage_command_mode", "Charge from Solar Power and Grid"),
    ]
    await tick(1800)
    assert world.take() == [
        sel("select.se_storage_control_mode", "Remote Control"),
        num("number.se_storage_command_timeout", 3600.0),
        sel("select.se_storage_command_mode", "Charge from Solar Power and Grid"),
    ]
    await override(entry, mode="auto", power_w=0)
    assert world.take() == [
        num("number.se_storage_charge_limit", 0.0),
        num("number.se_storage_discharge_limit", 0.0),
        sel("select.se_storage_control_mode", "Maximize Self Consumption"),
    ]
    await hass.config_entries.async_unload(entry.entry_id)


async def enphase_world(hass: HomeAssistant, world: World) -> ConfigEntry:
    return await add_by_preset(hass, world, await enphase_entities(hass, world))


async def enphase_entities(hass: HomeAssistant, world: World) -> str:
    envoy = device("enphase_envoy", "Envoy", "Envoy-S")
    await setup_integration(
        hass,
        "enphase_envoy",
        [
            soc_sensor("Battery", "1220_battery_level", 50, device=envoy),
            power_sensor("Battery discharge", "1220_battery_discharge", 0, device=envoy),
            FakeNumber(
                "Reserve battery level", "1220_reserve_soc", 20, translation_key="reserve_soc", device=envoy
            ),
            FakeSelect(
                "Storage mode",
                "1220_storage_mode",
                ["backup", "self_consumption", "savings"],
                "self_consumption",
                translation_key="storage_mode",
                device=envoy,
            ),
            FakeSwitch(
                "Charge from grid", "1220_charge_from_grid", translation_key="charge_from_grid", device=envoy
            ),
        ],
        world,
    )
    soc = er.async_get(hass).async_get("sensor.envoy_battery")
    assert soc is not None
    return str(soc.device_id)


async def test_enphase(hass: HomeAssistant, world: World, tick: Tick) -> None:
    entry = await enphase_world(hass, world)
    await override(entry, mode="force_charge", reserve_pct=40)
    assert world.take() == [
        num("number.envoy_reserve_battery_level", 40.0),
        switch("switch.envoy_charge_from_grid", True),
        sel("select.envoy_storage_mode", "backup"),
    ]
    await tick(2)
    assert our_state(hass, entry, "select", "operating_mode") == "force_charge"
    await override(entry, mode="auto")
    assert world.take() == [
        switch("switch.envoy_charge_from_grid", False),
        sel("select.envoy_storage_mode", "self_consumption"),
    ]
    await hass.config_entries.async_unload(entry.entry_id)


# ---------------------------------------------------------------- the controller through a preset bridge


async def preset_entry(
    hass: HomeAssistant,
    key: str,
    options: dict[str, Any] | None = None,
    items: list[dict[str, Any]] | None = None,
) -> MockConfigEntry:
    """A bridge entry with the mapping the preset fills in for `key` (as the flow stores it)."""
    candidate = next(c for c in candidates(hass) if c.key == key)
    data = {
        CONF_KIND: KIND_BRIDGE,
        CONF_SERIAL: "bridge-preset",
        CONF_SOC_ENTITY: candidate.mapping["soc"],
        CONF_RATED_POWER_W: 5000,
        CONF_MAPPING: candidate.mapping,
        CONF_PRESET: candidate.preset.key,
    }
    return await setup_entry(
        hass,
        data,
        title="Preset (bridge)",
        unique_id="bridge-preset",
        options=options,
        items=items or [],
        wait="background",
    )


async def test_a_foreign_change_is_drift_then_a_fight(hass: HomeAssistant, world: World, tick: Tick) -> None:
    entry = await preset_entry(
        hass, await enphase_entities(hass, world), {"fight_max_corrections": 2, "fight_window_min": 10}
    )
    await override(entry, mode="auto")
    world.take()
    storage_mode = world.entities["select.envoy_storage_mode"]
    assert isinstance(storage_mode, FakeSelect)
    storage_mode.set_option("savings")  # the Enphase app
    await tick(20)
    assert world.take() == [
        switch("switch.envoy_charge_from_grid", False),
        sel("select.envoy_storage_mode", "self_consumption"),
    ]
    drift = controller(entry).journal.last
    assert drift is not None
    assert drift.trigger is Trigger.DRIFT
    for _ in range(2):
        storage_mode.set_option("savings")
        await tick(20)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"fight_{entry.entry_id}_mode")
    assert issue is not None
    world.take()
    storage_mode.set_option("backup")
    await tick(20)
    assert world.take() == []  # no longer fought over
    assert hass.states.get("select.envoy_storage_mode").state == "backup"  # type: ignore[union-attr]
    await hass.config_entries.async_unload(entry.entry_id)


async def test_an_accepted_call_that_changes_nothing_is_no_effect(
    hass: HomeAssistant, world: World, tick: Tick
) -> None:
    await tesla_world(hass, world, follows=False)  # the mode select accepts calls and never changes
    entry = await preset_entry(hass, tesla_device(hass), {"verify_timeout_s": 30})
    await override(entry, mode="force_charge")
    assert world.take()[-1] == sel("select.pw_operation_mode", "autonomous")
    assert hass.states.get("select.pw_operation_mode").state == "self_consumption"  # type: ignore[union-attr]
    await tick(2)
    assert our_state(hass, entry, "select", "operating_mode") == "force_charge"  # as sent: it never changed
    await tick(30)
    last = controller(entry).journal.last
    assert last is not None
    assert last.result is Result.NO_EFFECT
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"no_effect_{entry.entry_id}") is not None
    assert world.take() == []  # not mistaken for drift: nothing re-sent
    await hass.config_entries.async_unload(entry.entry_id)


async def test_source_unavailable_makes_the_battery_unavailable(
    hass: HomeAssistant, world: World, tick: Tick
) -> None:
    entry = await preset_entry(hass, await enphase_entities(hass, world))
    soc = our_state(hass, entry, "sensor", "state_of_charge")
    assert soc == "50.0"
    switch_entity = world.entities["switch.envoy_charge_from_grid"]
    switch_entity.set_available(False)  # a written entity, read back for the mode
    await tick(2)
    assert our_state(hass, entry, "sensor", "state_of_charge") == STATE_UNAVAILABLE
    assert our_state(hass, entry, "select", "operating_mode") == STATE_UNAVAILABLE
    switch_entity.set_available(True)
    await tick(2)
    assert our_state(hass, entry, "sensor", "state_of_charge") == "50.0"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_review_can_drop_the_power_sensor_and_reconfigure_by_hand_drops_the_preset(
    hass: HomeAssistant, world: World
) -> None:
    entry = await add_by_preset(
        hass, world, await enphase_entities(hass, world), review={"power_entity": None}
    )
    assert "power_sensor" not in entry.data[CONF_MAPPING]
    caps = entry.runtime_data.coordinator.info.capabilities
    assert not caps.active_power
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_SOC_ENTITY: "sensor.envoy_battery",
            "power_charge_positive": False,
            "reserve_entity": "number.envoy_reserve_battery_level",
            "rated_power_w": 3000,
        },
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_MAPPING] is None
    assert entry.data[CONF_PRESET] is None
    await hass.async_block_till_done(wait_background_tasks=True)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_the_battery_follows_the_schedule(hass: HomeAssistant, world: World, tick: Tick) -> None:
    """A Sungrow package, an evening force charge at 2 kW, self-consumption again at 22:00."""
    await sungrow_world(hass, world)
    entry = await preset_entry(
        hass,
        "package:sungrow_shx",
        items=[
            window_item("Evening charge", "19:00:00", "22:00:00", mode="force_charge", power_w=-2000),
            cron_item("Night", "0 22 * * *", mode="auto", power_w=0),
        ],
    )
    ems, command = "select.ems_mode", "select.battery_forced_charge_discharge"
    power = "number.battery_forced_charge_discharge_power"
    world.take()
    await tick(60)  # 19:00
    assert world.take() == [num(power, 2000.0), sel(ems, "Forced mode"), sel(command, "Forced charge")]
    record = controller(entry).journal.last
    assert record is not None
    assert record.trigger is Trigger.SCHEDULE
    assert record.result is Result.SUCCESS
    await tick(3 * 3600)  # 22:00
    assert world.take() == [
        num(power, 0.0),
        sel(ems, "Self-consumption mode (default)"),
        sel(command, "Stop (default)"),
    ]
    await hass.config_entries.async_unload(entry.entry_id)
