"""Dispatch gate, safe stop and restore, against the simulator in real time (fast physics)."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
import logging
import random
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.controller import STALE_NOTE, BatteryController, PlantState
from custom_components.battery_steward.device.registers import MODE_CODES
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery
from custom_components.battery_steward.engine.journal import JournalRecord, Result

from .conftest import SERIAL, modbus_data
from .helpers import controller, device_id, entity_id, let_sockets_settle, setup_entry, simulator_data


@pytest.fixture
def sim_config() -> SimConfig:
    """Fast physics: measured power follows within a fraction of a second."""
    return SimConfig(serial=SERIAL, noise_w=0.0, tau_s=0.05)


@pytest.fixture
async def entry(hass: HomeAssistant, simulator: SimulatedBattery) -> AsyncIterator[MockConfigEntry]:
    entry = await setup_entry(hass, modbus_data(simulator.port))
    yield entry
    if entry.state.name == "LOADED":
        await hass.config_entries.async_unload(entry.entry_id)


async def discharge(hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery) -> None:
    await hass.services.async_call(
        DOMAIN,
        "set_override",
        {
            "device_id": device_id(hass, entry),
            "mode": "force_discharge",
            "power_w": 2000,
            "reactive_var": 500,
        },
        blocking=True,
    )
    for _ in range(100):
        if float(simulator.read_register("active_power_w")) > 1900:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the simulator did not start discharging")


async def wait_for_power(simulator: SimulatedBattery, target_w: float) -> None:
    """Until the measured active power is within 5 % of the rating of target_w."""
    for _ in range(100):
        if abs(float(simulator.read_register("active_power_w")) - target_w) < 250:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"measured power {simulator.read_register('active_power_w')} W, not {target_w} W")


async def safe_stop(hass: HomeAssistant, entry: MockConfigEntry, **data: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN,
        "safe_stop",
        {"device_id": device_id(hass, entry), **data},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    result: dict[str, Any] = response[entry.title]  # type: ignore[assignment]
    return result


async def test_safe_stop_reaches_threshold_and_restore(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    await discharge(hass, entry, simulator)
    result = await safe_stop(hass, entry, timeout_s=10)
    assert result["threshold_reached"] is True
    assert result["disable_ok"] is True
    assert result["error"] is None
    assert abs(result["final_p_w"]) < 50
    assert abs(result["final_q_var"]) < 50
    assert result["waited_s"] < 10
    assert simulator.read_register("enabled") == 0
    assert simulator.read_register("mode") == 3
    ctl = controller(entry)
    assert not ctl.dispatch_enabled
    assert ctl.plant_state is PlantState.STOPPED
    await hass.async_block_till_done()
    assert hass.states.get(entity_id(hass, "switch", "dispatch")).state == "off"  # type: ignore[union-attr]
    assert hass.states.get(entity_id(hass, "sensor", "plant_state")).state == "stopped"  # type: ignore[union-attr]
    assert "safe stop" in (ctl.journal.last.note or "")  # type: ignore[union-attr]

    await hass.services.async_call(DOMAIN, "restore", {"device_id": device_id(hass, entry)}, blocking=True)
    assert simulator.read_register("enabled") == 1
    assert ctl.dispatch_enabled
    assert ctl.plant_state is PlantState.RUNNING
    # Control is back with the schedule and the override: discharging again.
    assert simulator.read_register("mode") == 2


async def test_safe_stop_misses_threshold_when_battery_will_not_ramp_down(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    simulator.model.stuck_power_w = 1500.0
    result = await safe_stop(hass, entry, timeout_s=1, threshold_w=100)
    assert result["threshold_reached"] is False
    assert result["disable_ok"] is True
    assert result["final_p_w"] == pytest.approx(1500)
    assert result["waited_s"] >= 1
    last = controller(entry).journal.last
    assert last is not None
    assert last.result is Result.FAILED


async def test_safe_stop_device_error_ends_with_a_result(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, caplog: pytest.LogCaptureFixture
) -> None:
    await simulator.stop()
    await let_sockets_settle()
    result = await safe_stop(hass, entry, timeout_s=5)
    assert result["threshold_reached"] is False
    assert result["disable_ok"] is False
    assert "failed" in result["error"]
    assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.WARNING)
    assert controller(entry).plant_state is PlantState.STOPPED
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(
            DOMAIN, "restore", {"device_id": device_id(hass, entry)}, blocking=True
        )
    assert controller(entry).plant_state is PlantState.STOPPED


async def test_gate_off_writes_nothing_and_survives_restart(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    gate = entity_id(hass, "switch", "dispatch")
    await hass.services.async_call("switch", "turn_off", {"entity_id": gate}, blocking=True)
    writes = simulator.write_count
    await hass.services.async_call(
        DOMAIN, "set_override", {"device_id": device_id(hass, entry), "reserve_pct": 70}, blocking=True
    )
    assert simulator.write_count == writes
    last = controller(entry).journal.last
    assert last is not None
    assert last.result is Result.SKIPPED
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert not controller(entry).dispatch_enabled
    assert hass.states.get(gate).state == "off"  # type: ignore[union-attr]
    assert simulator.write_count == writes
    await hass.services.async_call("switch", "turn_on", {"entity_id": gate}, blocking=True)
    await hass.async_block_till_done()
    assert simulator.read_register("reserve_pct") == 70


async def test_safe_stop_button_and_several_batteries(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    other_sim = SimulatedBattery(SimConfig(serial="SIM-OTHER002", noise_w=0.0, tau_s=0.05))
    await other_sim.start()
    try:
        other = await setup_entry(hass, modbus_data(other_sim.port), title="Other", unique_id="SIM-OTHER002")
        response = await hass.services.async_call(
            DOMAIN,
            "safe_stop",
            {"device_id": [device_id(hass, entry), device_id(hass, other, "SIM-OTHER002")], "timeout_s": 5},
            blocking=True,
            return_response=True,
        )
        assert response is not None
        assert set(response) == {entry.title, other.title}
        assert other_sim.read_register("enabled") == 0
        await hass.services.async_call(
            DOMAIN, "restore", {"device_id": device_id(hass, entry)}, blocking=True
        )
        await hass.services.async_call(
            "button", "press", {"entity_id": entity_id(hass, "button", "safe_stop")}, blocking=True
        )
        assert simulator.read_register("enabled") == 0
        await hass.config_entries.async_unload(other.entry_id)
    finally:
        await other_sim.stop()


async def test_reactive_setpoint_number(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": entity_id(hass, "number", "reactive_power_setpoint"), "value": -400},
        blocking=True,
    )
    assert simulator.read_register("reactive_setpoint_var") == -400


async def test_source_switch_is_safety_gated_and_series_stale_dispatches_zero(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    now = dt_util.utcnow()
    rows = [
        {"start": (now - timedelta(minutes=30)).isoformat(), "period_s": 900, "power_w": 1000},
        {
            "start": (now - timedelta(minutes=15)).isoformat(),
            "period_s": 3600,
            "power_w": -1500,
            "reactive_var": 200,
        },
    ]
    dev = device_id(hass, entry)
    await hass.services.async_call(DOMAIN, "set_series", {"device_id": dev, "rows": rows}, blocking=True)
    ctl = controller(entry)
    assert ctl.series is not None
    assert ctl.source == "manual"
    select = entity_id(hass, "select", "schedule_source")
    await switch_with_confirmation(hass, simulator, select, "api")
    assert ctl.source == "api"
    assert not ctl.switching
    assert simulator.read_register("enabled") == 0  # safe-stopped on the way
    # The Restore button (the restore action) brings the plant back.
    await hass.services.async_call(
        "button", "press", {"entity_id": entity_id(hass, "button", "restore")}, blocking=True
    )
    assert simulator.read_register("power_setpoint_w") == -1500
    assert simulator.read_register("reactive_setpoint_var") == 200
    # -1500 W is charging at 1500 W: the battery really does it, not only the register.
    assert simulator.read_register("mode") == MODE_CODES["force_charge"]
    await wait_for_power(simulator, -1500)
    # A series whose newest row has ended is stale: zero P and Q, and the journal says so. Zero is
    # idle, even when someone else forced a mode.
    simulator.set_control("mode", MODE_CODES["force_discharge"])
    stale = [{"start": (now - timedelta(hours=2)).isoformat(), "period_s": 900, "power_w": 800}]
    await hass.services.async_call(DOMAIN, "set_series", {"device_id": dev, "rows": stale}, blocking=True)
    await hass.async_block_till_done()
    assert simulator.read_register("power_setpoint_w") == 0
    assert simulator.read_register("reactive_setpoint_var") == 0
    assert simulator.read_register("mode") == MODE_CODES["idle"]
    await wait_for_power(simulator, 0)
    notes = [r.note for r in ctl.journal.query() if r.note]
    assert "day-ahead series is stale: dispatching zero" in notes
    # Survives a restart.
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert controller(entry).source == "api"
    assert controller(entry).series is not None


async def switch_with_confirmation(
    hass: HomeAssistant, simulator: SimulatedBattery, select: str, option: str
) -> None:
    """A first tap is refused and changes nothing; with Confirm switching on it switches, once."""
    confirm = entity_id(hass, "switch", "switch_confirm")
    assert hass.states.get(confirm).state == "off"  # type: ignore[union-attr]
    before = hass.states.get(select).state  # type: ignore[union-attr]
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            "select", "select_option", {"entity_id": select, "option": option}, blocking=True
        )
    assert err.value.translation_key == "switch_not_confirmed"
    assert hass.states.get(select).state == before  # type: ignore[union-attr]
    assert simulator.read_register("enabled") == 1  # not safe-stopped
    await hass.services.async_call("switch", "turn_on", {"entity_id": confirm}, blocking=True)
    assert hass.states.get(confirm).state == "on"  # type: ignore[union-attr]
    await hass.services.async_call(
        "select", "select_option", {"entity_id": select, "option": option}, blocking=True
    )
    assert hass.states.get(confirm).state == "off"  # type: ignore[union-attr]  # used up


async def test_source_switch_refused_while_switching_and_kept_on_failed_stop(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    ctl = controller(entry)
    ctl.switching = True
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN, "set_source", {"device_id": device_id(hass, entry), "source": "api"}, blocking=True
        )
    assert err.value.translation_key == "switch_in_progress"
    ctl.switching = False
    simulator.model.stuck_power_w = 3000.0
    ctl.settings = replace(ctl.settings, safe_stop_timeout_s=0.5)
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN, "set_source", {"device_id": device_id(hass, entry), "source": "api"}, blocking=True
        )
    assert err.value.translation_key == "switch_failed"
    assert ctl.source == "manual"
    assert not ctl.switching
    await hass.services.async_call(
        DOMAIN, "set_source", {"device_id": device_id(hass, entry), "source": "manual"}, blocking=True
    )


async def test_series_bad_input_refused(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    dev = device_id(hass, entry)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "set_series",
            {
                "device_id": dev,
                "rows": [{"start": "2026-01-01T00:00:00+00:00", "period_s": 900, "power_w": 90000}],
            },
            blocking=True,
        )
    assert err.value.translation_key == "item_power_out_of_range"
    assert controller(entry).series is None


async def test_transport_switch_emulator_and_back(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    select = entity_id(hass, "select", "transport")
    dev = device_id(hass, entry)
    await switch_with_confirmation(hass, simulator, select, "emulator")
    transports = entry.runtime_data.transports
    assert transports is not None
    assert transports.current == "emulator"
    emulator = transports.emulator
    assert emulator is not None
    assert simulator.read_register("enabled") == 0  # the device was safe-stopped first
    await hass.services.async_call(DOMAIN, "restore", {"device_id": dev}, blocking=True)
    await hass.services.async_call(
        DOMAIN, "set_override", {"device_id": dev, "reserve_pct": 66}, blocking=True
    )
    assert emulator.read_register("reserve_pct") == 66  # writes go to the emulator now
    assert simulator.read_register("reserve_pct") == 20
    assert hass.states.get(select).state == "emulator"  # type: ignore[union-attr]
    # The choice survives a restart.
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.runtime_data.transports.current == "emulator"
    await hass.services.async_call(
        DOMAIN, "set_transport", {"device_id": dev, "transport": "device"}, blocking=True
    )
    assert entry.runtime_data.transports.current == "device"
    await hass.services.async_call(DOMAIN, "restore", {"device_id": dev}, blocking=True)
    assert simulator.read_register("reserve_pct") == 66


async def test_builtin_simulator_has_no_transport_choice(hass: HomeAssistant) -> None:
    builtin = await setup_entry(hass, simulator_data("SIM-BUILTIN9"), title="Sim", unique_id="SIM-BUILTIN9")
    assert builtin.runtime_data.transports is None
    found = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, "SIM-BUILTIN9"), builtin.entry_id)
    assert found is not None
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "set_transport", {"device_id": found.id, "transport": "emulator"}, blocking=True
        )
    assert err.value.translation_key == "no_emulator"
    await hass.config_entries.async_unload(builtin.entry_id)


async def test_safe_stop_device_lost_while_waiting(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    simulator.model.stuck_power_w = 2000.0  # never ramps down: the sequence is waiting

    async def pull_the_plug() -> None:
        await asyncio.sleep(0.7)
        await simulator.stop()

    plug = asyncio.create_task(pull_the_plug())
    result = await safe_stop(hass, entry, timeout_s=5)
    await plug
    assert result["threshold_reached"] is False
    assert result["disable_ok"] is False
    assert "reading the battery failed" in result["error"]
    assert result["final_p_w"] == pytest.approx(2000)


async def test_concurrent_switch_requests(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    dev = device_id(hass, entry)
    first = hass.services.async_call(DOMAIN, "set_source", {"device_id": dev, "source": "api"}, blocking=True)
    second = hass.services.async_call(
        DOMAIN, "set_transport", {"device_id": dev, "transport": "emulator"}, blocking=True
    )
    results = await asyncio.gather(first, second, return_exceptions=True)
    refused = [r for r in results if isinstance(r, HomeAssistantError)]
    assert len(refused) == 1
    assert refused[0].translation_key == "switch_in_progress"
    ctl = controller(entry)
    assert (ctl.source, entry.runtime_data.transports.current) in (("api", "device"), ("manual", "emulator"))
    assert not ctl.switching


async def test_api_source_without_series_dispatches_zero_and_says_so(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    """No series at all is stale too; the journal says so even when the battery is already at zero."""
    await discharge(hass, entry, simulator)
    dev = device_id(hass, entry)
    await hass.services.async_call(DOMAIN, "clear_override", {"device_id": dev}, blocking=True)
    await hass.services.async_call(DOMAIN, "set_source", {"device_id": dev, "source": "api"}, blocking=True)
    await hass.services.async_call(DOMAIN, "restore", {"device_id": dev}, blocking=True)
    await hass.async_block_till_done()
    assert simulator.read_register("mode") == MODE_CODES["idle"]
    assert simulator.read_register("power_setpoint_w") == 0
    await wait_for_power(simulator, 0)
    records = controller(entry).journal.query()
    assert records[-1].note == STALE_NOTE


async def test_safe_stop_threshold_and_timeout_come_from_the_options(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    """The button (and switches, and the action without arguments) use the battery's options."""
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "safe_stop_threshold_pct": 40, "safe_stop_timeout_s": 5}
    )
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    simulator.model.stuck_power_w = 1500.0  # under 40 % of the 5 kW rating, far over 1 %
    button = entity_id(hass, "button", "safe_stop")
    await hass.services.async_call("button", "press", {"entity_id": button}, blocking=True)
    last = controller(entry).journal.last
    assert last is not None
    assert last.result is Result.SUCCESS
    assert last.note is not None
    assert "'threshold_reached': True" in last.note
    simulator.model.stuck_power_w = 2500.0  # over 40 %: the 5 s timeout of the options ends it
    started = asyncio.get_running_loop().time()
    result = await safe_stop(hass, entry)
    assert result["threshold_reached"] is False
    assert 4.5 <= result["waited_s"] < 15
    assert asyncio.get_running_loop().time() - started < 20


