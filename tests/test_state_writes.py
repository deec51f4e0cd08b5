"""An entity writes its state only when what it shows changed.

Writing a state costs far more than working it out (benchmarks/poll_cost.py), and a write of an
unchanged state still reaches the state machine (a `state_reported` event) and its listeners.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er

from custom_components.battery_steward.coordinator import PollInterest
from custom_components.battery_steward.device.simulator import SimulatedBattery

from .conftest import modbus_data
from .helpers import entity_id, freeze_at, let_sockets_settle, move_to, setup_entry

PARIS = ZoneInfo("Europe/Paris")


async def test_a_poll_that_changes_nothing_writes_no_state(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> None:
    start = datetime(2026, 6, 15, 12, 0, 5, tzinfo=PARIS)
    await freeze_at(hass, freezer, start)
    # Nothing changes in the calendar's 7 days either: the state running now has no end in view.
    items = [
        {"type": "default", "name": "Default", "setpoints": {"mode": "auto", "reserve_pct": 30}},
        {
            "type": "one_off",
            "name": "Later",
            "at": "2026-06-30T09:00:00+02:00",
            "setpoints": {"reserve_pct": 40},
        },
    ]
    entry = await setup_entry(hass, modbus_data(simulator.port), items=items, wait="background")
    await move_to(hass, freezer, start + timedelta(seconds=10))  # the first poll after set-up
    ours = {e.entity_id for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)}
    written: list[str] = []

    @callback
    def is_ours(event_data: Mapping[str, Any]) -> bool:
        return event_data["entity_id"] in ours

    @callback
    def on_write(event: Event[Any]) -> None:
        written.append(event.data["entity_id"])

    unsubs = [
        hass.bus.async_listen(kind, on_write, event_filter=is_ours)
        for kind in (EVENT_STATE_CHANGED, EVENT_STATE_REPORTED)
    ]
    requests = simulator.request_count
    for poll in range(2, 6):  # polls every 10 s (the default interval): nothing changes
        await move_to(hass, freezer, start + timedelta(seconds=10 * poll))
    for unsub in unsubs:
        unsub()
    assert simulator.request_count - requests >= 4  # the polls happened
    assert written == []
    await hass.config_entries.async_unload(entry.entry_id)
    await let_sockets_settle()


async def test_who_shows_the_reading_hears_of_a_poll_only_when_the_reading_or_its_success_changed(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> None:
    start = datetime(2026, 6, 15, 12, 0, 5, tzinfo=PARIS)
    await freeze_at(hass, freezer, start)
    entry = await setup_entry(hass, modbus_data(simulator.port), wait="background")
    coordinator = entry.runtime_data.coordinator
    heard: list[bool] = []
    never: list[bool] = []
    remove = coordinator.async_add_listener(
        lambda: heard.append(coordinator.last_update_success), PollInterest.READING
    )
    coordinator.async_add_listener(lambda: never.append(True), PollInterest.NONE)()
    coordinator.async_add_listener(lambda: never.append(True), PollInterest.NONE)
    at = start

    async def poll() -> None:
        nonlocal at
        at += timedelta(seconds=10)  # the default interval
        await move_to(hass, freezer, at)

    await poll()
    assert heard == [True]  # the first poll it hears of
    await poll()
    await poll()
    assert heard == [True]  # the same reading twice
    simulator.set_control("reserve_pct", 45)
    await poll()
    assert heard == [True, True]  # a new reading
    port = simulator.port
    await simulator.stop()
    await let_sockets_settle()
    await poll()
    await poll()
    assert heard == [True, True, False]  # the battery is lost: once
    await simulator.start(port=port)
    await poll()
    assert heard == [True, True, False, True]  # back, with the reading it had
    remove()
    await poll()
    assert heard == [True, True, False, True]
    assert never == []
    state = hass.states.get(entity_id(hass, "number", "backup_reserve"))
    assert state is not None
    assert state.state == "45.0"  # shown by an entity that follows the reading
    await hass.config_entries.async_unload(entry.entry_id)
    await let_sockets_settle()
