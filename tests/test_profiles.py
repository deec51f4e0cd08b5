"""Every profile through Home Assistant: config flow, entities from capabilities, a controller run."""

from collections.abc import AsyncIterator, Callable
import json
from pathlib import Path
import threading
import time
from typing import Any

import homeassistant
from homeassistant.components.select import ATTR_OPTION, SERVICE_SELECT_OPTION
from homeassistant.config_entries import (
    SOURCE_DHCP,
    SOURCE_USER,
    ConfigEntryState,
    ConfigFlowResult,
    ConfigSubentryData,
)
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.service_info.dhcp import DhcpServiceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward import register_map as register_map_module
from custom_components.battery_steward.const import (
    CONF_CAPACITY_KWH,
    CONF_LAYOUT,
    CONF_POWER_SIGN,
    CONF_PROFILE,
    CONF_PROFILE_SETTINGS,
    CONF_REGISTER_MAP,
    CONF_REGISTER_MAP_FILE,
    DOMAIN,
    KIND_MODBUS,
    docs_url,
)
from custom_components.battery_steward.device.profiles.custom import parse
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery
from custom_components.battery_steward.device.simulator.presentation import make_presentation
from custom_components.battery_steward.diagnostics import async_get_config_entry_diagnostics
from custom_components.battery_steward.engine.journal import Result
from custom_components.battery_steward.engine.state import Mode, Setpoints
from custom_components.battery_steward.schedule import SUBENTRY_ITEM

from .device.test_custom_map import GOOD_MAP
from .helpers import entity_id, let_sockets_settle, options_step, settings_input

type Start = Callable[..., Any]

MARSTEK = {CONF_POWER_SIGN: "discharge_positive", CONF_LAYOUT: "v12", CONF_CAPACITY_KWH: 5.12}


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def start_sim() -> AsyncIterator[Callable[..., Any]]:
    """Start simulators presenting a profile on loopback; stop them all."""
    started: list[SimulatedBattery] = []

    async def factory(profile: str, serial: str, **settings: Any) -> SimulatedBattery:
        battery = SimulatedBattery(
            SimConfig(serial=serial, model="Sim", noise_w=0.0, max_charge_w=2500, max_discharge_w=2500),
            presentation=make_presentation(profile, settings),
        )
        await battery.start(host="127.0.0.1", port=0)
        started.append(battery)
        return battery

    yield factory
    for battery in started:
        await battery.stop()
    await let_sockets_settle()


def _connection(port: int, profile: str) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "unit_id": 1, CONF_PROFILE: profile}


async def _modbus_step(hass: HomeAssistant, port: int, profile: str) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": KIND_MODBUS})
    return dict(await hass.config_entries.flow.async_configure(result["flow_id"], _connection(port, profile)))


def _registered(hass: HomeAssistant, entry_id: str) -> set[str]:
    return {
        e.unique_id.split("_", 1)[1] for e in er.async_entries_for_config_entry(er.async_get(hass), entry_id)
    }


