"""The controller end to end: simulator over TCP, frozen time, real timers and stores."""

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
import json
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.calendar import describe
from custom_components.battery_steward.const import DOMAIN, EVENT_CHANGED
from custom_components.battery_steward.controller import expected_effect_missing
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery
from custom_components.battery_steward.diagnostics import async_get_config_entry_diagnostics
from custom_components.battery_steward.engine.journal import Result, Trigger
from custom_components.battery_steward.engine.state import Measurements, Mode, Setpoints
from custom_components.battery_steward.logbook import async_describe_events
from custom_components.battery_steward.repairs import ResumeFieldFlow, async_create_fix_flow
from custom_components.battery_steward.store import StoredOverride

from .conftest import NIGHT, PEAK, SERIAL, START, Tick, modbus_data
from .helpers import controller, device_id, entity_id, freeze_at, item, let_sockets_settle, load, setup_entry


@pytest.fixture
async def entry(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    items: list[dict[str, Any]],
    options: dict[str, Any],
) -> AsyncIterator[MockConfigEntry]:
    await freeze_at(hass, freezer, START)
    entry = await setup_entry(
        hass, modbus_data(simulator.port), options=options, items=items, wait="background"
    )
    yield entry
    if entry.state.recoverable or entry.state.name == "LOADED":
        await hass.config_entries.async_unload(entry.entry_id)


async def test_change_applied_at_its_instant_and_next_armed(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, tick: Tick
) -> None:
    ctl = controller(entry)
    events: list[Event] = []
    hass.bus.async_listen(EVENT_CHANGED, events.append)
    assert simulator.read_register("reserve_pct") == 20
    assert ctl.next_change == START.replace(hour=19, minute=0)
    state = hass.states.get(entity_id(hass, "sensor", "next_change"))
    assert state is not None
    assert state.state == "2026-06-01T17:00:00+00:00"
    await tick(60)
    assert simulator.read_register("reserve_pct") == 80
    record = ctl.journal.last
    assert record is not None
    assert record.trigger is Trigger.SCHEDULE
    assert record.scheduled == record.executed == START.replace(hour=19, minute=0)
    assert record.fields == {"reserve_pct": (20.0, 80.0)}
    assert events[-1].data["fields"] == {"reserve_pct": {"old": 20.0, "new": 80.0}}
    assert ctl.next_change == START.replace(hour=22, minute=0)
    assert hass.states.get(entity_id(hass, "sensor", "desired_reserve")).state == "80.0"  # type: ignore[union-attr]
    assert hass.states.get(entity_id(hass, "binary_sensor", "in_sync")).state == "on"  # type: ignore[union-attr]
    await tick(3 * 3600)
    assert simulator.read_register("reserve_pct") == 20


async def test_steady_state_writes_nothing(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, tick: Tick
) -> None:
    writes = simulator.write_count
    for _ in range(30):
        await tick(10)  # polls, no change due before 19:00 except the one at 19:00
    # 18:59 + 300 s: exactly one planned change (19:00), one write.
    assert simulator.write_count == writes + 1


async def test_drift_corrected_on_next_poll(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, tick: Tick
) -> None:
    await tick(60)
    simulator.set_control("reserve_pct", 50)
    await tick(10)
    assert simulator.read_register("reserve_pct") == 80
    last = controller(entry).journal.last
    assert last is not None
    assert last.trigger is Trigger.DRIFT
    assert last.fields == {"reserve_pct": (50.0, 80.0)}


