"""An accountable journal (issue 13, point 3): each record names the items it applied and, for a
command, the Home Assistant user who gave it; the change event carries the call's context; a
scheduled change that no timer ran leaves a record. Simulator over TCP, frozen time, no mocks."""

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Context, HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockUser,
    async_capture_events,
)

from custom_components.battery_steward.const import DOMAIN, EVENT_CHANGED
from custom_components.battery_steward.device.simulator import SimulatedBattery
from custom_components.battery_steward.engine.journal import JournalRecord, Result, Trigger

from .conftest import PARIS, PEAK, SERIAL, modbus_data
from .helpers import (
    confirm_switching,
    controller,
    device_id,
    entity_id,
    freeze_at,
    item,
    load,
    move_to,
    setup_entry,
)

# Monday 1 June 2026, 19:30 in Paris: inside the peak window (reserve 80).
START = datetime(2026, 6, 1, 19, 30, tzinfo=PARIS)
DEFAULT = {"type": "default", "name": "Default", "setpoints": {"reserve_pct": 25}}


@pytest.fixture
async def entry(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> AsyncIterator[MockConfigEntry]:
    await freeze_at(hass, freezer, START)
    entry = await setup_entry(hass, modbus_data(simulator.port), items=[DEFAULT, PEAK], wait="background")
    assert simulator.read_register("reserve_pct") == 80
    yield entry
    if entry.state.name == "LOADED":
        await hass.config_entries.async_unload(entry.entry_id)


def item_id(entry: MockConfigEntry, title: str = "Peak") -> str:
    """The id of the entry's item titled `title`."""
    found: str = next(s.subentry_id for s in entry.subentries.values() if s.title == title)
    return found


def last(entry: MockConfigEntry) -> JournalRecord:
    record = controller(entry).journal.last_run
    assert record is not None
    return record


async def test_a_command_names_its_user_and_the_event_carries_its_context(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, hass_admin_user: MockUser
) -> None:
    events = async_capture_events(hass, EVENT_CHANGED)
    context = Context(user_id=hass_admin_user.id)
    await hass.services.async_call(
        DOMAIN,
        "set_override",
        {"device_id": device_id(hass, entry), "reserve_pct": 55},
        blocking=True,
        context=context,
    )
    assert simulator.read_register("reserve_pct") == 55
    record = last(entry)
    assert (record.trigger, record.fields, record.items, record.user_id) == (
        Trigger.OVERRIDE,
        {"reserve_pct": (80.0, 55.0)},
        {"reserve_pct": "override"},
        hass_admin_user.id,
    )
    assert record.as_dict()["user_id"] == hass_admin_user.id
    assert [(e.context.id, e.context.user_id) for e in events] == [(context.id, hass_admin_user.id)]
    assert events[0].data["items"] == {"reserve_pct": "override"}

    # Clearing hands the reserve back to the window: the record and the event name the item.
    await hass.services.async_call(
        DOMAIN, "clear_override", {"device_id": device_id(hass, entry)}, blocking=True, context=context
    )
    assert simulator.read_register("reserve_pct") == 80
    record = last(entry)
    assert (record.items, record.user_id) == ({"reserve_pct": item_id(entry)}, hass_admin_user.id)
    assert events[-1].context.id == context.id
    assert events[-1].data["items"] == {"reserve_pct": item_id(entry)}


async def test_an_entity_action_names_its_user(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_admin_user: MockUser,
) -> None:
    context = Context(user_id=hass_admin_user.id)
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": entity_id(hass, "select", "operating_mode"), "option": "force_charge"},
        blocking=True,
        context=context,
    )
    record = last(entry)
    assert (record.trigger, record.user_id, record.items) == (
        Trigger.OVERRIDE,
        hass_admin_user.id,
        {"mode": "override"},
    )
    # A scheduled change has no user.
    await move_to(hass, freezer, START.replace(hour=22, minute=0, second=1))
    assert last(entry).user_id is None


