"""The plan calendar: fall-back days, the state running now, no filler events, translated titles.

Each of these failed before (issue 13, point 6): a state from the first occurrence of the repeated
hour to the second had a local end before its start, so Home Assistant refused the event (the
entity was never added in Australia/Lord_Howe, `calendar.get_events` raised in America/Santiago);
during an active window the entity was `off` and listed only the next change; a state that sets
nothing was a "no setpoints" event; titles said `force_discharge`.
"""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.device.simulator import SimulatedBattery

from .conftest import modbus_data
from .helpers import device_id, entity_id, freeze_at, let_sockets_settle, move_to, setup_entry, window_item

# zone, its 2026 fall-back transition (UTC)
FALL_BACK = [
    ("America/Santiago", datetime(2026, 4, 5, 3, 0, tzinfo=UTC)),
    ("Australia/Lord_Howe", datetime(2026, 4, 4, 15, 0, tzinfo=UTC)),
    ("America/New_York", datetime(2026, 11, 1, 6, 0, tzinfo=UTC)),
]


async def get_events(
    hass: HomeAssistant, calendar: str, start: datetime, hours: float
) -> list[dict[str, Any]]:
    response: Any = await hass.services.async_call(
        "calendar",
        "get_events",
        {"entity_id": calendar, "start_date_time": start, "duration": {"hours": hours}},
        blocking=True,
        return_response=True,
    )
    events: list[dict[str, Any]] = response[calendar]["events"]
    return events


@pytest.mark.parametrize(("zone", "transition"), FALL_BACK, ids=[z for z, _ in FALL_BACK])
async def test_state_across_the_repeated_hour_is_shown(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    zone: str,
    transition: datetime,
) -> None:
    tz = ZoneInfo(zone)
    first = transition - timedelta(minutes=20)  # 20 minutes before the clocks go back
    second = transition + timedelta(minutes=5)  # its local time is before `first`'s
    assert second.astimezone(tz).replace(tzinfo=None) < first.astimezone(tz).replace(tzinfo=None)
    items = [
        {"type": "one_off", "name": "Before", "at": first.isoformat(), "setpoints": {"reserve_pct": 60}},
        {"type": "one_off", "name": "After", "at": second.isoformat(), "setpoints": {"reserve_pct": 30}},
    ]
    await freeze_at(hass, freezer, transition - timedelta(hours=1), zone)
    entry = await setup_entry(hass, modbus_data(simulator.port), items=items, wait="background")
    calendar = entity_id(hass, "calendar", "plan")
    assert hass.states.get(calendar) is not None  # the entity was added
    events = await get_events(hass, calendar, transition - timedelta(hours=1), 3)
    spans = [
        (datetime.fromisoformat(e["start"]), datetime.fromisoformat(e["end"]), e["summary"]) for e in events
    ]
    sixty = [(s, e) for s, e, summary in spans if summary == "Backup reserve 60 %"]
    # The state is shown from `first` to `second`, split where the clocks go back.
    assert sixty == [(first, transition - timedelta(microseconds=1)), (transition, second)]
    assert any(s == second and summary == "Backup reserve 30 %" for s, _, summary in spans)
    await hass.config_entries.async_unload(entry.entry_id)
    await let_sockets_settle()


