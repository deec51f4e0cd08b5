"""Resolution of the desired state at an instant, and the changes ahead.

Resolution at t (docs/schedules.md):
1. the base state;
2. overlaid with the latest step at or before t among all step items (ties on the instant: the
   higher priority, then the later item in the list);
3. overlaid with every active span, in ascending (priority, span start, list position), so per
   field the higher priority wins, then the later-starting span, then the later item.

`next_change_after` merges each item's next boundary in a heap and evaluates the state only at
those candidates: no minute-by-minute scanning.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
import heapq

from .items import (
    CronItem,
    IntervalItem,
    Item,
    OneOffItem,
    RampItem,
    SeriesItem,
    WindowItem,
    is_step,
)
from .state import Setpoints

HORIZON = timedelta(days=400)


@dataclass(frozen=True, kw_only=True, slots=True)
class Change:
    """From `at` on, the desired state is `setpoints`."""

    at: datetime
    setpoints: Setpoints


class Schedule:
    """A battery's items and base state; pure, immutable once built."""

    def __init__(self, items: list[Item], base: Setpoints | None = None) -> None:
        """Only enabled items take part."""
        self.base = base or Setpoints()
        enabled = [item for item in items if item.enabled]
        self._steps: list[tuple[int, CronItem | IntervalItem | OneOffItem]] = []
        self._spans: list[tuple[int, WindowItem | RampItem | SeriesItem | IntervalItem]] = []
        for index, item in enumerate(enabled):
            if is_step(item):
                assert isinstance(item, (CronItem, IntervalItem, OneOffItem))
                self._steps.append((index, item))
            else:
                assert isinstance(item, (WindowItem, RampItem, SeriesItem, IntervalItem))
                self._spans.append((index, item))

    def latest_step(self, t: datetime) -> tuple[datetime, Item] | None:
        """The step in force at t, with its instant."""
        best: tuple[datetime, int, int] | None = None
        best_item: Item | None = None
        for index, item in self._steps:
            at = item.last_step(t)
            if at is None:
                continue
            key = (at, item.priority, index)
            if best is None or key > best:
                best, best_item = key, item
        if best is None or best_item is None:
            return None
        return best[0], best_item

    def desired_at(self, t: datetime) -> Setpoints:
        """The desired state at instant t (aware)."""
        step = self.latest_step(t)
        active: dict[int, tuple[int, datetime, int, Setpoints]] = {}
        for index, item in self._spans:
            span = item.active_at(t)
            if span is not None:
                active[index] = (item.priority, span.start, index, span.setpoints)
        return self._compose(step[1].setpoints if step else Setpoints(), active)

    def next_change_after(self, t: datetime, *, horizon: timedelta = HORIZON) -> datetime | None:
        """First instant after t where the desired state differs from the state at t.

        The state is evaluated in full once, at t; at each later candidate only the items whose
        boundary it is are re-evaluated.
        """
        limit = t + horizon
        step = self.latest_step(t)
        step_key: tuple[datetime, int, int] | None = None
        step_setpoints = Setpoints()
        if step is not None:
            step_index = next(i for i, item in self._steps if item is step[1])
            step_key = (step[0], step[1].priority, step_index)
            step_setpoints = step[1].setpoints
        active: dict[int, tuple[int, datetime, int, Setpoints]] = {}
        for index, item in self._spans:
            span = item.active_at(t)
            if span is not None:
                active[index] = (item.priority, span.start, index, span.setpoints)
        current = self._compose(step_setpoints, active)

        heap: list[tuple[datetime, int, bool]] = []
        for index, step_item in self._steps:
            b = step_item.next_step_after(t)
            if b is not None and b <= limit:
                heap.append((b, index, True))
        for index, span_item in self._spans:
            b = span_item.next_boundary_after(t)
            if b is not None and b <= limit:
                heap.append((b, index, False))
        heapq.heapify(heap)
        steps = dict(self._steps)
        spans = dict(self._spans)
        while heap:
            candidate = heap[0][0]
            while heap and heap[0][0] == candidate:
                _, index, is_step_item = heapq.heappop(heap)
                if is_step_item:
                    step_item = steps[index]
                    key = (candidate, step_item.priority, index)
                    if step_key is None or key > step_key:
                        step_key, step_setpoints = key, step_item.setpoints
                    b = step_item.next_step_after(candidate)
                else:
                    span_item = spans[index]
                    span = span_item.active_at(candidate)
                    if span is None:
                        active.pop(index, None)
                    else:
                        active[index] = (span_item.priority, span.start, index, span.setpoints)
                    b = span_item.next_boundary_after(candidate)
                if b is not None and b <= limit:
                    heapq.heappush(heap, (b, index, is_step_item))
            if self._compose(step_setpoints, active) != current:
                return candidate
        return None

    def _compose(self, step: Setpoints, active: dict[int, tuple[int, datetime, int, Setpoints]]) -> Setpoints:
        desired = self.base.overlay(step)
        for *_, setpoints in sorted(active.values(), key=lambda a: (a[0], a[1], a[2])):
            desired = desired.overlay(setpoints)
        return desired

    def next_event_after(self, t: datetime) -> datetime | None:
        """The next instant any item fires or changes its contribution, even to the same values.

        Overrides last "until the next scheduled change" in this sense: a job that re-asserts
        the values it set yesterday still ends an override.
        """
        events = [item.next_step_after(t) for _, item in self._steps]
        events += [item.next_boundary_after(t) for _, item in self._spans]
        future = [e for e in events if e is not None]
        return min(future) if future else None

    def plan(self, start: datetime, end: datetime) -> list[Change]:
        """Every real change in (start, end], in order."""
        changes: list[Change] = []
        t = start
        while (nxt := self.next_change_after(t, horizon=end - t)) is not None and nxt <= end:
            changes.append(Change(at=nxt, setpoints=self.desired_at(nxt)))
            t = nxt
        return changes
