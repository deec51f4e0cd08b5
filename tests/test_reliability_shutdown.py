"""Reliability: a battery that outlives Home Assistant (issue 18).

What a clean stop or an unload does is an option: leave the battery as planned (the default), or
hand control back by writing auto mode through the runner. A Huawei battery's forced mode lives
only as long as the polls keep it alive, so its poll interval is capped at the keep-alive period.
Everything over Modbus TCP to the simulator.
"""

from datetime import timedelta
import time
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.const import (
    CONF_CAPACITY_KWH,
    CONF_MAX_POWER_W,
    CONF_ON_STOP,
    CONF_POLL_INTERVAL,
    CONF_PROFILE,
    CONF_PROFILE_SETTINGS,
    CONF_REGISTER_MAP,
    DOMAIN,
    ON_STOP_HAND_BACK,
    ON_STOP_LEAVE,
)
from custom_components.battery_steward.device.profiles.custom import parse
from custom_components.battery_steward.device.registers import MODE_CODES
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery
from custom_components.battery_steward.device.simulator.presentation import make_presentation
from custom_components.battery_steward.engine.journal import Result, Trigger

from .conftest import SERIAL, modbus_data
from .helpers import (
    controller,
    device_id,
    let_sockets_settle,
    move_to,
    options_step,
    settings_input,
    setup_entry,
)

FORCED = {"mode": "force_discharge", "power_w": 1500, "until_cleared": True}


async def _force_discharge(hass: HomeAssistant, entry_device: str, simulator: SimulatedBattery) -> None:
    await hass.services.async_call(
        DOMAIN, "set_override", {"device_id": entry_device, **FORCED}, blocking=True
    )
    assert simulator.read_register("mode") == MODE_CODES["force_discharge"]


async def _forced_hand_back_entry(hass: HomeAssistant, simulator: SimulatedBattery) -> MockConfigEntry:
    """A battery whose option is "hand control back", in a forced discharge."""
    entry = await setup_entry(
        hass, modbus_data(simulator.port), options={CONF_ON_STOP: ON_STOP_HAND_BACK}, wait="background"
    )
    await _force_discharge(hass, device_id(hass, entry), simulator)
    return entry


async def _stop(hass: HomeAssistant, entry: MockConfigEntry, how: str) -> None:
    """Unload the battery, or stop Home Assistant (which does not unload entries)."""
    if how == "unload":
        assert await hass.config_entries.async_unload(entry.entry_id)
    else:
        hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
        await hass.async_block_till_done()


@pytest.mark.parametrize("how", ["unload", "stop"])
async def test_by_default_the_battery_is_left_as_planned(
    hass: HomeAssistant, simulator: SimulatedBattery, how: str
) -> None:
    entry = await setup_entry(hass, modbus_data(simulator.port), wait="background")
    await _force_discharge(hass, device_id(hass, entry), simulator)
    written = len(simulator.writes_log)
    await _stop(hass, entry, how)
    assert len(simulator.writes_log) == written  # nothing written on the way out
    assert simulator.read_register("mode") == MODE_CODES["force_discharge"]
    if how == "stop":
        await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize("how", ["unload", "stop"])
async def test_hand_control_back_writes_auto_through_the_runner(
    hass: HomeAssistant, simulator: SimulatedBattery, how: str
) -> None:
    entry = await _forced_hand_back_entry(hass, simulator)
    journal = controller(entry).journal
    written = len(simulator.writes_log)
    await _stop(hass, entry, how)
    handed_back = {(w.name, w.value) for w in simulator.writes_log[written:]}
    assert handed_back == {("mode", MODE_CODES["auto"]), ("power_setpoint_w", 0)}
    assert simulator.read_register("mode") == MODE_CODES["auto"]
    last = journal.last
    assert last is not None
    assert (last.trigger, last.result) == (Trigger.MANUAL, Result.SUCCESS)
    assert last.note == "stopping: control handed back (auto)"
    if how == "stop":
        await hass.config_entries.async_unload(entry.entry_id)
        assert len(simulator.writes_log) == written + 2  # handed back once