async def test_reconciliation_switch_stops_and_starts_correcting(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, tick: Tick
) -> None:
    switch = entity_id(hass, "switch", "reconciliation")
    await hass.services.async_call("switch", "turn_off", {"entity_id": switch}, blocking=True)
    simulator.set_control("mode", 3)
    await tick(10)
    assert simulator.read_register("mode") == 3
    assert hass.states.get(entity_id(hass, "binary_sensor", "in_sync")).state == "off"  # type: ignore[union-attr]
    # Scheduled changes still execute with reconciliation off.
    await tick(50)
    assert simulator.read_register("reserve_pct") == 80
    assert simulator.read_register("mode") == 3
    await hass.services.async_call(
        DOMAIN, "start_reconciliation", {"device_id": device_id(hass, entry)}, blocking=True
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert simulator.read_register("mode") == 0
    assert hass.states.get(switch).state == "on"  # type: ignore[union-attr]
    await hass.services.async_call(
        DOMAIN, "stop_reconciliation", {"device_id": device_id(hass, entry)}, blocking=True
    )
    assert not controller(entry).reconciliation_enabled


@pytest.mark.parametrize("options", [{"fight_max_corrections": 2, "fight_window_min": 10}])
async def test_fight_detection_raises_and_clears(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, tick: Tick
) -> None:
    await tick(60)
    for value in (50, 60, 50):
        simulator.set_control("reserve_pct", value)
        await tick(20)  # past the settle time
    issue_id = f"fight_{entry.entry_id}_reserve_pct"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["values"] == "50.0, 60.0, 50.0"
    assert "reserve_pct" in controller(entry).fight.suspended
    simulator.set_control("reserve_pct", 40)
    await tick(20)
    assert simulator.read_register("reserve_pct") == 40  # no longer fought over
    # The user stops the other controller and resolves the repair.
    flow = await async_create_fix_flow(hass, issue_id, dict(issue.data or {}))
    assert isinstance(flow, ResumeFieldFlow)
    flow.hass = hass
    flow.issue_id = issue_id
    flow.handler = DOMAIN
    result = await flow.async_step_confirm({})
    assert result["type"] == "create_entry"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert simulator.read_register("reserve_pct") == 80


@pytest.mark.parametrize("options", [{"fight_max_corrections": 1, "fight_window_min": 1}])
async def test_fight_clears_when_drift_stops(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, tick: Tick
) -> None:
    await tick(60)
    for value in (50, 60):
        simulator.set_control("reserve_pct", value)
        await tick(20)
    assert "reserve_pct" in controller(entry).fight.suspended
    for _ in range(8):
        await tick(10)
    assert "reserve_pct" not in controller(entry).fight.suspended
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"fight_{entry.entry_id}_reserve_pct") is None
    await tick(20)
    assert simulator.read_register("reserve_pct") == 80


@pytest.mark.parametrize("options", [{"fight_max_corrections": 2, "fight_window_min": 1440}])
async def test_suspended_field_still_gets_its_scheduled_change(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, tick: Tick
) -> None:
    """Fight detection stops corrections, not the schedule: 22:00 still sets the reserve once."""
    await tick(60)
    for value in (50, 60, 50):
        simulator.set_control("reserve_pct", value)
        await tick(20)
    ctl = controller(entry)
    assert "reserve_pct" in ctl.fight.suspended
    simulator.set_control("reserve_pct", 40)
    await tick(20)
    assert simulator.read_register("reserve_pct") == 40  # not corrected
    await tick(3 * 3600 - 80)  # 22:00: the peak window ends and the evening cron sets 20 %
    assert "reserve_pct" in ctl.fight.suspended
    assert simulator.read_register("reserve_pct") == 20
    scheduled = [r for r in ctl.journal.query() if r.trigger is Trigger.SCHEDULE]
    assert scheduled[-1].fields["reserve_pct"] == (40.0, 20.0)
    simulator.set_control("reserve_pct", 35)
    await tick(20)
    assert simulator.read_register("reserve_pct") == 35  # still not fought over


@pytest.mark.parametrize("items", [[NIGHT]])
async def test_override_from_entity_until_next_change(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, tick: Tick
) -> None:
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": entity_id(hass, "number", "backup_reserve"), "value": 55},
        blocking=True,
    )
    assert simulator.read_register("reserve_pct") == 55
    ctl = controller(entry)
    assert ctl.override is not None
    assert ctl.override.expires == START.replace(hour=22, minute=0)
    assert ctl.journal.last is not None
    assert ctl.journal.last.trigger is Trigger.OVERRIDE
    simulator.set_control("reserve_pct", 30)
    await tick(20)
    assert simulator.read_register("reserve_pct") == 55  # the override is enforced
    await tick(3 * 3600 + 60)
    assert ctl.override is None
    assert simulator.read_register("reserve_pct") == 20


