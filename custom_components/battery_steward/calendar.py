"""The plan as a calendar: each planned state from its change to the next, over 7 days."""

from datetime import datetime, timedelta
from itertools import islice
from typing import Any, override

from homeassistant.components.calendar import CalendarEntity, CalendarEntityDescription, CalendarEvent
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .engine.state import Setpoints
from .entity import ControllerEntity
from .runtime import BatteryConfigEntry

PARALLEL_UPDATES = 0
HORIZON = timedelta(days=7)

PLAN = CalendarEntityDescription(key="plan", translation_key="plan")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the plan calendar."""
    async_add_entities([PlanCalendar(entry.runtime_data.coordinator, PLAN)])


def describe(setpoints: Setpoints) -> str:
    """A short summary of a planned state."""
    parts = []
    if setpoints.mode is not None:
        parts.append(f"mode {setpoints.mode.value}")
    if setpoints.reserve_pct is not None:
        parts.append(f"reserve {setpoints.reserve_pct:g} %")
    if setpoints.power_w is not None:
        parts.append(f"power {setpoints.power_w:g} W")
    if setpoints.reactive_var is not None:
        parts.append(f"reactive {setpoints.reactive_var:g} var")
    return ", ".join(parts) or "no setpoints"


class PlanCalendar(ControllerEntity, CalendarEntity):
    """Planned changes of the next 7 days (schedule and override, DST included)."""

    def _events(self, start: datetime, end: datetime, *, limit: int | None = None) -> list[CalendarEvent]:
        now = dt_util.utcnow()
        end = min(end, now + HORIZON)
        # One change more than the events asked for: it ends the last of them.
        changes = list(islice(self.controller.iter_changes(now, end), None if limit is None else limit + 1))
        events = []
        for i, (at, setpoints) in enumerate(changes):
            until = changes[i + 1][0] if i + 1 < len(changes) else max(end, at + timedelta(minutes=1))
            if until > start and at < end:
                begin, finish = dt_util.as_local(at), dt_util.as_local(until)
                if finish.replace(tzinfo=None) <= begin.replace(tzinfo=None):
                    # Ends in the repeated hour of a fall-back night: Home Assistant checks an
                    # event's length on local wall times, so show its real length from its start.
                    finish = begin + (until - at)
                events.append(CalendarEvent(start=begin, end=finish, summary=describe(setpoints)))
        return events

    _writing: tuple[CalendarEvent | None] | None = None  # the event while a state write runs

    @property
    @override
    def event(self) -> CalendarEvent | None:
        if self._writing is not None:
            return self._writing[0]
        now = dt_util.utcnow()
        # Written on every poll: plan only the next two changes, not the whole week.
        upcoming = self._events(now, now + HORIZON, limit=1)
        return upcoming[0] if upcoming else None

    @override
    def _shown(self) -> tuple[Any, ...]:
        """State and attributes with the event planned once."""
        self._writing = (self.event,)
        try:
            return super()._shown()
        finally:
            self._writing = None

    @callback
    @override
    def _async_write_ha_state(self) -> None:
        """Plan the event once per state write (the base class reads it three times)."""
        self._writing = (self.event,)
        try:
            super()._async_write_ha_state()
        finally:
            self._writing = None

    @override
    async def async_get_events(
        self, hass: HomeAssistant, start_date: datetime, end_date: datetime
    ) -> list[CalendarEvent]:
        return self._events(start_date, end_date)