async def test_hand_back_writes_nothing_while_dispatch_is_off(
    hass: HomeAssistant, simulator: SimulatedBattery
) -> None:
    entry = await _forced_hand_back_entry(hass, simulator)
    controller(entry).async_set_dispatch(False)
    await hass.async_block_till_done(wait_background_tasks=True)
    journal = controller(entry).journal
    written = len(simulator.writes_log)
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert len(simulator.writes_log) == written
    assert simulator.read_register("mode") == MODE_CODES["force_discharge"]
    last = journal.last
    assert last is not None
    assert last.result is Result.SKIPPED


async def test_hand_back_failure_is_journaled_and_the_stop_goes_on(
    hass: HomeAssistant, simulator: SimulatedBattery
) -> None:
    entry = await _forced_hand_back_entry(hass, simulator)
    journal = controller(entry).journal
    await simulator.stop()  # the battery is gone when Home Assistant stops
    assert await hass.config_entries.async_unload(entry.entry_id)
    last = journal.last
    assert last is not None
    assert last.result is Result.FAILED
    assert last.note == "stopping: control handed back (auto)"


async def test_the_option_is_chosen_in_the_options_flow(
    hass: HomeAssistant, simulator: SimulatedBattery
) -> None:
    entry = await setup_entry(hass, modbus_data(simulator.port), wait="background")
    result = await options_step(hass, entry.entry_id, "settings")
    assert result["type"] is FlowResultType.FORM
    schema = result["data_schema"]
    assert schema is not None
    # In the Safe stop section of Configure → Settings.
    (safe_stop,) = (value for key, value in schema.schema.items() if str(key) == "safe_stop")
    defaults = {str(key): key.default() for key in safe_stop.schema.schema if str(key) == CONF_ON_STOP}
    assert defaults == {CONF_ON_STOP: ON_STOP_LEAVE}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], settings_input({CONF_ON_STOP: ON_STOP_HAND_BACK})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)  # reloaded with the option
    assert controller(entry).settings.hand_back_on_stop
    await _force_discharge(hass, device_id(hass, entry), simulator)
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert simulator.read_register("mode") == MODE_CODES["auto"]