async def test_run_item_names_the_item(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    hass_admin_user: MockUser,
) -> None:
    await freeze_at(hass, freezer, START)
    late = {**PEAK, "name": "Late", "start": "23:00:00", "end": "23:30:00", "setpoints": {"reserve_pct": 30}}
    entry = await setup_entry(hass, modbus_data(simulator.port), items=[PEAK, late], wait="background")
    late_id = item_id(entry, "Late")
    context = Context(user_id=hass_admin_user.id)
    await hass.services.async_call(DOMAIN, "run_item", {"item_id": late_id}, blocking=True, context=context)
    assert simulator.read_register("reserve_pct") == 30
    record = last(entry)
    assert (record.trigger, record.items, record.user_id) == (
        Trigger.OVERRIDE,
        {"reserve_pct": late_id},
        hass_admin_user.id,
    )

    # The item is stored with the override: after a restart it is still named, not "override".
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert simulator.read_register("reserve_pct") == 30  # still held after the restart
    # Someone changes the reserve; the correction names the item, not "override".
    simulator.set_control("reserve_pct", 50)
    freezer.tick(timedelta(minutes=1))
    await hass.services.async_call(
        DOMAIN, "reconcile_now", {"device_id": device_id(hass, entry)}, blocking=True, context=context
    )
    assert simulator.read_register("reserve_pct") == 30
    record = last(entry)
    assert (record.trigger, record.fields, record.items, record.user_id) == (
        Trigger.MANUAL,
        {"reserve_pct": (50.0, 30.0)},
        {"reserve_pct": late_id},
        hass_admin_user.id,
    )
    state = hass.states.get(entity_id(hass, "sensor", "last_run_result"))
    assert state is not None
    assert state.attributes["items"] == {"reserve_pct": late_id}
    await hass.config_entries.async_unload(entry.entry_id)


async def test_startup_coalesces_what_was_due_while_down_and_names_the_items(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
) -> None:
    await freeze_at(hass, freezer, START)
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=SERIAL, data=modbus_data(simulator.port), subentries_data=[item(PEAK)]
    )
    # Home Assistant was down from 18:30 to 19:30: the window's 19:00 start ran on no timer.
    hass_storage[f"{DOMAIN}.{entry.entry_id}"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"{DOMAIN}.{entry.entry_id}",
        "data": {"journal": [], "last_alive": (START - timedelta(hours=1)).isoformat()},
    }
    await load(hass, entry, wait="background")
    assert simulator.read_register("reserve_pct") == 80
    pid = item_id(entry)
    records = controller(entry).journal.query(limit=10)
    coalesced = [r for r in records if r.result is Result.SKIPPED]
    assert [(r.trigger, r.scheduled, r.items["reserve_pct"]) for r in coalesced] == [
        (Trigger.STARTUP, START.replace(hour=19, minute=0), pid)
    ]
    assert coalesced[0].note is not None
    assert "while Home Assistant was down: 1 scheduled change(s)" in coalesced[0].note
    run = next(r for r in records if r.trigger is Trigger.STARTUP and r.result is Result.SUCCESS)
    assert run.fields["reserve_pct"][1] == 80.0
    assert run.items["reserve_pct"] == pid
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_clock_jump_over_a_change_leaves_a_record(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, freezer: FrozenDateTimeFactory
) -> None:
    ctl = controller(entry)
    # The wall clock jumps past the window's 22:00 end before its timer ran (the timer runs on
    # the event loop's monotonic clock): the watchdog re-plans, and says what it coalesced.
    # Under freezegun the loop's clock moves with the wall clock, and firing the time would run
    # the schedule timer and the watchdog in heap order; so the watchdog, which on a real jump
    # runs first (within 30 s, the timer only after the monotonic hour), is called here itself.
    freezer.move_to(START.replace(hour=22, minute=30))
    ctl._wall_minus_mono -= 3600
    assert ctl._timer is not None
    ctl._on_watchdog(dt_util.utcnow())
    assert ctl._timer is not None  # re-armed at the next change: the stale one was cancelled
    await hass.async_block_till_done(wait_background_tasks=True)
    await move_to(hass, freezer, START.replace(hour=22, minute=30, second=30))
    records = ctl.journal.query(limit=10)
    coalesced = [r for r in records if r.result is Result.SKIPPED and r.trigger is Trigger.WATCHDOG]
    assert len(coalesced) == 1
    assert coalesced[0].scheduled == START.replace(hour=22, minute=0)
    assert coalesced[0].note is not None
    assert coalesced[0].note.startswith("clock jump: 1 scheduled change")
    # The watchdog's run applies the state it caught up to: the default's reserve again.
    run = next(r for r in records if r.trigger is Trigger.WATCHDOG and r.result is not Result.SKIPPED)
    default_id = item_id(entry, "Default")
    assert (run.trigger, run.result, run.items) == (
        Trigger.WATCHDOG,
        Result.SUCCESS,
        {"reserve_pct": default_id},
    )
    assert run.fields == {"reserve_pct": (80.0, 25.0)}
    assert simulator.read_register("reserve_pct") == 25


