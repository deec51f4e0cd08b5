"""Entity bridge end to end: real input_number, input_select and template entities stand in for
another integration's backup-reserve number, operation-mode select and SoC/power sensors."""

from collections.abc import AsyncIterator
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import CoreState, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.bridge import BridgeConfig, EntityBridgeDriver
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
from custom_components.battery_steward.device.driver import (
    DeviceConnectionError,
    DeviceResponseError,
    UnsupportedFieldError,
)
from custom_components.battery_steward.diagnostics import async_get_config_entry_diagnostics
from custom_components.battery_steward.engine.journal import Result, Trigger
from custom_components.battery_steward.engine.state import Mode, Setpoints

from . import conftest
from .conftest import NIGHT, START, Tick
from .helpers import controller, device_id, entity_id, freeze_at, setup_entry

SERIAL = "bridge-sensor.powerwall_charge"

RESERVE = "input_number.backup_reserve"
MODE = "input_select.operation_mode"
SOC = "sensor.powerwall_charge"
POWER = "sensor.powerwall_battery_power"
OPTIONS = ["Self-Powered", "Backup", "Time-Based Control", "Charge Now"]
MAPPING = {"auto": "Self-Powered", "idle": "Backup", "force_charge": "Charge Now"}

# The shared evening peak, also forcing a charge (a mode the stand-in select maps).
PEAK = {**conftest.PEAK, "setpoints": {"reserve_pct": 80, "mode": "force_charge"}}


def bridge_data(**overrides: Any) -> dict[str, Any]:
    """Config entry data of a bridge over the stand-in entities."""
    return {
        CONF_KIND: KIND_BRIDGE,
        CONF_SERIAL: SERIAL,
        CONF_SOC_ENTITY: SOC,
        CONF_POWER_ENTITY: POWER,
        CONF_POWER_CHARGE_POSITIVE: True,
        CONF_RESERVE_ENTITY: RESERVE,
        CONF_MODE_ENTITY: MODE,
        CONF_MODE_OPTIONS: MAPPING,
        CONF_RATED_POWER_W: 5000,
        **overrides,
    }


async def setup_sources(hass: HomeAssistant) -> None:
    """The "other integration": a reserve number, a mode select, SoC and power (kW, + charging)."""
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"online": {"initial": True}}}
    )
    assert await async_setup_component(
        hass,
        "input_number",
        {
            "input_number": {
                "backup_reserve": {"min": 5, "max": 100, "step": 1, "initial": 20},
                "soc_value": {"min": 0, "max": 100, "step": 0.1, "initial": 55},
                "power_value": {"min": -10, "max": 10, "step": 0.01, "initial": 0},
            }
        },
    )
    assert await async_setup_component(
        hass,
        "input_select",
        {"input_select": {"operation_mode": {"options": OPTIONS, "initial": OPTIONS[0]}}},
    )
    online = "{{ is_state('input_boolean.online', 'on') }}"
    assert await async_setup_component(
        hass,
        "template",
        {
            "template": [
                {
                    "sensor": [
                        {
                            "name": "Powerwall charge",
                            "state": "{{ states('input_number.soc_value') }}",
                            "unit_of_measurement": "%",
                            "device_class": "battery",
                            "availability": online,
                        },
                        {
                            "name": "Powerwall battery power",
                            "state": "{{ states('input_number.power_value') }}",
                            "unit_of_measurement": "kW",
                            "device_class": "power",
                            "availability": online,
                        },
                    ]
                }
            ]
        },
    )
    await hass.async_block_till_done()


@pytest.fixture
def items() -> list[dict[str, Any]]:
    return [PEAK, NIGHT]