async def test_sunspec_flow_entities_and_a_controller_run(hass: HomeAssistant, start_sim: Start) -> None:
    battery = await start_sim("sunspec", "SS-FLOW1")
    result = await _modbus_step(hass, battery.port, "sunspec")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "sunspec"  # the sign of model 802's W is a setting
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_POWER_SIGN: "discharge_positive"}
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Sim SS-FLOW1"
    assert result["data"][CONF_PROFILE] == "sunspec"
    assert result["data"][CONF_PROFILE_SETTINGS] == {CONF_POWER_SIGN: "discharge_positive"}
    entry = result["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    keys = _registered(hass, entry.entry_id)
    # SunSpec storage has no reactive power, temperature or energy counters: no entities for them.
    assert {"state_of_charge", "active_power", "battery_voltage", "backup_reserve", "power_setpoint"} <= keys
    assert not keys & {"reactive_power", "reactive_power_setpoint", "battery_temperature", "charge_energy"}
    soc = hass.states.get(entity_id(hass, "sensor", "state_of_charge", "SS-FLOW1"))
    assert soc is not None
    assert soc.state == "50.0"

    # A controller run: an override goes through the reconciler to the SunSpec registers.
    controller = entry.runtime_data.controller
    await controller.async_set_override(Setpoints(mode=Mode.FORCE_DISCHARGE, power_w=1500, reserve_pct=25))
    await hass.async_block_till_done()
    assert (battery.model.mode, battery.model.power_setpoint_w, battery.model.reserve_pct) == (2, 1500, 25)
    assert _last_result(controller) is Result.SUCCESS
    await entry.runtime_data.coordinator.async_refresh()
    assert controller.in_sync
    writes = battery.write_count
    await controller.async_reconcile_now()
    assert battery.write_count == writes  # in sync: nothing to write
    with pytest.raises(HomeAssistantError) as refused:
        await controller.async_set_override(Setpoints(reactive_var=500))
    assert refused.value.translation_key == "field_not_supported"
    assert controller.override is not None
    assert controller.override.setpoints.reactive_var is None  # refused, not stored
    with pytest.raises(HomeAssistantError, match="reactive_var"):
        await hass.services.async_call(
            DOMAIN,
            "set_override",
            {"device_id": _device_id(hass, "SS-FLOW1", entry.entry_id), "reactive_var": 100},
            blocking=True,
        )
    assert battery.write_count == writes
    diag = await async_get_config_entry_diagnostics(hass, entry)
    json.dumps(diag)
    assert diag["device"]["capabilities"]["reactive_power"] is False
    assert diag["device"]["capabilities"]["modes"] == ["auto", "force_charge", "force_discharge", "idle"]
    await hass.config_entries.async_unload(entry.entry_id)


async def test_marstek_flow_and_a_controller_run(hass: HomeAssistant, start_sim: Start) -> None:
    battery = await start_sim("marstek", "MST-FLOW1")
    result = await _modbus_step(hass, battery.port, "marstek")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "marstek"
    result = dict(await hass.config_entries.flow.async_configure(result["flow_id"], MARSTEK))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_PROFILE_SETTINGS] == MARSTEK
    entry = result["result"]
    await hass.async_block_till_done()
    keys = _registered(hass, entry.entry_id)
    assert {
        "state_of_charge",
        "active_power",
        "battery_temperature",
        "power_setpoint",
        "operating_mode",
    } <= keys
    assert not keys & {"backup_reserve", "reactive_power", "reactive_power_setpoint", "charge_energy"}
    # No reserve control, so nothing to desire either (a Desired backup reserve would never move).
    assert "desired_reserve" not in keys
    assert "desired_mode" in keys
    await hass.services.async_call(
        "select",
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: entity_id(hass, "select", "operating_mode", "MST-FLOW1"), ATTR_OPTION: "idle"},
        blocking=True,
    )
    assert battery.model.mode == 3
    assert _last_result(entry.runtime_data.controller) is Result.SUCCESS
    assert "plant_enabled" not in keys  # a Marstek cannot be disabled
    # Safe stop skips the disable step on a device that cannot be disabled, and says so; a
    # source switch (which safe-stops first) then goes ahead.
    controller = entry.runtime_data.controller
    result = (await controller.async_safe_stop(timeout_s=5)).as_dict()
    assert result["threshold_reached"] is True
    assert result["disable_supported"] is False
    assert result["disable_ok"] is False
    await controller.async_set_source("api")
    assert controller.source == "api"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_marstek_step_connection_error_returns_to_connection(
    hass: HomeAssistant, start_sim: Start, closed_port: int
) -> None:
    result = await _modbus_step(hass, closed_port, "marstek")
    result = dict(await hass.config_entries.flow.async_configure(result["flow_id"], MARSTEK))
    assert result["step_id"] == "modbus"
    assert result["errors"] == {"base": "cannot_connect"}
    battery = await start_sim("marstek", "MST-FLOW2")
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], _connection(battery.port, "marstek")
        )
    )
    assert result["step_id"] == "marstek"
    result = dict(await hass.config_entries.flow.async_configure(result["flow_id"], MARSTEK))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(result["result"].entry_id)


