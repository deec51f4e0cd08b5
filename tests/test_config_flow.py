"""Config flow: every path, against real Modbus TCP servers on loopback."""

from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
import probatio as vol
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.const import (
    CONF_CAPACITY_KWH,
    CONF_KIND,
    CONF_POLL_INTERVAL,
    CONF_SERIAL,
    DOMAIN,
    KIND_BRIDGE,
    KIND_MODBUS,
    KIND_SIMULATOR,
)
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery

from .conftest import SERIAL
from .helpers import load, options_step, settings_input


def _address(port: int, unit: int = 1) -> dict[str, Any]:
    """What the reconfigure form asks (the register map cannot change there)."""
    return {"host": "127.0.0.1", "port": port, "unit_id": unit}


def _modbus_input(port: int, unit: int = 1) -> dict[str, Any]:
    return {**_address(port, unit), "profile": "steward"}


async def _start_modbus_step(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == [
        KIND_SIMULATOR,
        KIND_MODBUS,
        KIND_BRIDGE,
        "bridge_preset",
        "bridge_mapping",
    ]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": KIND_MODBUS})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == KIND_MODBUS
    return str(result["flow_id"])


async def test_simulator_creates_entry(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": KIND_SIMULATOR}
    )
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_CAPACITY_KWH: 13.5})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    data = result["data"]
    assert data[CONF_KIND] == KIND_SIMULATOR
    assert data[CONF_CAPACITY_KWH] == 13.5
    assert data[CONF_SERIAL].startswith("SIM-")
    assert result["result"].unique_id == data[CONF_SERIAL]
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(result["result"].entry_id)


async def test_simulator_that_does_not_answer_aborts(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": KIND_SIMULATOR}
    )
    with patch(
        "custom_components.battery_steward.config_flow._async_identify",
        return_value=(None, "cannot_connect"),
    ):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_CAPACITY_KWH: 10})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"


async def test_modbus_creates_entry(hass: HomeAssistant, simulator: SimulatedBattery) -> None:
    flow_id = await _start_modbus_step(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _modbus_input(simulator.port))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"Steward Sim 10 {SERIAL}"
    assert result["data"] == {
        CONF_KIND: KIND_MODBUS,
        CONF_SERIAL: SERIAL,
        **_modbus_input(simulator.port),
    }
    assert result["result"].unique_id == SERIAL
    await hass.async_block_till_done()


@pytest.mark.parametrize(
    ("target", "unit", "error"),
    [
        ("closed", 1, "cannot_connect"),
        ("simulator", 7, "invalid_unit"),
        ("foreign", 1, "unsupported_device"),
    ],
)
async def test_modbus_errors_then_recover(
    hass: HomeAssistant,
    simulator: SimulatedBattery,
    foreign_server: int,
    closed_port: int,
    target: str,
    unit: int,
    error: str,
) -> None:
    port = {"closed": closed_port, "simulator": simulator.port, "foreign": foreign_server}[target]
    flow_id = await _start_modbus_step(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _modbus_input(port, unit))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    result = await hass.config_entries.flow.async_configure(flow_id, _modbus_input(simulator.port))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()


async def test_modbus_unexpected_error(hass: HomeAssistant, simulator: SimulatedBattery) -> None:
    flow_id = await _start_modbus_step(hass)
    with patch(
        "custom_components.battery_steward.config_flow.ModbusBatteryDriver.identify",
        side_effect=RuntimeError("boom"),
    ):
        result = await hass.config_entries.flow.async_configure(flow_id, _modbus_input(simulator.port))
    assert result["errors"] == {"base": "unknown"}


async def test_modbus_already_configured(
    hass: HomeAssistant, simulator: SimulatedBattery, modbus_entry: MockConfigEntry
) -> None:
    modbus_entry.add_to_hass(hass)
    flow_id = await _start_modbus_step(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _modbus_input(simulator.port))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reconfigure_modbus(
    hass: HomeAssistant,
    simulator: SimulatedBattery,
    modbus_entry: MockConfigEntry,
    closed_port: int,
) -> None:
    modbus_entry.add_to_hass(hass)
    moved = SimulatedBattery(SimConfig(serial=SERIAL, noise_w=0.0))
    await moved.start(host="127.0.0.1", port=0)
    try:
        result = await modbus_entry.start_reconfigure_flow(hass)
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "reconfigure"
        result = await hass.config_entries.flow.async_configure(result["flow_id"], _address(closed_port))
        assert result["errors"] == {"base": "cannot_connect"}
        result = await hass.config_entries.flow.async_configure(result["flow_id"], _address(moved.port))
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        assert modbus_entry.data["port"] == moved.port
        await hass.async_block_till_done()
        await hass.config_entries.async_unload(modbus_entry.entry_id)
    finally:
        await moved.stop()


async def test_reconfigure_to_another_battery_aborts(
    hass: HomeAssistant, simulator: SimulatedBattery, modbus_entry: MockConfigEntry
) -> None:
    modbus_entry.add_to_hass(hass)
    other = SimulatedBattery(SimConfig(serial="SIM-OTHER001", noise_w=0.0))
    await other.start(host="127.0.0.1", port=0)
    try:
        result = await modbus_entry.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(result["flow_id"], _address(other.port))
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "wrong_device"  # "This is another battery", with both serials
        assert result["description_placeholders"] == {"found": "SIM-OTHER001", "expected": SERIAL}
        assert modbus_entry.data["port"] == simulator.port
    finally:
        await other.stop()