async def test_a_huawei_battery_is_polled_within_its_keep_alive(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Asked to poll every 120 s, a Huawei entry polls every 30 s: the forcible command (2 minute
    period on the device) is rewritten every 30 s and the battery stays forced."""
    battery = SimulatedBattery(
        SimConfig(serial=SERIAL, model="SUN2000-5KTL", noise_w=0.0), presentation=make_presentation("huawei")
    )
    await battery.start(host="127.0.0.1", port=0)
    try:
        entry = await setup_entry(
            hass,
            modbus_data(battery.port, **{CONF_PROFILE: "huawei"}),
            options={CONF_POLL_INTERVAL: 120},
            wait="background",
        )
        coordinator = entry.runtime_data.coordinator
        assert coordinator.update_interval == timedelta(seconds=30)
        hold = {"device_id": device_id(hass, entry), "mode": "force_charge", "power_w": -2000}
        await hass.services.async_call(DOMAIN, "set_override", {**hold, "until_cleared": True}, blocking=True)
        start = freezer()
        commands_before = sum(w.name == "command" for w in battery.writes_log)
        for step in range(1, 11):  # 5 minutes, more than twice the device's 2 minute period
            await move_to(hass, freezer, start + timedelta(seconds=30 * step))
        battery.sync()
        presentation = battery.presentation
        assert getattr(presentation, "expired", None) == 0  # the device's watchdog never fired
        assert battery.model.mode == 1  # still charging
        rewrites = sum(w.name == "command" for w in battery.writes_log) - commands_before
        assert rewrites >= 9  # 47100 rewritten every 30 s
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await battery.stop()
        await let_sockets_settle()


async def test_a_profile_without_keep_alive_polls_as_asked(
    hass: HomeAssistant, simulator: SimulatedBattery
) -> None:
    entry = await setup_entry(
        hass, modbus_data(simulator.port), options={CONF_POLL_INTERVAL: 120}, wait="background"
    )
    assert entry.runtime_data.coordinator.update_interval == timedelta(seconds=120)
    await hass.config_entries.async_unload(entry.entry_id)


VENDOR_SETTINGS: dict[str, dict[str, Any]] = {
    "sunspec": {},
    "marstek": {},
    "huawei": {},
    "sungrow": {},
    "victron": {CONF_CAPACITY_KWH: 15.0, CONF_MAX_POWER_W: 4000},
}


@pytest.mark.parametrize("profile", list(VENDOR_SETTINGS))
@pytest.mark.parametrize("on_stop", [ON_STOP_LEAVE, ON_STOP_HAND_BACK])
async def test_each_profile_on_a_clean_stop(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, profile: str, on_stop: str
) -> None:
    """Forced discharge, then Home Assistant stops: each vendor's simulator, as its source describes it,
    keeps the forced mode (leave) or runs itself again in auto (hand back)."""
    battery = SimulatedBattery(
        SimConfig(serial=SERIAL, model="SUN2000-5KTL", noise_w=0.0),
        presentation=make_presentation(profile),
        unit=100 if profile == "victron" else 1,
        clock=time.monotonic,  # the frozen clock (freezegun has patched it by now)
    )
    await battery.start(host="127.0.0.1", port=0)
    try:
        data = modbus_data(
            battery.port, **{CONF_PROFILE: profile, CONF_PROFILE_SETTINGS: VENDOR_SETTINGS[profile]}
        )
        entry = await setup_entry(hass, data, options={CONF_ON_STOP: on_stop}, wait="background")
        await hass.services.async_call(
            DOMAIN, "set_override", {"device_id": device_id(hass, entry), **FORCED}, blocking=True
        )
        battery.sync()
        assert battery.model.mode == MODE_CODES["force_discharge"]
        hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
        await hass.async_block_till_done()
        battery.sync()
        if on_stop == ON_STOP_LEAVE:
            assert battery.model.mode == MODE_CODES["force_discharge"]
        else:
            battery.set_control("site_load_w", 300)
            freezer.tick(timedelta(seconds=30))
            battery.sync()
            # The battery's own self-consumption: it covers the house load, nothing more.
            assert battery.model.active_power_w == pytest.approx(300, abs=1)
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await battery.stop()
        await let_sockets_settle()


POWER_ONLY_MAP = f"""
manufacturer: Acme
model: Power only
serial: {SERIAL}
max_charge_w: 5000
max_discharge_w: 5000
registers:
  - {{field: soc_pct, address: 100, type: u16, scale: 0.1}}
  - {{field: active_power_w, address: 101, type: i16}}
  - {{field: power_w, address: 201, type: i16, access: read_write}}
"""


async def test_a_device_that_cannot_be_told_auto_is_left_as_it_is(hass: HomeAssistant) -> None:
    """A custom map without a mode register (always in its own mode): nothing is written."""
    battery = SimulatedBattery(
        SimConfig(serial=SERIAL, noise_w=0.0),
        presentation=make_presentation("custom", {"map": parse(POWER_ONLY_MAP)}),
    )
    await battery.start(host="127.0.0.1", port=0)
    try:
        entry = await setup_entry(
            hass,
            modbus_data(battery.port, **{CONF_PROFILE: "custom"}),
            options={CONF_REGISTER_MAP: POWER_ONLY_MAP, CONF_ON_STOP: ON_STOP_HAND_BACK},
            wait="background",
        )
        journal = controller(entry).journal
        written = len(battery.writes_log)
        assert await hass.config_entries.async_unload(entry.entry_id)
        assert len(battery.writes_log) == written
        last = journal.last
        assert last is not None
        assert (last.result, last.note) == (Result.SKIPPED, "stopping: no auto mode to hand back to")
    finally:
        await battery.stop()
        await let_sockets_settle()