async def test_custom_map_flow_errors_then_text(hass: HomeAssistant, start_sim: Start) -> None:
    battery = await start_sim("custom", "ACME-TXT", map=parse(GOOD_MAP))
    result = await _modbus_step(hass, battery.port, "custom")
    assert result["step_id"] == "custom_map"
    flow_id = result["flow_id"]
    result = dict(await hass.config_entries.flow.async_configure(flow_id, {}))
    assert result["errors"] == {"base": "map_source"}
    result = dict(
        await hass.config_entries.flow.async_configure(flow_id, {CONF_REGISTER_MAP: "registers: [\n"})
    )
    assert result["errors"] == {"base": "map_yaml"}
    assert "line" in result["description_placeholders"]
    bad = GOOD_MAP.replace("address: 1001", "address: 1000")
    result = dict(await hass.config_entries.flow.async_configure(flow_id, {CONF_REGISTER_MAP: bad}))
    assert result["errors"] == {"base": "map_overlap"}
    assert result["description_placeholders"] == {
        "path": "registers[3].address",
        "other": "soc_pct",
        "docs_url": docs_url("supported-devices.md"),
    }
    assert battery.request_count == 0  # nothing is read until the map is valid
    result = dict(await hass.config_entries.flow.async_configure(flow_id, {CONF_REGISTER_MAP: GOOD_MAP}))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.options == {CONF_REGISTER_MAP: GOOD_MAP}
    assert (await async_get_config_entry_diagnostics(hass, entry))["entry"]["options"] == {
        CONF_REGISTER_MAP: "**REDACTED**"
    }
    assert entry.title == "Home 10 ACME-TXT"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    keys = _registered(hass, entry.entry_id)
    assert {"backup_reserve", "power_setpoint", "battery_voltage", "battery_temperature"} <= keys
    assert not keys & {"reactive_power", "reactive_power_setpoint", "charge_energy"}
    await hass.config_entries.async_unload(entry.entry_id)


async def test_custom_map_from_file(hass: HomeAssistant, start_sim: Start, tmp_path: Path) -> None:
    hass.config.config_dir = str(tmp_path)
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "acme.yaml").write_text(GOOD_MAP)
    (tmp_path.parent / "outside.yaml").write_text(GOOD_MAP)
    battery = await start_sim("custom", "ACME-FILE", map=parse(GOOD_MAP))
    result = await _modbus_step(hass, battery.port, "custom")
    flow_id = result["flow_id"]
    for file, code in (("../outside.yaml", "map_file_outside"), ("maps/none.yaml", "map_file_unreadable")):
        result = dict(await hass.config_entries.flow.async_configure(flow_id, {CONF_REGISTER_MAP_FILE: file}))
        assert result["errors"] == {"base": code}
        assert result["description_placeholders"]["file"] == file
    result = dict(
        await hass.config_entries.flow.async_configure(
            flow_id, {CONF_REGISTER_MAP_FILE: "maps/acme.yaml", CONF_REGISTER_MAP: GOOD_MAP}
        )
    )
    assert result["errors"] == {"base": "map_source"}
    result = dict(
        await hass.config_entries.flow.async_configure(flow_id, {CONF_REGISTER_MAP_FILE: "maps/acme.yaml"})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    # A map file that turns invalid: the entry does not load and nothing is polled.
    await hass.config_entries.async_unload(entry.entry_id)
    (tmp_path / "maps" / "acme.yaml").write_text("registers: []\nmax_charge_w: 1\nmax_discharge_w: 1\n")
    reads = battery.read_count
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert battery.read_count == reads

    # The options flow says precisely what is wrong, and accepts a fixed map.
    result = dict(await options_step(hass, entry.entry_id, "settings"))
    options = {
        "poll_interval": 10,
        "patrol_interval_min": 15,
        "fight_max_corrections": 3,
        "fight_window_min": 60,
        "verify_timeout_s": 60,
        "journal_size": 1000,
    }
    result = dict(
        await hass.config_entries.options.async_configure(
            result["flow_id"],
            {**settings_input(options), "register_map_source": {CONF_REGISTER_MAP_FILE: "maps/acme.yaml"}},
        )
    )
    assert result["errors"] == {"base": "map_missing_field"}
    assert result["description_placeholders"]["field"] == "soc_pct"
    result = dict(
        await hass.config_entries.options.async_configure(
            result["flow_id"],
            {**settings_input(options), "register_map_source": {CONF_REGISTER_MAP: GOOD_MAP}},
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure_keeps_the_profile(hass: HomeAssistant, start_sim: Start) -> None:
    battery = await start_sim("custom", "ACME-RECONF", map=parse(GOOD_MAP))
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="ACME-RECONF",
        data={"kind": KIND_MODBUS, "serial": "ACME-RECONF", **_connection(battery.port, "custom")},
        options={CONF_REGISTER_MAP: "not: [a map"},
    )
    entry.add_to_hass(hass)
    result = dict(await entry.start_reconfigure_flow(hass))
    # The register map is not offered: it cannot change here (add the battery again for another).
    assert CONF_PROFILE not in result["data_schema"].schema
    address = {k: v for k, v in _connection(battery.port, "custom").items() if k != CONF_PROFILE}
    result = dict(await hass.config_entries.flow.async_configure(result["flow_id"], address))
    assert result["errors"] == {"base": "map_invalid"}
    hass.config_entries.async_update_entry(entry, options={CONF_REGISTER_MAP: GOOD_MAP})
    result = dict(await hass.config_entries.flow.async_configure(result["flow_id"], address))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(entry.entry_id)


def _last_result(controller: Any) -> Result | None:
    last = controller.journal.last
    return None if last is None else last.result


def _device_id(hass: HomeAssistant, serial: str, entry_id: str) -> str:
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, serial), entry_id)
    assert device is not None
    return device.id


