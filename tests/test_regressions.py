"""Regressions for bugs the reliability suite found (docs/reliability.md lists them)."""

from datetime import datetime

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.controller import BatteryController
from custom_components.battery_steward.engine.state import Setpoints

from .helpers import entity_id
from .test_controller import controller, entry, items, options, tick

__all__ = ["entry", "items", "options", "tick"]


class _CountingPlan:
    """Wraps a plan and counts how often the planner is asked for the next change."""

    def __init__(self, ctl: BatteryController) -> None:
        self.inner = ctl.plan
        self.calls = 0

    def desired_at(self, t: datetime) -> Setpoints:
        return self.inner.desired_at(t)

    def next_change_after(self, t: datetime) -> datetime | None:
        self.calls += 1
        return self.inner.next_change_after(t)

    def next_event_after(self, t: datetime) -> datetime | None:
        return self.inner.next_event_after(t)


async def test_plan_calendar_state_plans_only_the_next_changes(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    # The calendar's state was computed from the whole week's plan on every poll, three times
    # per write (0.5 s of event-loop time per poll with a handful of items).
    ctl = controller(entry)
    counting = _CountingPlan(ctl)
    ctl.plan = counting
    calendar = entity_id(hass, "calendar", "plan")
    before = hass.states.get(calendar)
    assert before is not None
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    after = hass.states.get(calendar)
    assert after is not None
    assert after.attributes["message"] == before.attributes["message"]
    assert after.attributes["start_time"] == before.attributes["start_time"]
    assert after.attributes["end_time"] == before.attributes["end_time"]
    assert 0 < counting.calls <= 12