@pytest.mark.parametrize("items", [[NIGHT]])
async def test_override_service_duration_and_until_cleared(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, tick: Tick
) -> None:
    dev = device_id(hass, entry)
    await hass.services.async_call(
        DOMAIN,
        "set_override",
        {"device_id": dev, "mode": "force_charge", "power_w": -1000, "duration": {"minutes": 5}},
        blocking=True,
    )
    assert simulator.read_register("mode") == 1
    assert simulator.read_register("power_setpoint_w") == -1000
    await tick(301)
    assert simulator.read_register("mode") == 0  # back to the cron step's auto
    await hass.services.async_call(
        DOMAIN, "set_override", {"device_id": dev, "reserve_pct": 90, "until_cleared": True}, blocking=True
    )
    await tick(6 * 3600)
    assert simulator.read_register("reserve_pct") == 90
    await hass.services.async_call(DOMAIN, "clear_override", {"device_id": dev}, blocking=True)
    assert simulator.read_register("reserve_pct") == 20


async def test_override_bad_input_writes_nothing(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    dev = device_id(hass, entry)
    writes = simulator.write_count
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "set_override", {"device_id": dev, "power_w": 9000}, blocking=True
        )
    assert err.value.translation_key == "value_out_of_range"
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(DOMAIN, "set_override", {"device_id": dev}, blocking=True)
    assert err.value.translation_key == "override_empty"
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "set_override", {"device_id": "nope", "mode": "idle"}, blocking=True
        )
    assert err.value.translation_key == "unknown_battery"
    with pytest.raises(Exception, match="value must be at most 100"):
        await hass.services.async_call(
            DOMAIN, "set_override", {"device_id": dev, "reserve_pct": 101}, blocking=True
        )
    assert simulator.write_count == writes


async def test_startup_corrects_missed_change(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
) -> None:
    # Home Assistant was down at 19:00; the battery still has the off-peak reserve.
    await freeze_at(hass, freezer, START + timedelta(minutes=31))
    entry = await setup_entry(hass, modbus_data(simulator.port), items=[PEAK, NIGHT], wait="background")
    assert simulator.read_register("reserve_pct") == 80
    startup = [r for r in controller(entry).journal.query() if r.trigger is Trigger.STARTUP]
    assert startup[0].fields == {"reserve_pct": (20.0, 80.0)}
    await hass.config_entries.async_unload(entry.entry_id)