async def test_schedule_field_the_device_lacks_is_left_out(hass: HomeAssistant, start_sim: Start) -> None:
    """An item sets a reserve a Marstek has no register for: the rest is written, the journal says why."""
    battery = await start_sim("marstek", "MST-ITEM1")
    always = {
        "type": "window",
        "name": "All day",
        "weekdays": [0, 1, 2, 3, 4, 5, 6],
        "start": "00:00:00",
        "end": "23:59:59",
        "tz": "UTC",
        "setpoints": {"mode": "force_discharge", "power_w": 800, "reserve_pct": 30},
    }
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Marstek",
        unique_id="MST-ITEM1",
        data={
            "kind": KIND_MODBUS,
            "serial": "MST-ITEM1",
            **_connection(battery.port, "marstek"),
            CONF_PROFILE_SETTINGS: MARSTEK,
        },
        subentries_data=[
            ConfigSubentryData(data=always, subentry_type=SUBENTRY_ITEM, title="All day", unique_id=None)
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    controller = entry.runtime_data.controller
    await controller.async_reconcile_now()
    await hass.async_block_till_done()
    assert (battery.model.mode, battery.model.power_setpoint_w) == (2, 800)
    last = controller.journal.last
    assert last is not None
    assert last.result is Result.SUCCESS
    assert last.note == "the device cannot set reserve_pct"
    await entry.runtime_data.coordinator.async_refresh()
    assert controller.in_sync
    await hass.config_entries.async_unload(entry.entry_id)


def test_manifest_matches_fronius_like_core() -> None:
    """Fronius inverters announce themselves with their DHCP OUI; core's fronius matches the same."""
    ours = json.loads((ROOT / "custom_components" / "battery_steward" / "manifest.json").read_text())
    core = json.loads(
        (Path(homeassistant.__file__).parent / "components" / "fronius" / "manifest.json").read_text()
    )
    assert ours["dhcp"] == core["dhcp"] == [{"macaddress": "0003AC*"}]


async def test_fronius_dhcp_discovery_leads_to_sunspec(hass: HomeAssistant, start_sim: Start) -> None:
    battery = await start_sim("sunspec", "SS-DHCP1")
    info = DhcpServiceInfo(ip="127.0.0.1", hostname="fronius-inverter", macaddress="0003ac1a2b3c")
    result: dict[str, Any] = dict(
        await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_DHCP}, data=info)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "dhcp_confirm"
    assert result["description_placeholders"]["host"] == "127.0.0.1"
    # A wrong port first: back to the Modbus form, the address and SunSpec kept.
    result = dict(
        await hass.config_entries.flow.async_configure(result["flow_id"], {"port": 1, "unit_id": 1})
    )
    assert result["step_id"] == "modbus"
    assert result["errors"] == {"base": "cannot_connect"}
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], _connection(battery.port, "sunspec")
        )
    )
    # SunSpec leaves the sign of the battery power open: the form asks (Fronius's by default).
    assert result["step_id"] == "sunspec"
    result = dict(await hass.config_entries.flow.async_configure(result["flow_id"], {}))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_PROFILE] == "sunspec"
    entry = result["result"]
    await hass.async_block_till_done()
    # The same inverter announcing itself again is already configured.
    again = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_DHCP}, data=info)
    assert again["type"] is FlowResultType.ABORT
    assert again["reason"] == "already_configured"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_fronius_dhcp_confirm_identifies_with_sunspec(hass: HomeAssistant, start_sim: Start) -> None:
    battery = await start_sim("sunspec", "SS-DHCP2")
    info = DhcpServiceInfo(ip="127.0.0.1", hostname="fronius-inverter", macaddress="0003ac1a2b3d")
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_DHCP}, data=info)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"port": battery.port, "unit_id": 1}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["host"] == "127.0.0.1"
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(result["result"].entry_id)


def _known_inverter(hass: HomeAssistant, serial: str, port: int) -> MockConfigEntry:
    """A SunSpec entry (not set up) whose inverter was at another address."""
    known = MockConfigEntry(
        domain=DOMAIN,
        unique_id=serial,
        data={"kind": KIND_MODBUS, "serial": serial, **_connection(port, "sunspec"), "host": "old.invalid"},
    )
    known.add_to_hass(hass)
    return known