async def test_plant_enabled_switch_and_plant_state(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    """The switch shows and sets the plant's enable flag; the plant state follows gate and flag."""
    switch = entity_id(hass, "switch", "plant_enabled")
    plant = entity_id(hass, "sensor", "plant_state")
    assert hass.states.get(switch).state == "on"  # type: ignore[union-attr]
    await hass.services.async_call("switch", "turn_off", {"entity_id": switch}, blocking=True)
    await hass.async_block_till_done()
    assert simulator.read_register("enabled") == 0
    assert hass.states.get(switch).state == "off"  # type: ignore[union-attr]
    assert hass.states.get(plant).state == "stopped"  # type: ignore[union-attr]
    await hass.services.async_call("switch", "turn_on", {"entity_id": switch}, blocking=True)
    await hass.async_block_till_done()
    assert simulator.read_register("enabled") == 1
    assert hass.states.get(plant).state == "running"  # type: ignore[union-attr]
    # Closing the gate stops dispatch: the plant state says stopped while the plant still runs.
    gate = entity_id(hass, "switch", "dispatch")
    await hass.services.async_call("switch", "turn_off", {"entity_id": gate}, blocking=True)
    await hass.async_block_till_done()
    assert hass.states.get(plant).state == "stopped"  # type: ignore[union-attr]
    assert hass.states.get(switch).state == "on"  # type: ignore[union-attr]
    # Someone else disables the plant: the switch shows what the battery reports.
    simulator.set_control("enabled", 0)
    await controller(entry).coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(switch).state == "off"  # type: ignore[union-attr]


async def test_restore_refused_while_switching_and_safe_stop_waits_for_a_run_only_so_long(
    hass: HomeAssistant, entry: MockConfigEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctl = controller(entry)
    ctl.switching = True
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN, "restore", {"device_id": device_id(hass, entry)}, blocking=True
        )
    assert err.value.translation_key == "switch_in_progress"
    ctl.switching = False
    # A run that never lets go of the battery: the safe stop ends with a result, not a hang.
    monkeypatch.setattr("custom_components.battery_steward.controller.runner.STOP_WAIT_S", 0.2)
    async with ctl.runner.lock:
        result = await safe_stop(hass, entry)
    assert result["threshold_reached"] is False
    assert result["disable_ok"] is False
    assert "kept the battery busy" in result["error"]
    assert ctl.plant_state is PlantState.STOPPED


async def test_restore_puts_back_the_mode_the_safe_stop_left(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    """Safe stop leaves the plant idle; restore is its inverse where the schedule names no mode."""
    simulator.set_control("mode", MODE_CODES["auto"])
    await controller(entry).coordinator.async_refresh()
    result = await safe_stop(hass, entry)
    assert result["threshold_reached"] is True
    assert simulator.read_register("mode") == MODE_CODES["idle"]
    # Across a restart too.
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert controller(entry).resume_mode == "auto"
    await hass.services.async_call(DOMAIN, "restore", {"device_id": device_id(hass, entry)}, blocking=True)
    assert simulator.read_register("mode") == MODE_CODES["auto"]
    assert simulator.read_register("enabled") == 1
    assert controller(entry).resume_mode is None


async def test_switch_confirmation_lapses_after_a_minute(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    confirm = entity_id(hass, "switch", "switch_confirm")
    await hass.services.async_call("switch", "turn_on", {"entity_id": confirm}, blocking=True)
    freezer.tick(timedelta(seconds=61))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get(confirm).state == "off"  # type: ignore[union-attr]
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            "select",
            "select_option",
            {"entity_id": entity_id(hass, "select", "schedule_source"), "option": "api"},
            blocking=True,
        )
    await hass.services.async_call("switch", "turn_on", {"entity_id": confirm}, blocking=True)
    await hass.services.async_call("switch", "turn_off", {"entity_id": confirm}, blocking=True)
    assert hass.states.get(confirm).state == "off"  # type: ignore[union-attr]
    assert controller(entry).source == "manual"


# Plant commands at the same time: every write goes through the controller's runner, so whatever
# order concurrent commands end up in, the dispatch gate, the plant enable register at the
# simulator, the plant state and the journal tell the same story at the end.


def plant_record(record: JournalRecord) -> bool:
    """A journal record of a command that changes the plant (stop, restore, enable)."""
    note = record.note or ""
    return note.startswith(("safe stop", "restore", "plant "))


async def assert_plant_agrees(
    hass: HomeAssistant, ctl: BatteryController, simulator: SimulatedBattery
) -> None:
    """Gate, enable register, plant state and the journal's last plant command agree."""
    await hass.async_block_till_done()
    await ctl.coordinator.async_refresh()
    await hass.async_block_till_done()
    enabled = simulator.read_register("enabled") == 1
    assert ctl.plant_state is (PlantState.RUNNING if ctl.dispatch_enabled and enabled else PlantState.STOPPED)
    last = [r for r in ctl.journal.query(limit=10_000) if plant_record(r)][-1]
    note = last.note or ""
    if note.startswith("safe stop") and last.result is Result.SUCCESS:
        assert not ctl.dispatch_enabled
        assert not enabled
        assert ctl.plant_state is PlantState.STOPPED
    elif note.startswith("safe stop"):  # failed: the gate stays closed whatever the plant did
        assert not ctl.dispatch_enabled
    elif note.startswith("restore"):
        assert last.result is Result.SUCCESS
        assert ctl.dispatch_enabled
        assert enabled
        assert ctl.plant_state is PlantState.RUNNING
        assert ctl.resume_mode is None
    else:
        assert enabled is (note == "plant enabled")
    state = hass.states.get(entity_id(hass, "sensor", "plant_state"))
    assert state is not None
    assert state.state == ctl.plant_state.value


async def test_safe_stop_and_restore_at_once(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    """The issue's reproduction: a safe stop (5 s timeout) as a task, a restore at once."""
    dev = device_id(hass, entry)
    await hass.services.async_call(
        DOMAIN, "set_override", {"device_id": dev, "mode": "force_discharge", "power_w": 2000}, blocking=True
    )
    ctl = controller(entry)
    stop = asyncio.create_task(
        hass.services.async_call(
            DOMAIN, "safe_stop", {"device_id": dev, "timeout_s": 5}, blocking=True, return_response=True
        )
    )
    restore = hass.services.async_call(DOMAIN, "restore", {"device_id": dev}, blocking=True)
    results = await asyncio.gather(stop, restore, return_exceptions=True)
    for result in results:
        assert not isinstance(result, BaseException) or isinstance(result, HomeAssistantError), result
    assert not ctl.switching
    await assert_plant_agrees(hass, ctl, simulator)
    # Both ran, one after the other: each has its own record, neither cut into the other.
    notes = [r.note or "" for r in ctl.journal.query(limit=10_000) if plant_record(r)]
    assert any(n.startswith("safe stop") for n in notes)
    assert any(n.startswith("restore") for n in notes)


async def test_a_hundred_mixed_commands_at_once(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    """Safe stops, restores, plant enables, gate flips, overrides and reconciles, all at once."""
    dev = device_id(hass, entry)
    target = {"device_id": dev}
    switch = entity_id(hass, "switch", "plant_enabled")
    gate = entity_id(hass, "switch", "dispatch")

    def action(domain: str, service: str, data: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
        return lambda: hass.services.async_call(domain, service, data, blocking=True)

    commands: list[Callable[[], Awaitable[Any]]] = [
        lambda: hass.services.async_call(
            DOMAIN, "safe_stop", {**target, "timeout_s": 5}, blocking=True, return_response=True
        ),
        action(DOMAIN, "restore", target),
        action("switch", "turn_on", {"entity_id": switch}),
        action("switch", "turn_off", {"entity_id": switch}),
        action("switch", "turn_on", {"entity_id": gate}),
        action("switch", "turn_off", {"entity_id": gate}),
        action(DOMAIN, "set_override", {**target, "mode": "force_discharge", "power_w": 1500}),
        action(DOMAIN, "clear_override", target),
        action(DOMAIN, "reconcile_now", target),
    ]
    rng = random.Random(12)
    chosen = [rng.choice(commands) for _ in range(100)]
    results = await asyncio.gather(*(command() for command in chosen), return_exceptions=True)
    for result in results:
        # A command may be refused or fail with a translated error; nothing else may escape.
        assert not isinstance(result, BaseException) or isinstance(result, HomeAssistantError), repr(result)
    ctl = controller(entry)
    await assert_plant_agrees(hass, ctl, simulator)
    # And the next command still works: the controller is not wedged.
    await hass.services.async_call(DOMAIN, "restore", target, blocking=True)
    await assert_plant_agrees(hass, ctl, simulator)
    assert simulator.read_register("enabled") == 1


async def test_a_command_waits_only_so_long_for_another(
    hass: HomeAssistant, entry: MockConfigEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restore behind a command that never ends is refused, translated, and changes nothing."""
    monkeypatch.setattr("custom_components.battery_steward.controller.runner.STOP_WAIT_S", 0.2)
    ctl = controller(entry)
    ctl.async_set_dispatch(False)
    async with ctl.runner.lock:  # as a command holds it
        with pytest.raises(HomeAssistantError) as err:
            await hass.services.async_call(
                DOMAIN, "restore", {"device_id": device_id(hass, entry)}, blocking=True
            )
    assert err.value.translation_key == "battery_busy"
    assert not ctl.dispatch_enabled