async def test_the_state_running_now_is_an_event_and_empty_states_are_not(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> None:
    paris = ZoneInfo("Europe/Paris")
    now = datetime(2026, 6, 15, 17, 30, tzinfo=paris)
    await freeze_at(hass, freezer, now)
    window = window_item("Evening", "17:00", "18:00", mode="force_discharge", power_w=1000)
    entry = await setup_entry(hass, modbus_data(simulator.port), items=[window], wait="background")
    calendar = entity_id(hass, "calendar", "plan")
    state = hass.states.get(calendar)
    assert state is not None
    assert state.state == "on"
    assert state.attributes["message"] == "Force discharge, Power setpoint 1000 W"
    assert (state.attributes["start_time"], state.attributes["end_time"]) == (
        "2026-06-15 17:00:00",
        "2026-06-15 18:00:00",
    )
    events = await get_events(hass, calendar, now, 30)
    # Outside the window nothing is set (no default item here): no "no setpoints" events between.
    assert [(e["start"], e["end"], e["summary"]) for e in events] == [
        ("2026-06-15T17:00:00+02:00", "2026-06-15T18:00:00+02:00", "Force discharge, Power setpoint 1000 W"),
        ("2026-06-16T17:00:00+02:00", "2026-06-16T18:00:00+02:00", "Force discharge, Power setpoint 1000 W"),
    ]
    assert events[0]["description"] == "Evening: Operating mode, Power setpoint"
    await hass.config_entries.async_unload(entry.entry_id)
    await let_sockets_settle()


async def test_titles_use_the_translated_names(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> None:
    await freeze_at(hass, freezer, datetime(2026, 6, 15, 12, tzinfo=ZoneInfo("Europe/Paris")))
    hass.config.language = "fr"
    window = window_item("Nuit", "22:00", "06:00", mode="idle", reserve_pct=40)
    entry = await setup_entry(hass, modbus_data(simulator.port), items=[window], wait="background")
    calendar = entity_id(hass, "calendar", "plan")
    state = hass.states.get(calendar)
    assert state is not None
    assert state.attributes["message"] == "Veille, Réserve de secours 40 %"
    await hass.config_entries.async_unload(entry.entry_id)
    await let_sockets_settle()


async def test_the_calendar_changes_with_the_plan_after_the_battery_is_written(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> None:
    """At a change of the plan the battery is written first; the calendar follows the controller.

    Home Assistant's calendar arms timers of its own at an event's start and end, which fired at
    the very instant of the write (benchmarks/fan_out.py); the calendar keeps none.
    """
    await freeze_at(hass, freezer, datetime(2026, 6, 15, 17, 30, tzinfo=ZoneInfo("Europe/Paris")))
    items = [
        window_item("Evening", "17:00", "18:00", reserve_pct=60),
        window_item("Night", "18:00", "23:00", reserve_pct=30),
    ]
    entry = await setup_entry(hass, modbus_data(simulator.port), items=items, wait="background")
    calendar = entity_id(hass, "calendar", "plan")
    seen: list[tuple[str, float | str]] = []

    @callback
    def on_change(event: Event[EventStateChangedData]) -> None:
        state = event.data["new_state"]
        assert state is not None
        seen.append((state.attributes["message"], simulator.read_register("reserve_pct")))

    # Polls and patrols due in the half hour first, so that only the change falls due at 18:00.
    await move_to(hass, freezer, datetime(2026, 6, 15, 17, 59, 59, tzinfo=ZoneInfo("Europe/Paris")))
    unsub = async_track_state_change_event(hass, calendar, on_change)
    await move_to(hass, freezer, datetime(2026, 6, 15, 18, 0, tzinfo=ZoneInfo("Europe/Paris")))
    unsub()
    assert seen == [("Backup reserve 30 %", 30)]
    state = hass.states.get(calendar)
    assert state is not None
    assert (state.state, state.attributes["start_time"]) == ("on", "2026-06-15 18:00:00")
    await hass.config_entries.async_unload(entry.entry_id)
    await let_sockets_settle()


async def test_the_calendar_names_the_item_that_holds_the_state_now(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> None:
    """A second item taking over the same values changes no setpoint, but the event's description."""
    paris = ZoneInfo("Europe/Paris")
    await freeze_at(hass, freezer, datetime(2026, 6, 15, 17, 10, tzinfo=paris))
    items = [
        window_item("First", "17:00", "17:30", reserve_pct=60),
        window_item("Second", "17:30", "19:00", reserve_pct=60),
    ]
    entry = await setup_entry(hass, modbus_data(simulator.port), items=items, wait="background")
    calendar = entity_id(hass, "calendar", "plan")
    for at, named in (
        (datetime(2026, 6, 15, 17, 29, 55, tzinfo=paris), "First"),
        (datetime(2026, 6, 15, 17, 30, 5, tzinfo=paris), "Second"),
    ):
        await move_to(hass, freezer, at)
        state = hass.states.get(calendar)
        assert state is not None
        assert (state.attributes["start_time"], state.attributes["end_time"]) == (
            "2026-06-15 17:00:00",
            "2026-06-15 19:00:00",
        )
        assert state.attributes["description"] == f"{named}: Backup reserve"
    await hass.config_entries.async_unload(entry.entry_id)
    await let_sockets_settle()


async def test_a_calendar_card_is_sent_the_new_plan(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """A dashboard's calendar card subscribes to the events; an item added later in the day changes
    neither the calendar's state nor its event now, and the card is still sent the new plan (it
    showed the old one: found by the real-browser test)."""
    paris = ZoneInfo("Europe/Paris")
    assert await async_setup_component(hass, "calendar", {})  # its views before the server starts
    client = await hass_ws_client(hass)  # signed in now: the access token is valid for 30 minutes
    await freeze_at(hass, freezer, datetime(2026, 6, 15, 12, tzinfo=paris))
    items = [window_item("Evening", "18:00", "19:00", reserve_pct=30)]
    entry = await setup_entry(hass, modbus_data(simulator.port), items=items, wait="background")
    calendar = entity_id(hass, "calendar", "plan")
    before = hass.states.get(calendar)
    await client.send_json_auto_id(
        {
            "type": "calendar/event/subscribe",
            "entity_id": calendar,
            "start": datetime(2026, 6, 15, 0, tzinfo=paris).isoformat(),
            "end": datetime(2026, 6, 16, 0, tzinfo=paris).isoformat(),
        }
    )
    assert (await client.receive_json())["success"]
    first = await client.receive_json()
    assert [e["summary"] for e in first["event"]["events"]] == ["Backup reserve 30 %"]

    await hass.services.async_call(
        DOMAIN,
        "add_item",
        {
            "device_id": device_id(hass, entry),
            "type": "window",
            "name": "Late",
            "start": "20:00",
            "end": "21:00",
            "weekdays": list(range(7)),
            "reserve_pct": 60,
        },
        blocking=True,
        return_response=True,
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    after = hass.states.get(calendar)
    assert before is not None
    assert after is not None
    assert (after.state, after.attributes) == (before.state, before.attributes)
    pushed = await client.receive_json()
    assert [(e["start"], e["summary"]) for e in pushed["event"]["events"]] == [
        ("2026-06-15T18:00:00+02:00", "Backup reserve 30 %"),
        ("2026-06-15T20:00:00+02:00", "Backup reserve 60 %"),
    ]
    await hass.config_entries.async_unload(entry.entry_id)
    await let_sockets_settle()