async def _discovered(hass: HomeAssistant, mac: str) -> ConfigFlowResult:
    """A Fronius inverter (its OUI) announcing itself at 127.0.0.1."""
    info = DhcpServiceInfo(ip="127.0.0.1", hostname="fronius-inverter", macaddress=mac)
    return await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_DHCP}, data=info)


async def test_fronius_dhcp_updates_the_address_of_a_known_inverter(
    hass: HomeAssistant, start_sim: Start
) -> None:
    battery = await start_sim("sunspec", "SS-DHCP3")
    known = _known_inverter(hass, "SS-DHCP3", battery.port)
    result = await _discovered(hass, "0003ac1a2b3e")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert known.data["host"] == "127.0.0.1"
    await hass.async_block_till_done()
    if known.state is ConfigEntryState.LOADED:
        await hass.config_entries.async_unload(known.entry_id)


async def test_fronius_dhcp_of_a_new_inverter_beside_a_known_one(
    hass: HomeAssistant, start_sim: Start
) -> None:
    """The new one answers where a known inverter's port is, with another serial: it is offered."""
    battery = await start_sim("sunspec", "SS-DHCP4")
    known = _known_inverter(hass, "SS-OTHER", battery.port)
    result = await _discovered(hass, "0003ac1a2b3f")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "dhcp_confirm"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"port": battery.port, "unit_id": 1}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == "SS-DHCP4"
    assert known.data["host"] == "old.invalid"
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(result["result"].entry_id)


async def test_sunspec_power_sign_from_the_flow(hass: HomeAssistant, start_sim: Start) -> None:
    """A device whose 802 W counts charging as positive reads right once the flow says so."""
    battery = await start_sim("sunspec", "SS-SIGN1", power_sign="charge_positive")
    result = await _modbus_step(hass, battery.port, "sunspec")
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_POWER_SIGN: "charge_positive"}
        )
    )
    entry = result["result"]
    await hass.async_block_till_done()
    await entry.runtime_data.controller.async_set_override(Setpoints(mode=Mode.FORCE_CHARGE, power_w=-1000))
    await hass.async_block_till_done()
    battery.model.advance(60)
    await entry.runtime_data.coordinator.async_refresh()
    assert entry.runtime_data.coordinator.data.active_power_w == pytest.approx(-1000, abs=1)
    await hass.config_entries.async_unload(entry.entry_id)


HOSTILE_MAPS: dict[str, tuple[str, str, dict[str, str]]] = {
    # A 4000-digit integer: float() overflowed in validation, an unknown error in the flow.
    "huge integer": (
        GOOD_MAP.replace("max_charge_w: 4000", "max_charge_w: " + "9" * 4000),
        "map_number_too_long",
        {"chars": "24"},
    ),
    "huge float": (
        GOOD_MAP.replace("capacity_kwh: 9.5", "capacity_kwh: 1" + "0" * 40 + ".5"),
        "map_number_too_long",
        {},
    ),
    # Deep nesting took seconds of the event loop.
    "deep nesting": ("registers: " + "[" * 20_000 + "]" * 20_000, "map_too_deep", {"depth": "8"}),
    "too long": ("# " + "x" * 100_001, "map_too_long", {"chars": "100000"}),
}


@pytest.mark.parametrize("case", list(HOSTILE_MAPS))
async def test_hostile_register_maps_are_form_errors_parsed_off_the_loop(
    hass: HomeAssistant, start_sim: Start, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    text, code, placeholders = HOSTILE_MAPS[case]
    threads: list[bool] = []

    def recording_parse(document: str) -> Any:
        threads.append(threading.current_thread() is threading.main_thread())
        return parse(document)

    monkeypatch.setattr(register_map_module, "parse", recording_parse)
    battery = await start_sim("custom", "ACME-BAD", map=parse(GOOD_MAP))
    result = await _modbus_step(hass, battery.port, "custom")
    started = time.monotonic()
    result = dict(
        await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_REGISTER_MAP: text})
    )
    assert time.monotonic() - started < 2.0
    assert result["errors"] == {"base": code}
    assert placeholders.items() <= result["description_placeholders"].items()
    assert "line" in result["description_placeholders"] or code == "map_too_long"
    assert threads == [False]  # parsed in the executor, never on the event loop
    assert battery.request_count == 0