async def test_one_off_misfire_within_and_beyond_grace(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    hass_storage: dict[str, Any],
) -> None:
    await hass.config.async_set_time_zone("Europe/Paris")
    now = START
    late = {
        "type": "one_off",
        "name": "Too late",
        "at": (now - timedelta(minutes=20)).isoformat(),
        "misfire_grace_s": 300,
        "setpoints": {"mode": "force_discharge"},
    }
    soon = {
        "type": "one_off",
        "name": "Within grace",
        "at": (now - timedelta(minutes=2)).isoformat(),
        "misfire_grace_s": 300,
        "setpoints": {"reserve_pct": 35},
    }
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=SERIAL,
        data=modbus_data(simulator.port),
        subentries_data=[item(late), item(soon)],
    )
    hass_storage[f"{DOMAIN}.{entry.entry_id}"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"{DOMAIN}.{entry.entry_id}",
        "data": {"journal": [], "last_alive": (now - timedelta(hours=1)).isoformat()},
    }
    freezer.move_to(now)
    await load(hass, entry, wait="background")
    assert simulator.read_register("reserve_pct") == 35
    assert simulator.read_register("mode") == 0  # the late one was not applied
    results = [r.result for r in controller(entry).journal.query()]
    assert Result.MISSED in results
    assert len(controller(entry).missed) == 1
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("heartbeat", "missed"),
    [
        ("25 minutes ago", 1),  # we ran until then: the one-off 40 minutes ago was applied
        ("not a date", 2),  # unreadable: the state's own heartbeat (an hour ago) holds
        (None, 2),  # no heartbeat file (a state saved before it existed)
    ],
)
async def test_the_heartbeat_file_says_how_long_we_were_down(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    hass_storage: dict[str, Any],
    heartbeat: str | None,
    missed: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await hass.config.async_set_time_zone("Europe/Paris")
    now = START
    one_offs = [
        {
            "type": "one_off",
            "name": f"{minutes} minutes ago",
            "at": (now - timedelta(minutes=minutes)).isoformat(),
            "misfire_grace_s": 300,
            "setpoints": {"reserve_pct": reserve},
        }
        for minutes, reserve in ((40, 55), (20, 45))
    ]
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=SERIAL,
        data=modbus_data(simulator.port),
        subentries_data=[item(one_off) for one_off in one_offs],
    )
    key = f"{DOMAIN}.{entry.entry_id}"
    hass_storage[key] = {
        "version": 1,
        "minor_version": 3,
        "key": key,
        "data": {"journal": [], "last_alive": (now - timedelta(hours=1)).isoformat()},
    }
    if heartbeat is not None:
        at = (now - timedelta(minutes=25)).isoformat() if heartbeat == "25 minutes ago" else heartbeat
        hass_storage[f"{key}.alive"] = {"version": 1, "key": f"{key}.alive", "data": {"last_alive": at}}
    freezer.move_to(now)
    await load(hass, entry, wait="background")
    records = [r for r in controller(entry).journal.query() if r.result is Result.MISSED]
    assert len(records) == missed
    assert len(controller(entry).missed) == missed
    assert ("the heartbeat could not be read" in caplog.text) == (heartbeat == "not a date")
    await hass.config_entries.async_unload(entry.entry_id)


async def test_the_heartbeat_rewrites_only_its_own_file(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    tick: Tick,
    hass_storage: dict[str, Any],
) -> None:
    await freeze_at(hass, freezer, START)
    entry = await setup_entry(hass, modbus_data(simulator.port), wait="background")  # nothing to run
    await tick(5)  # set-up's saves are done
    key = f"{DOMAIN}.{entry.entry_id}"
    state = hass_storage[key]
    for _ in range(3):  # the watchdog beats every 30 s; each beat is saved 2 s later
        await tick(30)
        await tick(3)
        beat = datetime.fromisoformat(hass_storage[f"{key}.alive"]["data"]["last_alive"])
        assert dt_util.utcnow() - timedelta(seconds=33) < beat <= dt_util.utcnow()
    assert hass_storage[key] is state  # the state (and its journal) was not written again
    await hass.config_entries.async_remove(entry.entry_id)
    assert f"{key}.alive" not in hass_storage
    assert key not in hass_storage


async def test_journal_survives_restart(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, tick: Tick
) -> None:
    await tick(60)
    before = controller(entry).journal.as_list()
    assert before
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    after = controller(entry).journal.as_list()
    assert after[: len(before)] == before
    seqs = [r["seq"] for r in after]
    assert seqs == sorted(set(seqs))


# The simulator's physics run on the real clock: with the default 2 s lag, a loaded machine could
# poll before the measured power followed the setpoint. A near-instant response keeps the test about
# the effect check, not about how fast the test machine is.
@pytest.mark.parametrize("sim_config", [SimConfig(serial=SERIAL, noise_w=0.0, tau_s=0.001)])
async def test_no_effect_detected_and_cleared(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, tick: Tick
) -> None:
    simulator.model.stuck_power_w = 0.0
    await hass.services.async_call(
        DOMAIN,
        "set_override",
        {"device_id": device_id(hass, entry), "mode": "force_charge", "power_w": -2000},
        blocking=True,
    )
    await tick(31)
    issue_id = f"no_effect_{entry.entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    last = controller(entry).journal.last
    assert last is not None
    assert last.result is Result.NO_EFFECT
    simulator.model.stuck_power_w = None
    await hass.services.async_call(
        DOMAIN, "set_override", {"device_id": device_id(hass, entry), "power_w": -2500}, blocking=True
    )
    await tick(31)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