async def test_reconfigure_simulator_capacity(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="SIM-RECONF01",
        data={CONF_KIND: KIND_SIMULATOR, CONF_SERIAL: "SIM-RECONF01", CONF_CAPACITY_KWH: 10.0},
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_CAPACITY_KWH: 20})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_CAPACITY_KWH] == 20
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(entry.entry_id)


async def test_options_settings_in_sections_reload_for_what_needs_it(
    hass: HomeAssistant, simulator: SimulatedBattery, modbus_entry: MockConfigEntry
) -> None:
    result = await options_step(hass, (await load(hass, modbus_entry)).entry_id, "settings")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "settings"
    # Sections of Home Assistant's forms; the documentation is a link, not a file path.
    schema, placeholders = result["data_schema"], result["description_placeholders"]
    assert schema is not None
    assert placeholders is not None
    assert [str(key) for key in schema.schema] == [
        "polling",
        "reconciliation",
        "safe_stop",
        "items",
        "access",
    ]
    assert placeholders["docs_url"].startswith("https://")
    runtime = modbus_entry.runtime_data
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        settings_input(
            {
                CONF_POLL_INTERVAL: 30,
                "patrol_interval_min": 5,
                "fight_max_corrections": 4,
                "fight_window_min": 30,
                "verify_timeout_s": 60,
                "journal_size": 500,
            }
        ),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert modbus_entry.runtime_data is not runtime  # patrol, fight and journal: reloaded
    assert modbus_entry.options[CONF_POLL_INTERVAL] == 30
    settings = modbus_entry.runtime_data.controller.settings
    assert settings.patrol_interval.total_seconds() == 300
    assert settings.fight.max_corrections == 4
    assert settings.fight.window_s == 1800
    assert settings.verify_timeout_s == 60
    assert settings.journal_size == 500
    coordinator = modbus_entry.runtime_data.coordinator
    assert coordinator.update_interval is not None
    assert coordinator.update_interval.total_seconds() == 30
    await hass.config_entries.async_unload(modbus_entry.entry_id)


async def test_options_access_section_sets_who_controls_the_battery(
    hass: HomeAssistant, simulator: SimulatedBattery, modbus_entry: MockConfigEntry
) -> None:
    """*Only administrators control this battery* is its own section of the settings, on by default here."""
    await load(hass, modbus_entry)
    result = await options_step(hass, modbus_entry.entry_id, "settings")
    schema = result["data_schema"]
    assert schema is not None
    access = {str(key): key for key in schema.schema}["access"]
    assert [str(key) for key in schema.schema[access].schema.schema] == ["admin_only"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], settings_input({}) | {"access": {"admin_only": False}}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert modbus_entry.options["admin_only"] is False
    await hass.config_entries.async_unload(modbus_entry.entry_id)


async def test_options_that_need_no_reload_apply_live(
    hass: HomeAssistant, simulator: SimulatedBattery, modbus_entry: MockConfigEntry
) -> None:
    """Poll interval, effect check delay and safe stop: the running battery takes them at once."""
    runtime = (await load(hass, modbus_entry)).runtime_data
    result = await options_step(hass, modbus_entry.entry_id, "settings")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        settings_input(
            {
                CONF_POLL_INTERVAL: 20,
                "verify_timeout_s": 45,
                "safe_stop_threshold_pct": 5,
                "safe_stop_timeout_s": 90,
                "on_stop": "hand_back",
            }
        ),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert modbus_entry.runtime_data is runtime  # not reloaded
    assert runtime.controller.settings.hand_back_on_stop
    assert modbus_entry.state is ConfigEntryState.LOADED
    assert runtime.coordinator.update_interval is not None
    assert runtime.coordinator.update_interval.total_seconds() == 20
    settings = runtime.controller.settings
    assert (settings.verify_timeout_s, settings.safe_stop_threshold_pct, settings.safe_stop_timeout_s) == (
        45,
        5,
        90,
    )
    assert modbus_entry.options["safe_stop_timeout_s"] == 90
    await hass.config_entries.async_unload(modbus_entry.entry_id)


async def test_poll_interval_is_five_seconds_at_the_least(
    hass: HomeAssistant, simulator: SimulatedBattery, modbus_entry: MockConfigEntry
) -> None:
    """Home Assistant's developer docs (appropriate-polling): a user may not poll faster than 5 s."""
    result = await options_step(hass, (await load(hass, modbus_entry)).entry_id, "settings")
    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(
            result["flow_id"], settings_input({CONF_POLL_INTERVAL: 4})
        )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], settings_input({CONF_POLL_INTERVAL: 5})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert modbus_entry.options[CONF_POLL_INTERVAL] == 5
    await hass.config_entries.async_unload(modbus_entry.entry_id)


async def test_modbus_form_makes_the_user_pick_a_register_map(hass: HomeAssistant) -> None:
    """The simulator's map was preselected; a real battery's owner must choose, real devices first."""
    flow_id = await _start_modbus_step(hass)
    result = hass.config_entries.flow.async_get(flow_id)
    assert result["step_id"] == KIND_MODBUS
    schema = (await hass.config_entries.flow.async_configure(flow_id))["data_schema"]
    assert schema is not None
    key = next(k for k in schema.schema if str(k) == "profile")
    # Not required in the schema: the frontend would preselect the first option of a required one.
    assert isinstance(key, vol.Optional)
    assert key.default is vol.UNDEFINED
    assert (key.description or {}).get("suggested_value") is None
    options = schema.schema[key].config["options"]
    assert options[0] == "sunspec"
    assert options[-1] == "steward"
    result = await hass.config_entries.flow.async_configure(flow_id, _address(502))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"profile": "profile_required"}
