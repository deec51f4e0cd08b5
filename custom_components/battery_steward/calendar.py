"""The plan as a calendar: each planned state from its change to the next, over 7 days.

The state running now is an event too (from its last change, looked for up to 7 days back); a
state that sets nothing is not an event. Titles use the translated mode and field names; each
event's description names the items that set its fields.

Home Assistant checks an event in local wall-clock time, which goes backwards when the clocks go
back: a state from 01:40 (first occurrence) to 01:05 (second) is refused, which made the
calendar entity fail to be added (Australia/Lord_Howe) and `calendar.get_events` raise
(America/Santiago). Such a state is shown as two events split at the transition.
"""

from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, override

from homeassistant.components.calendar import CalendarEntity, CalendarEntityDescription, CalendarEvent
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .coordinator import PollInterest
from .engine.planner import Schedule
from .engine.state import Mode, Setpoints, same_basis
from .entity import ControllerEntity
from .runtime import BatteryConfigEntry

PARALLEL_UPDATES = 0
HORIZON = timedelta(days=7)
# How far back the start of the state running now is looked for first (then up to HORIZON).
RECENT = timedelta(days=1)
_TICK = timedelta(microseconds=1)

PLAN = CalendarEntityDescription(key="plan", translation_key="plan")

# Field -> (translation key of the entity that shows it, unit); the mode is shown by its name.
_FIELDS = {
    "mode": ("select.operating_mode", ""),
    "reserve_pct": ("number.backup_reserve", "%"),
    "power_w": ("number.power_setpoint", "W"),
    "reactive_var": ("number.reactive_power_setpoint", "var"),
}
ENGLISH = {
    "mode": "Operating mode",
    "reserve_pct": "Backup reserve",
    "power_w": "Power setpoint",
    "reactive_var": "Reactive power setpoint",
    **{mode.value: mode.value for mode in Mode},
}


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the plan calendar."""
    async_add_entities([PlanCalendar(entry.runtime_data.coordinator, PLAN)])


def describe(setpoints: Setpoints, names: dict[str, str] | None = None) -> str:
    """A short summary of a planned state: the mode's name, then each value with its field's name."""
    names = names or ENGLISH
    parts = []
    if setpoints.mode is not None:
        parts.append(names.get(setpoints.mode.value, setpoints.mode.value))
    for field in ("reserve_pct", "power_w", "reactive_var"):
        value = getattr(setpoints, field)
        if value is not None:
            parts.append(f"{names.get(field, field)} {value:g} {_FIELDS[field][1]}")
    return ", ".join(parts)


def _hour(t: datetime) -> datetime:
    """The whole hour at or before t.

    The ends of the horizon (a state with no change in the 7 days before or after now) move
    only once an hour: otherwise the calendar's state changed on every poll and was written
    each time (benchmarks/poll_cost.py).
    """
    return t.replace(minute=0, second=0, microsecond=0)


def local_spans(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """[start, end) as pieces whose local wall-clock end is not before their start.

    Only a span over a fall-back transition is split: at the transition, the first piece ending
    a microsecond before it.
    """
    tz = dt_util.get_default_time_zone()
    pieces = []
    while end.astimezone(tz).replace(tzinfo=None) < start.astimezone(tz).replace(tzinfo=None):
        before = start.astimezone(tz).utcoffset()
        low, high = start, end
        while high - low > _TICK:
            mid = low + (high - low) / 2
            if mid.astimezone(tz).utcoffset() == before:
                low = mid
            else:
                high = mid
        pieces.append((start, low))
        start = high
    pieces.append((start, end))
    return pieces


class PlanCalendar(ControllerEntity, CalendarEntity):
    """Planned states of the next 7 days (schedule and override, DST included)."""

    poll_interest = PollInterest.EVERY_POLL  # its state is the event at the current time

    _names: dict[str, str] = ENGLISH
    # The start of the state running now, kept while that state and its end stay the same (an
    # edit that changes neither keeps it: looking back again on every poll costs a plan walk).
    _current: tuple[Setpoints, object, datetime, datetime | None] | None = None
    # The plan's last change at or before an instant, looked for up to HORIZON back: (plan, that
    # instant, the change or None). At each change the look back goes on from there.
    _scanned: tuple[object, datetime, datetime | None] | None = None

    @override
    async def async_added_to_hass(self) -> None:
        """Load the translated mode and field names the titles use."""
        translations = await async_get_translations(self.hass, self.hass.config.language, "entity", {DOMAIN})
        prefix = f"component.{DOMAIN}.entity."
        names = dict(ENGLISH)
        for field, (key, _unit) in _FIELDS.items():
            names[field] = translations.get(f"{prefix}{key}.name", ENGLISH[field])
        for mode in Mode:
            names[mode.value] = translations.get(
                f"{prefix}select.operating_mode.state.{mode.value}", mode.value
            )
        self._names = names
        await super().async_added_to_hass()

    def _current_start(self, now: datetime, until: datetime | None) -> datetime:
        """When the state running now began (its last change), up to HORIZON back."""
        plan, override, desired = self.controller.plan, self.controller.override, self.controller.desired
        if (
            (cached := self._current) is not None
            and cached[0] == desired
            and cached[1] is override
            and cached[2] <= now
            and cached[3] == until
        ):
            return cached[2]
        last = None
        if (scanned := self._scanned) is not None and scanned[0] is plan and scanned[1] <= now:
            # The same plan, looked back over before: only the changes since then can be newer.
            t, last = scanned[1], scanned[2]
            while (nxt := plan.next_change_after(t)) is not None and nxt <= now:
                last = t = nxt
        else:
            for lookback in (RECENT, HORIZON):
                t, last = now - lookback, None
                while (nxt := plan.next_change_after(t)) is not None and nxt <= now:
                    last = t = nxt
                if last is not None:
                    break
        self._scanned = (plan, now, last)
        start = last if last is not None and last > now - HORIZON else _hour(now - HORIZON)
        self._current = (desired, override, start, until)
        return start

    def _states(self, now: datetime, end: datetime) -> Iterator[tuple[datetime, Setpoints]]:
        """The state running now (from its start), then each planned change, in order."""
        changes = self.controller.iter_changes(now, end)
        first = next(changes, None)
        # The controller's desired state, re-planned at every change, is the state now.
        yield self._current_start(now, first[0] if first else None), self.controller.desired
        if first is not None:
            yield first
            yield from changes

    def _describe_sources(self, at: datetime) -> str | None:
        """Which items set the fields of the state at `at` (by name)."""
        plan = self.controller.plan
        if not isinstance(plan, Schedule):
            return None
        names = {item.id: item.name or item.id for item in self.controller.items}
        by_item: dict[str, list[str]] = {}
        for field, item_id in sorted(plan.sources_at(at).items()):
            by_item.setdefault(names.get(item_id, item_id), []).append(self._names.get(field, field))
        return "; ".join(f"{name}: {', '.join(fields)}" for name, fields in by_item.items()) or None

    def _events(self, start: datetime, end: datetime, *, limit: int | None = None) -> list[CalendarEvent]:
        now = dt_util.utcnow()
        end = min(end, _hour(now + HORIZON))
        # One state more than the events asked for: it ends the last of them.
        states = list(islice(self._states(now, end), None if limit is None else limit + 1))
        events: list[CalendarEvent] = []
        for i, (at, setpoints) in enumerate(states):
            until = states[i + 1][0] if i + 1 < len(states) else max(end, at + timedelta(minutes=1))
            if until <= start or at >= end or not setpoints.set_fields():
                continue
            summary = describe(setpoints, self._names)
            description = self._describe_sources(max(at, now))
            events.extend(
                CalendarEvent(
                    start=dt_util.as_local(piece_start),
                    end=dt_util.as_local(piece_end),
                    summary=summary,
                    description=description,
                )
                for piece_start, piece_end in local_spans(at, until)
            )
            if limit is not None and len(events) >= limit:
                break  # the state after it was planned only to end it
        return events

    _writing: tuple[CalendarEvent | None] | None = None  # the event while a state write runs
    # The event now, what it was planned from (plan, override, desired state, items, names) and
    # until when it holds: the next boundary of the intent, the next instant an item fires (the
    # description names the items), the event's own start or end, or the next whole hour (the
    # horizon's ends), whichever comes first.
    _planned: tuple[tuple[Any, ...], datetime, CalendarEvent | None] | None = None
    # What _shown returned for that event (a state that holds while the event does).
    _shown_for: tuple[CalendarEvent | None, tuple[Any, ...]] | None = None

    @property
    @override
    def event(self) -> CalendarEvent | None:
        if self._writing is not None:
            return self._writing[0]
        now = dt_util.utcnow()
        controller = self.controller
        basis = (controller.plan, controller.override, controller.desired, controller.items, self._names)
        planned = self._planned
        if planned is not None and now < planned[1] and same_basis(planned[0], basis):
            return planned[2]
        # Asked for on every poll: plan only the state now and the next change, and only when
        # something it depends on changed (benchmarks/poll_cost.py).
        upcoming = self._events(now, now + HORIZON, limit=1)
        event = upcoming[0] if upcoming else None
        holds = [_hour(now) + timedelta(hours=1)]
        holds += [
            t
            for t in (controller.intent.next_boundary_after(now), controller.plan.next_event_after(now))
            if t
        ]
        self._planned = (basis, min(holds), event)
        return event

    @override
    def _holds_until(self) -> datetime | None:
        # The event now holds until its planned end of validity (the plan, the override and the
        # items change with a signal from the controller).
        return None if self._planned is None else self._planned[1]

    @override
    def _shown(self) -> tuple[Any, ...]:
        """State and attributes with the event planned once; the same while the event holds."""
        event = self.event
        if self._shown_for is not None and self._shown_for[0] is event:
            return self._shown_for[1]
        self._writing = (event,)
        try:
            shown = super()._shown()
        finally:
            self._writing = None
        self._shown_for = (event, shown)
        return shown

    # What the dashboards' calendar cards were last sent (plan, override, items, names): they
    # subscribe to the events and are pushed new ones when the state is written, but a plan
    # that changes later events leaves the state as it was (found by the real-browser test).
    _pushed_for: tuple[Any, ...] | None = None

    @callback
    @override
    def write_if_changed(self) -> None:
        """Write the state if it changed, and push the events to subscribers if the plan did."""
        super().write_if_changed()
        controller = self.controller
        basis = (controller.plan, controller.override, controller.items, self._names)
        pushed = self._pushed_for
        if not same_basis(pushed, basis):
            if pushed is not None:
                self.async_update_event_listeners()
            self._pushed_for = basis

    @callback
    @override
    def _async_write_ha_state(self) -> None:
        """Plan the event once per state write (the base class reads it three times)."""
        self._writing = (self.event,)
        try:
            super()._async_write_ha_state()
        finally:
            self._writing = None
        # Core's calendar arms a timer at the event's start and end to write the state again.
        # Those are the plan's changes: the controller writes the batteries then and signals its
        # entities after the run, which updates this one. Core's timers fired at the same instant
        # as the write, and 50 batteries' calendars cost more than the writes (fan_out.py).
        for unsub in self._alarm_unsubs or ():
            unsub()
        self._alarm_unsubs = []

    @override
    async def async_get_events(
        self, hass: HomeAssistant, start_date: datetime, end_date: datetime
    ) -> list[CalendarEvent]:
        return self._events(start_date, end_date)