@pytest.mark.parametrize("sim_config", [SimConfig(serial=SERIAL, noise_w=0.0, tau_s=0.001)])
async def test_force_mode_at_0_w_is_not_no_effect(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, tick: Tick
) -> None:
    """0 W means 0 W: a force mode told 0 W holds still, which is the commanded effect."""
    await hass.services.async_call(
        DOMAIN,
        "set_override",
        {"device_id": device_id(hass, entry), "mode": "force_discharge", "power_w": 0},
        blocking=True,
    )
    await tick(31)
    assert simulator.model.power_setpoint_w == 0
    assert abs(simulator.model.active_power_w) < 20  # the battery holds still
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"no_effect_{entry.entry_id}") is None
    assert all(r.result is not Result.NO_EFFECT for r in controller(entry).journal.query(limit=100))


def test_expected_effect_rules() -> None:
    def m(mode: Mode, p: float, soc: float = 50, enabled: bool = True, setpoint: float = 0) -> Measurements:
        return Measurements(
            soc_pct=soc,
            active_power_w=p,
            reactive_power_var=0,
            mode=mode,
            reserve_pct=20,
            power_setpoint_w=setpoint,
            reactive_setpoint_var=0,
            enabled=enabled,
        )

    assert expected_effect_missing(m(Mode.FORCE_CHARGE, 0, setpoint=-5000), 5000) is not None
    assert expected_effect_missing(m(Mode.FORCE_CHARGE, -1000, setpoint=-1000), 5000) is None
    assert expected_effect_missing(m(Mode.FORCE_CHARGE, 0, soc=100, setpoint=-5000), 5000) is None
    assert expected_effect_missing(m(Mode.FORCE_DISCHARGE, 0, setpoint=5000), 5000) is not None
    assert expected_effect_missing(m(Mode.FORCE_DISCHARGE, 0, soc=20, setpoint=5000), 5000) is None
    # 0 W means 0 W (issue 17): a force mode at 0 W that holds still is what was commanded ...
    assert expected_effect_missing(m(Mode.FORCE_CHARGE, 0), 5000) is None
    assert expected_effect_missing(m(Mode.FORCE_DISCHARGE, 0), 5000) is None
    # ... and one that still runs is not.
    assert expected_effect_missing(m(Mode.FORCE_CHARGE, -1000), 5000) is not None
    assert expected_effect_missing(m(Mode.FORCE_DISCHARGE, 1000), 5000) is not None
    # A device without a rate to set reads back 0 and runs a force mode at its own rate.
    assert expected_effect_missing(m(Mode.FORCE_CHARGE, 0), 5000, rate_settable=False) is not None
    assert expected_effect_missing(m(Mode.FORCE_CHARGE, -1000), 5000, rate_settable=False) is None
    assert expected_effect_missing(m(Mode.FORCE_DISCHARGE, 0), 5000, rate_settable=False) is not None
    assert expected_effect_missing(m(Mode.IDLE, 800), 5000) is not None
    assert expected_effect_missing(m(Mode.IDLE, 800, enabled=False), 5000) is None
    assert expected_effect_missing(m(Mode.AUTO, 800), 5000) is None
    # With a setpoint, at least half of it must flow.
    assert expected_effect_missing(m(Mode.FORCE_DISCHARGE, 300, setpoint=2000), 5000) is not None
    assert expected_effect_missing(m(Mode.FORCE_DISCHARGE, 1900, setpoint=2000), 5000) is None
    assert expected_effect_missing(m(Mode.FORCE_CHARGE, -400, setpoint=-3000), 5000) is not None
    assert expected_effect_missing(m(Mode.FORCE_CHARGE, -2900, setpoint=-3000), 5000) is None


