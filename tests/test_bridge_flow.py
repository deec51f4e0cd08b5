"""Config flow of the entity bridge: choose entities, map modes, reconfigure."""

from typing import Any

from homeassistant.config_entries import SOURCE_USER, ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.const import (
    CONF_KIND,
    CONF_MODE_ENTITY,
    CONF_MODE_OPTIONS,
    CONF_POWER_CHARGE_POSITIVE,
    CONF_POWER_ENTITY,
    CONF_RATED_POWER_W,
    CONF_RESERVE_ENTITY,
    CONF_SERIAL,
    CONF_SOC_ENTITY,
    DOMAIN,
    KIND_BRIDGE,
)

from .test_bridge import MAPPING, MODE, OPTIONS, POWER, RESERVE, SERIAL, SOC, bridge_data, setup_sources


async def _bridge_step(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert KIND_BRIDGE in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": KIND_BRIDGE})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "bridge"
    return str(result["flow_id"])


def _options_of(result: ConfigFlowResult, field: str) -> list[Any]:
    schema = result["data_schema"]
    assert schema is not None
    for key, value in schema.schema.items():
        if key == field:
            return list(value.config["options"])
    raise AssertionError(field)


async def test_bridge_with_modes_creates_entry(hass: HomeAssistant) -> None:
    await setup_sources(hass)
    flow_id = await _bridge_step(hass)
    # Nothing to control: refused.
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_SOC_ENTITY: SOC})
    assert result["errors"] == {"base": "bridge_nothing_to_control"}
    # A mode entity that is not there has no options.
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_SOC_ENTITY: SOC, CONF_MODE_ENTITY: "select.nowhere"}
    )
    assert result["errors"] == {"base": "bridge_no_options"}
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {
            CONF_SOC_ENTITY: SOC,
            CONF_POWER_ENTITY: POWER,
            CONF_POWER_CHARGE_POSITIVE: True,
            CONF_RESERVE_ENTITY: RESERVE,
            CONF_MODE_ENTITY: MODE,
            CONF_RATED_POWER_W: 5000,
        },
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "bridge_modes"
    assert result["description_placeholders"] == {"entity": MODE}
    assert _options_of(result, "auto") == OPTIONS  # the select's own options to choose from
    result = await hass.config_entries.flow.async_configure(flow_id, {})
    assert result["errors"] == {"base": "bridge_no_mode_mapped"}
    result = await hass.config_entries.flow.async_configure(flow_id, {**MAPPING, "force_discharge": "Backup"})
    assert result["errors"] == {"base": "bridge_duplicate_option"}
    result = await hass.config_entries.flow.async_configure(flow_id, MAPPING)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Powerwall charge (bridge)"
    assert result["data"] == bridge_data()
    assert result["result"].unique_id == SERIAL
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get("sensor.powerwall_charge_bridge_state_of_charge") is not None
    # The same SoC entity again: already configured.
    flow_id = await _bridge_step(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_SOC_ENTITY: SOC, CONF_RESERVE_ENTITY: RESERVE}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    await hass.config_entries.async_unload(result_entry_id(hass))


def result_entry_id(hass: HomeAssistant) -> str:
    return hass.config_entries.async_entries(DOMAIN)[0].entry_id


async def test_bridge_without_modes_uses_the_registry_id(hass: HomeAssistant) -> None:
    await setup_sources(hass)
    registered = er.async_get(hass).async_get_or_create(
        "sensor", "tesla_fleet", "pw1_soc", suggested_object_id="pw_soc"
    )
    flow_id = await _bridge_step(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_SOC_ENTITY: registered.entity_id, CONF_RESERVE_ENTITY: RESERVE}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == f"bridge-{registered.id}"
    # No state yet: titled by the entity id (setup waits for the entity).
    assert result["title"] == f"{registered.entity_id} (bridge)"
    assert result["data"][CONF_MODE_ENTITY] is None
    assert result["data"][CONF_MODE_OPTIONS] == {}
    await hass.async_block_till_done(wait_background_tasks=True)
    await hass.config_entries.async_unload(result["result"].entry_id)


async def test_reconfigure_bridge(hass: HomeAssistant) -> None:
    await setup_sources(hass)
    entry = MockConfigEntry(domain=DOMAIN, title="Powerwall (bridge)", unique_id=SERIAL, data=bridge_data())
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SOC_ENTITY: SOC, CONF_POWER_CHARGE_POSITIVE: False, CONF_RATED_POWER_W: 3000}
    )
    assert result["errors"] == {"base": "bridge_nothing_to_control"}
    # Same mode entity: the current mapping is suggested; map one more mode.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_SOC_ENTITY: SOC,
            CONF_POWER_CHARGE_POSITIVE: False,
            CONF_RESERVE_ENTITY: RESERVE,
            CONF_MODE_ENTITY: MODE,
            CONF_RATED_POWER_W: 3000,
        },
    )
    assert result["step_id"] == "bridge_modes"
    schema = result["data_schema"]
    assert schema is not None
    suggested = {str(key): (key.description or {}).get("suggested_value") for key in schema.schema}
    assert suggested["auto"] == "Self-Powered"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**MAPPING, "force_discharge": "Time-Based Control"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_MODE_OPTIONS]["force_discharge"] == "Time-Based Control"
    assert entry.data[CONF_POWER_ENTITY] is None  # cleared
    assert entry.data[CONF_RATED_POWER_W] == 3000
    assert entry.data[CONF_SERIAL] == SERIAL
    assert entry.data[CONF_KIND] == KIND_BRIDGE
    await hass.async_block_till_done(wait_background_tasks=True)

    # Another mode entity: nothing is suggested. Then drop the mode entity altogether.
    hass.states.async_set("select.other_mode", "a", {"options": ["a", "b"]})
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_SOC_ENTITY: SOC,
            CONF_POWER_CHARGE_POSITIVE: False,
            CONF_MODE_ENTITY: "select.other_mode",
            CONF_RATED_POWER_W: 3000,
        },
    )
    assert result["step_id"] == "bridge_modes"
    schema = result["data_schema"]
    assert schema is not None
    assert all(not (key.description or {}).get("suggested_value") for key in schema.schema)
    assert _options_of(result, "idle") == ["a", "b"]
    hass.config_entries.flow.async_abort(result["flow_id"])
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_SOC_ENTITY: SOC,
            CONF_POWER_CHARGE_POSITIVE: False,
            CONF_RESERVE_ENTITY: RESERVE,
            CONF_RATED_POWER_W: 3000,
        },
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_MODE_ENTITY] is None
    assert entry.data[CONF_MODE_OPTIONS] == {}
    await hass.async_block_till_done(wait_background_tasks=True)
    await hass.config_entries.async_unload(entry.entry_id)