@pytest.fixture
async def entry(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    items: list[dict[str, Any]],
    options: dict[str, Any],
) -> AsyncIterator[MockConfigEntry]:
    await freeze_at(hass, freezer, START)
    await setup_sources(hass)
    entry = await setup_entry(
        hass,
        bridge_data(),
        title="Powerwall (bridge)",
        unique_id=SERIAL,
        options=options,
        items=items,
        wait="background",
    )
    yield entry
    if entry.state is ConfigEntryState.LOADED:
        await hass.config_entries.async_unload(entry.entry_id)


def state(hass: HomeAssistant, entity: str) -> str:
    found = hass.states.get(entity)
    assert found is not None
    return found.state


async def set_number(hass: HomeAssistant, entity: str, value: float) -> None:
    await hass.services.async_call(
        "input_number", "set_value", {"entity_id": entity, "value": value}, blocking=True
    )


async def select(hass: HomeAssistant, option: str) -> None:
    await hass.services.async_call(
        "input_select", "select_option", {"entity_id": MODE, "option": option}, blocking=True
    )


async def set_online(hass: HomeAssistant, online: bool) -> None:
    await hass.services.async_call(
        "input_boolean",
        "turn_on" if online else "turn_off",
        {"entity_id": "input_boolean.online"},
        blocking=True,
    )


async def test_reads_sources_and_offers_only_what_it_can_write(
    hass: HomeAssistant, entry: MockConfigEntry, tick: Tick
) -> None:
    assert state(hass, entity_id(hass, "sensor", "state_of_charge", SERIAL)) == "55.0"
    await set_number(hass, "input_number.power_value", 1.5)  # 1.5 kW charging at the source
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state(hass, entity_id(hass, "sensor", "active_power", SERIAL)) == "-1500.0"
    assert state(hass, entity_id(hass, "number", "backup_reserve", SERIAL)) == "20.0"
    mode_select = hass.states.get(entity_id(hass, "select", "operating_mode", SERIAL))
    assert mode_select is not None
    assert mode_select.state == "auto"
    assert mode_select.attributes["options"] == ["auto", "force_charge", "idle"]
    registry = er.async_get(hass)
    for platform, key in (
        ("number", "power_setpoint"),
        ("number", "reactive_power_setpoint"),
        ("sensor", "reactive_power"),
        ("sensor", "battery_voltage"),
        ("select", "transport"),
    ):
        assert registry.async_get_entity_id(platform, DOMAIN, f"{SERIAL}_{key}") is None, key
    number = hass.states.get(entity_id(hass, "number", "backup_reserve", SERIAL))
    assert number is not None
    assert number.attributes["min"] == 5  # the source number's range
    # An option no mode is mapped to reads as an unknown mode (left alone: reconciliation off).
    controller(entry).async_set_reconciliation(False)
    await select(hass, "Time-Based Control")
    await tick(2)
    assert state(hass, entity_id(hass, "select", "operating_mode", SERIAL)) == "unknown"


async def test_schedule_writes_the_source_entities(
    hass: HomeAssistant, entry: MockConfigEntry, tick: Tick
) -> None:
    ctl = controller(entry)
    assert ctl.next_change == START.replace(hour=19, minute=0)
    await tick(60)
    assert state(hass, RESERVE) == "80.0"
    assert state(hass, MODE) == "Charge Now"
    record = ctl.journal.last
    assert record is not None
    assert record.trigger is Trigger.SCHEDULE
    assert record.result is Result.SUCCESS
    assert record.fields == {"reserve_pct": (20.0, 80.0), "mode": ("auto", "force_charge")}
    assert state(hass, entity_id(hass, "binary_sensor", "in_sync", SERIAL)) == "on"
    await tick(3 * 3600)
    assert state(hass, RESERVE) == "20.0"
    assert state(hass, MODE) == "Self-Powered"


async def test_tampering_is_corrected(hass: HomeAssistant, entry: MockConfigEntry, tick: Tick) -> None:
    await tick(60)
    await set_number(hass, RESERVE, 50)
    await select(hass, "Time-Based Control")
    await tick(20)
    assert state(hass, RESERVE) == "80.0"
    assert state(hass, MODE) == "Charge Now"
    drift = [r for r in controller(entry).journal.query() if r.trigger is Trigger.DRIFT]
    assert drift
    corrected = {name: old for record in drift for name, (old, _new) in (record.fields or {}).items()}
    assert corrected == {"reserve_pct": 50.0, "mode": None}