async def test_patrol_skips_while_a_run_is_going(
    hass: HomeAssistant, entry: MockConfigEntry, tick: Tick
) -> None:
    ctl = controller(entry)
    async with ctl.runner.lock:
        await tick(15 * 60)
    assert ctl.skipped_runs == 1
    await tick(15 * 60)
    assert ctl.skipped_runs == 1
    stats = ctl.statistics()
    assert stats["skipped_runs"] == 1
    assert stats["runs_timed"] >= 1
    assert stats["by_trigger"]["patrol"] >= 1


async def test_device_error_is_journaled_and_retried(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, tick: Tick
) -> None:
    await simulator.stop()
    await let_sockets_settle()
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(
            DOMAIN, "reconcile_now", {"device_id": device_id(hass, entry)}, blocking=True
        )
    last = controller(entry).journal.last
    assert last is not None
    assert last.result is Result.FAILED
    await simulator.start(host="127.0.0.1", port=entry.data["port"])
    simulator.set_control("reserve_pct", 44)
    await tick(10)
    await tick(10)
    assert simulator.read_register("reserve_pct") == 20


async def test_button_reconciles(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    ctl = controller(entry)
    ctl.async_set_reconciliation(False)
    simulator.set_control("reserve_pct", 33)
    await hass.services.async_call(
        "button", "press", {"entity_id": entity_id(hass, "button", "reconcile_now")}, blocking=True
    )
    assert simulator.read_register("reserve_pct") == 20
    assert ctl.journal.last is not None
    assert ctl.journal.last.trigger is Trigger.MANUAL


async def test_last_run_result_sensor(hass: HomeAssistant, entry: MockConfigEntry, tick: Tick) -> None:
    await tick(60)
    state = hass.states.get(entity_id(hass, "sensor", "last_run_result"))
    assert state is not None
    assert state.state == "success"
    assert state.attributes["trigger"] == "schedule"
    assert hass.states.get(entity_id(hass, "sensor", "desired_mode")).state == "auto"  # type: ignore[union-attr]


def test_setpoints_dict_round_trip() -> None:
    override = StoredOverride(setpoints=Setpoints(mode=Mode.IDLE, power_w=5), expires=None)
    assert StoredOverride.from_dict(override.as_dict()) == override


async def test_plan_calendar_lists_next_changes(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    calendar = entity_id(hass, "calendar", "plan")
    state = hass.states.get(calendar)
    assert state is not None
    # The state running now is an event too: it began when Friday's peak ended (the weekend's
    # 22:00 steps set it again without changing it).
    assert (state.state, state.attributes["message"]) == ("on", "Automatic, Backup reserve 20 %")
    assert state.attributes["start_time"] == "2026-05-29 22:00:00"
    result = await hass.services.async_call(
        "calendar",
        "get_events",
        {"entity_id": calendar, "duration": {"hours": 30}},
        blocking=True,
        return_response=True,
    )
    assert result is not None
    response: Any = result
    events = response[calendar]["events"]
    assert [(e["start"], e["summary"]) for e in events] == [
        ("2026-05-29T22:00:00+02:00", "Automatic, Backup reserve 20 %"),
        ("2026-06-01T19:00:00+02:00", "Automatic, Backup reserve 80 %"),
        ("2026-06-01T22:00:00+02:00", "Automatic, Backup reserve 20 %"),
        ("2026-06-02T19:00:00+02:00", "Automatic, Backup reserve 80 %"),
        ("2026-06-02T22:00:00+02:00", "Automatic, Backup reserve 20 %"),
    ]
    # Each event names the items that set its fields.
    assert events[1]["description"] == "Evening reserve: Operating mode; Peak: Backup reserve"
    assert events[2]["description"] == "Evening reserve: Operating mode, Backup reserve"


def test_calendar_summary() -> None:
    assert describe(Setpoints()) == ""  # a state that sets nothing is no event at all
    assert describe(Setpoints(power_w=-500, reactive_var=100)) == (
        "Power setpoint -500 W, Reactive power setpoint 100 var"
    )


async def test_logbook_describes_changes(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    described: dict[str, Callable[[Event], dict[str, Any]]] = {}

    def collect(domain: str, event_type: str, describe: Callable[[Event], dict[str, Any]]) -> None:
        described[event_type] = describe

    async_describe_events(hass, collect)
    changed = {
        "entry_id": entry.entry_id,
        "trigger": "schedule",
        "fields": {"reserve_pct": {"old": 20, "new": 80}},
    }
    line = described[EVENT_CHANGED](Event(EVENT_CHANGED, changed))
    assert line == {"name": "Battery", "message": "set reserve_pct 20 → 80 (schedule)"}
    # An event that says which item set each field names it.
    peak = next(sid for sid, sub in entry.subentries.items() if sub.title == "Peak")
    named = described[EVENT_CHANGED](Event(EVENT_CHANGED, {**changed, "items": {"reserve_pct": peak}}))
    assert named["message"] == "set reserve_pct 20 → 80 (schedule: Peak)"
    # A field an override set (no item behind it) is named by the trigger alone.
    by_hand = {**changed, "trigger": "override", "items": {"reserve_pct": "override"}}
    assert described[EVENT_CHANGED](Event(EVENT_CHANGED, by_hand))["message"] == (
        "set reserve_pct 20 → 80 (override)"
    )
    other = described[EVENT_CHANGED](Event(EVENT_CHANGED, {"entry_id": "gone"}))
    assert other["name"] == "Battery Steward"


async def test_diagnostics_redacts_identifiers(
    hass: HomeAssistant, entry: MockConfigEntry, tick: Tick
) -> None:

    await tick(60)
    diag = await async_get_config_entry_diagnostics(hass, entry)
    text = json.dumps(diag)
    assert SERIAL not in text
    assert "127.0.0.1" not in text
    assert diag["entry"]["data"]["host"] == "**REDACTED**"
    assert diag["device"]["serial"] == "**REDACTED**"
    assert diag["controller"]["desired"] == {"mode": "auto", "reserve_pct": 80}
    assert diag["journal_tail"][-1]["trigger"] == "schedule"
    assert diag["plan_24h"][0]["setpoints"] == {"mode": "auto", "reserve_pct": 20}
    assert diag["last_reading"]["reserve_pct"] == 80


@pytest.mark.parametrize("options", [{"poll_interval": 300}])
async def test_simulated_day_writes_equal_changes_plus_corrections(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, tick: Tick
) -> None:
    ctl = controller(entry)
    day_start = START
    planned = ctl.changes_between(day_start, day_start + timedelta(days=1))
    writes = simulator.write_count
    tampered = False
    for step in range(24 * 12):
        if step == 120 and not tampered:  # one outside change, at 04:59 the next morning
            simulator.set_control("mode", 2)
            tampered = True
        await tick(300)
    corrections = [
        r for r in ctl.journal.query() if r.trigger in (Trigger.DRIFT, Trigger.PATROL) and r.fields
    ]
    assert len(corrections) == 1
    assert simulator.write_count - writes == len(planned) + len(corrections)


@pytest.mark.parametrize(
    "items",
    [
        [
            {
                "type": "one_off",
                "name": f"c{i}",
                "at": (START + timedelta(minutes=1, seconds=i)).isoformat(),
                "setpoints": {"reserve_pct": 30 + i % 2},
            }
            for i in range(4)
        ]
    ],
)
async def test_changes_one_second_apart_all_land_between_polls(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, tick: Tick
) -> None:
    # Regression: the reading is up to a poll old; a write we made since must count as the
    # actual value, or the change back at the next second looks "in sync" and is lost.
    await tick(60)
    values = []
    for _ in range(4):
        values.append(simulator.read_register("reserve_pct"))
        await tick(1)
    assert values == [30, 31, 30, 31]


async def test_changes_between_limit_is_a_prefix(entry: MockConfigEntry) -> None:
    ctl = controller(entry)
    week = ctl.changes_between(START, START + timedelta(days=7))
    assert len(week) > 2
    assert ctl.changes_between(START, START + timedelta(days=7), limit=2) == week[:2]