async def test_safe_stop_and_restore_name_their_user(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, hass_admin_user: MockUser
) -> None:
    context = Context(user_id=hass_admin_user.id)
    target = {"device_id": device_id(hass, entry)}
    await hass.services.async_call(
        DOMAIN, "safe_stop", target, blocking=True, context=context, return_response=True
    )
    stop = last(entry)
    assert stop.note is not None
    assert stop.note.startswith("safe stop:")
    assert stop.user_id == hass_admin_user.id
    await hass.services.async_call(DOMAIN, "restore", target, blocking=True, context=context)
    records = controller(entry).journal.query(limit=len(controller(entry).journal))
    restored = [r for r in records if r.seq > stop.seq]
    assert restored[0].note == "restored mode auto"
    assert {r.user_id for r in restored} == {hass_admin_user.id}


async def test_switches_name_their_user_and_the_run_they_start_carries_the_context(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    hass_admin_user: MockUser,
) -> None:
    """Dispatch, reconciliation and plant-enabled switches: the journal names who switched them."""
    events = async_capture_events(hass, EVENT_CHANGED)
    context = Context(user_id=hass_admin_user.id)
    ctl = controller(entry)

    async def switch(key: str, service: str) -> JournalRecord:
        before = last(entry).seq
        await hass.services.async_call(
            "switch", service, {"entity_id": entity_id(hass, "switch", key)}, blocking=True, context=context
        )
        await hass.async_block_till_done(wait_background_tasks=True)
        records = ctl.journal.query(limit=len(ctl.journal))
        return next(r for r in records if r.seq > before)  # the first record after the call

    record = await switch("dispatch", "turn_off")
    assert (record.trigger, record.note, record.user_id) == (
        Trigger.MANUAL,
        "dispatch off",
        hass_admin_user.id,
    )
    # Someone changes the reserve while the gate is closed (a minute later, past the settle time
    # of the start-up write): nothing is corrected...
    simulator.set_control("reserve_pct", 50)
    freezer.tick(timedelta(minutes=1))
    await ctl.coordinator.async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert simulator.read_register("reserve_pct") == 50
    # ...until the gate opens: the run it starts writes the window's reserve back, in the user's name.
    record = await switch("dispatch", "turn_on")
    assert (record.note, record.user_id) == ("dispatch on", hass_admin_user.id)
    assert simulator.read_register("reserve_pct") == 80
    run = last(entry)
    assert (run.trigger, run.fields, run.user_id) == (
        Trigger.CONFIG,
        {"reserve_pct": (50.0, 80.0)},
        hass_admin_user.id,
    )
    assert [(e.data["trigger"], e.context.id, e.context.user_id) for e in events] == [
        ("config", context.id, hass_admin_user.id)
    ]

    record = await switch("reconciliation", "turn_off")
    assert (record.trigger, record.note, record.user_id) == (
        Trigger.MANUAL,
        "reconciliation off",
        hass_admin_user.id,
    )
    record = await switch("reconciliation", "turn_on")
    assert (record.note, record.user_id) == ("reconciliation on", hass_admin_user.id)

    record = await switch("plant_enabled", "turn_off")
    assert (record.trigger, record.note, record.user_id) == (
        Trigger.MANUAL,
        "plant disabled",
        hass_admin_user.id,
    )
    assert simulator.read_register("enabled") == 0
    record = await switch("plant_enabled", "turn_on")
    assert (record.note, record.user_id) == ("plant enabled", hass_admin_user.id)
    assert simulator.read_register("enabled") == 1
    # Nothing changed: nothing journaled.
    before = last(entry).seq
    await hass.services.async_call(
        "switch",
        "turn_on",
        {"entity_id": entity_id(hass, "switch", "dispatch")},
        blocking=True,
        context=context,
    )
    assert last(entry).seq == before


@pytest.mark.parametrize(
    ("key", "option", "note"),
    [("schedule_source", "api", "schedule source api"), ("transport", "emulator", "transport emulator")],
)
async def test_source_and_transport_selects_name_their_user(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    simulator: SimulatedBattery,
    hass_admin_user: MockUser,
    key: str,
    option: str,
    note: str,
) -> None:
    """The safe stop a switch makes and the switch itself are journaled with the user of the call."""
    context = Context(user_id=hass_admin_user.id)
    ctl = controller(entry)
    before = last(entry).seq
    await confirm_switching(hass)
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": entity_id(hass, "select", key), "option": option},
        blocking=True,
        context=context,
    )
    assert simulator.read_register("enabled") == 0  # safe-stopped on the way
    records = [r for r in ctl.journal.query(limit=len(ctl.journal)) if r.seq > before]
    notes = [r.note or "" for r in records]
    assert notes[0].startswith("safe stop:")
    assert notes[-1] == note
    assert {r.user_id for r in records} == {hass_admin_user.id}