@pytest.mark.parametrize("options", [{"fight_max_corrections": 2, "fight_window_min": 10}])
async def test_fight_detection_on_a_bridged_number(
    hass: HomeAssistant, entry: MockConfigEntry, tick: Tick
) -> None:
    await tick(60)
    for value in (50, 60, 50):
        await set_number(hass, RESERVE, value)
        await tick(20)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"fight_{entry.entry_id}_reserve_pct")
    assert issue is not None
    await set_number(hass, RESERVE, 40)
    await tick(20)
    assert state(hass, RESERVE) == "40.0"  # no longer fought over


@pytest.mark.parametrize("items", [[NIGHT]])
async def test_override_writes_through(hass: HomeAssistant, entry: MockConfigEntry, tick: Tick) -> None:
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": entity_id(hass, "number", "backup_reserve", SERIAL), "value": 55},
        blocking=True,
    )
    assert state(hass, RESERVE) == "55.0"
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": entity_id(hass, "select", "operating_mode", SERIAL), "option": "idle"},
        blocking=True,
    )
    assert state(hass, MODE) == "Backup"
    ctl = controller(entry)
    assert ctl.override is not None
    assert ctl.override.setpoints == Setpoints(reserve_pct=55, mode=Mode.IDLE)
    await set_number(hass, RESERVE, 30)
    await tick(20)
    assert state(hass, RESERVE) == "55.0"  # the override is enforced
    await hass.services.async_call(
        DOMAIN, "clear_override", {"device_id": device_id(hass, entry, SERIAL)}, blocking=True
    )
    assert state(hass, RESERVE) == "20.0"
    assert state(hass, MODE) == "Self-Powered"


@pytest.mark.parametrize("items", [[NIGHT]])
async def test_fields_it_cannot_write_are_refused(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    dev = device_id(hass, entry, SERIAL)
    for data, field in (({"power_w": 100}, "power_w"), ({"mode": "force_discharge"}, "mode")):
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(DOMAIN, "set_override", {"device_id": dev, **data}, blocking=True)
        assert err.value.translation_key == "field_not_supported"
        assert err.value.translation_placeholders is not None
        assert err.value.translation_placeholders["field"] == field
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "set_override", {"device_id": dev, "reserve_pct": 2}, blocking=True
        )
    assert err.value.translation_key == "value_out_of_range"
    assert controller(entry).override is None
    assert state(hass, RESERVE) == "20.0"


@pytest.mark.parametrize("items", [[NIGHT]])
async def test_safe_stop_and_source_switch_on_a_bridge(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    response = await hass.services.async_call(
        DOMAIN,
        "safe_stop",
        {"device_id": device_id(hass, entry, SERIAL), "timeout_s": 5},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    result = next(iter(response.values()))
    assert isinstance(result, dict)
    assert result["threshold_reached"] is True
    # The sources have no enable flag: step 4 does not apply, and the result says so.
    assert result["disable_supported"] is False
    assert result["disable_ok"] is False
    assert state(hass, MODE) == "Backup"  # idle
    await controller(entry).async_restore()
    assert state(hass, MODE) == "Self-Powered"
    await controller(entry).async_set_source("api")
    assert controller(entry).source == "api"


async def test_unavailable_sources_make_the_battery_unavailable(
    hass: HomeAssistant, entry: MockConfigEntry, tick: Tick
) -> None:
    soc = entity_id(hass, "sensor", "state_of_charge", SERIAL)
    await set_online(hass, False)
    await tick(2)
    assert state(hass, soc) == STATE_UNAVAILABLE
    assert state(hass, entity_id(hass, "binary_sensor", "connected", SERIAL)) == "off"
    await tick(60)  # the 19:00 change cannot be written
    last = controller(entry).journal.last
    assert last is not None
    assert last.result is Result.FAILED
    await set_online(hass, True)
    await tick(2)
    assert state(hass, soc) == "55.0"
    await tick(10)  # the retry applies what was due
    assert state(hass, RESERVE) == "80.0"


async def test_missing_entity_raises_a_repair_that_clears(
    hass: HomeAssistant, entry: MockConfigEntry, tick: Tick
) -> None:
    issue_id = f"bridge_missing_entity_{entry.entry_id}_{MODE}"
    saved = hass.states.get(MODE)
    assert saved is not None
    hass.states.async_remove(MODE)
    await tick(2)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "bridge_missing_entity"
    assert state(hass, entity_id(hass, "sensor", "state_of_charge", SERIAL)) == STATE_UNAVAILABLE
    hass.states.async_set(MODE, saved.state, saved.attributes)
    await tick(2)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert state(hass, entity_id(hass, "sensor", "state_of_charge", SERIAL)) == "55.0"


async def test_missing_option_raises_a_repair_that_clears(
    hass: HomeAssistant, entry: MockConfigEntry, tick: Tick
) -> None:
    issue_id = f"bridge_missing_option_{entry.entry_id}_force_charge"
    fewer = [option for option in OPTIONS if option != "Charge Now"]
    await hass.services.async_call(
        "input_select", "set_options", {"entity_id": MODE, "options": fewer}, blocking=True
    )
    await tick(2)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders == {
        "battery": "Powerwall (bridge)",
        "entity": MODE,
        "mode": "force_charge",
        "option": "Charge Now",
    }
    await tick(60)  # 19:00 asks for force charge: refused, the reserve is still written
    failed = controller(entry).journal.last
    assert failed is not None
    assert failed.result is Result.FAILED
    assert "Charge Now" in (failed.error or "")
    assert state(hass, RESERVE) == "80.0"
    await hass.services.async_call(
        "input_select", "set_options", {"entity_id": MODE, "options": OPTIONS}, blocking=True
    )
    await tick(10)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert state(hass, MODE) == "Charge Now"  # the retry wrote it
    await hass.config_entries.async_unload(entry.entry_id)


async def test_unload_withdraws_issues(hass: HomeAssistant, entry: MockConfigEntry, tick: Tick) -> None:
    hass.states.async_remove(POWER)
    await tick(2)
    issue_id = f"bridge_missing_entity_{entry.entry_id}_{POWER}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    await hass.config_entries.async_unload(entry.entry_id)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_setup_retries_while_sources_are_unavailable(hass: HomeAssistant) -> None:
    await setup_sources(hass)
    await set_online(hass, False)
    entry = MockConfigEntry(domain=DOMAIN, title="Powerwall (bridge)", unique_id=SERIAL, data=bridge_data())
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    await hass.config_entries.async_unload(entry.entry_id)


async def test_driver_details(hass: HomeAssistant) -> None:
    """Names from the source device, a select without a mapping, bad states and refused calls."""
    await setup_sources(hass)
    config_entry = MockConfigEntry(domain="tesla_fleet")
    config_entry.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=config_entry.entry_id,
        identifiers={("tesla_fleet", "pw1")},
        manufacturer="Tesla",
        model="Powerwall 3",
    )
    registered = er.async_get(hass).async_get_or_create(
        "sensor", "tesla_fleet", "pw1_soc", device_id=device.id, suggested_object_id="pw_soc"
    )
    hass.states.async_set(registered.entity_id, "not a number")
    config = BridgeConfig(soc_entity=registered.entity_id, reserve_entity=RESERVE, mode_entity=MODE)
    driver = EntityBridgeDriver(hass, config, entry_id="x", serial="s", name="PW")
    info = await driver.identify()
    assert (info.manufacturer, info.model) == ("Tesla", "Powerwall 3")
    assert info.writable == {"reserve_pct"}  # a select without a mapping cannot be written
    caps = info.capabilities
    assert not any((caps.active_power, caps.reactive_power, caps.voltage, caps.temperature, caps.energy))
    with pytest.raises(DeviceResponseError, match="not a number"):
        await driver.read()
    with pytest.raises(UnsupportedFieldError):
        await driver.write(Setpoints(mode=Mode.AUTO))
    hass.states.async_set(registered.entity_id, "50")
    reading = await driver.read()
    assert reading.mode is None  # no mapping: no name for any option
    assert reading.active_power_w == 0.0
    hass.states.async_set(RESERVE, "unknown", {"min": 5, "max": 100})
    with pytest.raises(DeviceConnectionError, match="unknown"):
        await driver.write(Setpoints(reserve_pct=30))
    plain = EntityBridgeDriver(
        hass,
        BridgeConfig(soc_entity=registered.entity_id, reserve_entity="number.gone"),
        entry_id="y",
        serial="t",
        name="X",
    )
    assert (await plain.identify()).limits.reserve_min_pct == 0.0
    hass.states.async_set("number.gone", "20", {"min": 0, "max": 100})
    with pytest.raises(DeviceResponseError, match=r"number\.set_value"):  # no number integration loaded
        await plain.write(Setpoints(reserve_pct=30))
    await driver.close()
    await plain.close()


async def test_missing_entities_are_not_reported_while_starting(hass: HomeAssistant) -> None:
    await setup_sources(hass)
    driver = EntityBridgeDriver(
        hass,
        BridgeConfig(soc_entity="sensor.not_yet", reserve_entity=RESERVE),
        entry_id="z",
        serial="u",
        name="Z",
    )
    issue_id = "bridge_missing_entity_z_sensor.not_yet"
    hass.set_state(CoreState.starting)
    with pytest.raises(DeviceConnectionError, match="does not exist"):
        await driver.read()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    hass.set_state(CoreState.running)
    with pytest.raises(DeviceConnectionError, match="does not exist"):
        await driver.read()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    await driver.close()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


@pytest.mark.parametrize("items", [[]])
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"type": "one_off", "at": "2026-06-02T10:00:00+02:00", "power_w": -1000}, "power_w"),
        ({"type": "one_off", "at": "2026-06-02T10:00:00+02:00", "mode": "force_discharge"}, "mode"),
        (
            {
                "type": "ramp",
                "start_at": "2026-06-02T10:00:00+02:00",
                "duration_s": 600,
                "power_from_w": 0,
                "power_to_w": 1000,
            },
            "power_w",
        ),
    ],
)
async def test_items_it_cannot_apply_are_refused(
    hass: HomeAssistant, entry: MockConfigEntry, data: dict[str, Any], field: str
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "add_item",
            {"device_id": device_id(hass, entry, SERIAL), "name": "No", **data},
            blocking=True,
        )
    assert err.value.translation_key == "item_field_not_supported"
    assert err.value.translation_placeholders is not None
    assert err.value.translation_placeholders["field"] == field
    assert not entry.subentries
    response = await hass.services.async_call(
        DOMAIN,
        "add_item",
        {
            "device_id": device_id(hass, entry, SERIAL),
            "name": "Yes",
            "type": "one_off",
            "at": "2026-06-02T10:00:00+02:00",
            "reserve_pct": 30,
            "mode": "idle",
        },
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert len(entry.subentries) == 1


async def test_diagnostics_show_capabilities(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    device = diagnostics["device"]
    assert device["writable"] == ["mode", "reserve_pct"]
    assert device["capabilities"]["modes"] == ["auto", "force_charge", "idle"]
    assert device["capabilities"]["active_power"] is True
    assert not device["capabilities"]["voltage"]
    assert diagnostics["entry"]["data"][CONF_SOC_ENTITY] == SOC
