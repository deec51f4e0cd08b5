"""Resolution of the desired state at an instant, and the changes ahead.

Resolution at t (docs/schedules.md):
1. the base state, overlaid with the battery's enabled `default` item;
2. overlaid with the latest step at or before t among all step items (ties on the instant: the
   higher priority, then the later item in the list);
3. overlaid with every active span, in ascending (priority, span start, list position), so per
   field the higher priority wins, then the later-starting span, then the later item.

The planner keeps a *cursor*: the resolved state at an instant plus a heap holding each item's
next boundary. Answering for a later instant only moves the cursor over the boundaries in
between; finding the next change scans a copy of it boundary by boundary, evaluating only the
items whose boundary it is. Nothing scans minute by minute, and a schedule queried as time goes
forward (as the controller does, one change after another) never evaluates all items again.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
import heapq

from .items import (
    CronItem,
    DefaultItem,
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
# How many cursors a schedule keeps, and how far one is moved forward before a fresh evaluation
# is cheaper (with thousands of items a day holds thousands of boundaries).
CURSORS = 8
MAX_ADVANCE = timedelta(days=1)

type StepItem = CronItem | IntervalItem | OneOffItem
type SpanItem = WindowItem | RampItem | SeriesItem | IntervalItem
type StepKey = tuple[datetime, int, int]
type ActiveSpan = tuple[int, datetime, int, Setpoints]


@dataclass(frozen=True, kw_only=True, slots=True)
class Change:
    """From `at` on, the desired state is `setpoints`."""

    at: datetime
    setpoints: Setpoints


@dataclass(kw_only=True, slots=True, eq=False)
class _Cursor:
    """The schedule's resolution at `at`, and every item's next boundary after it."""

    at: datetime
    step_key: StepKey | None
    step_setpoints: Setpoints
    active: dict[int, ActiveSpan]
    heap: list[tuple[datetime, int, bool]]
    state: Setpoints

    def clone(self) -> _Cursor:
        return _Cursor(
            at=self.at,
            step_key=self.step_key,
            step_setpoints=self.step_setpoints,
            active=dict(self.active),
            heap=list(self.heap),
            state=self.state,
        )


class Schedule:
    """A battery's items and base state. The items are immutable; answers are cached in cursors."""

    def __init__(self, items: list[Item], base: Setpoints | None = None) -> None:
        """Only enabled items take part; the default item (if any) is the base under them all."""
        self.base = base or Setpoints()
        enabled = [item for item in items if item.enabled]
        self._steps: dict[int, StepItem] = {}
        self._spans: dict[int, SpanItem] = {}
        self.default: DefaultItem | None = None
        for index, item in enumerate(enabled):
            if isinstance(item, DefaultItem):
                self.default = item
                self.base = self.base.overlay(item.setpoints)
            elif is_step(item):
                assert isinstance(item, (CronItem, IntervalItem, OneOffItem))
                self._steps[index] = item
            else:
                assert isinstance(item, (WindowItem, RampItem, SeriesItem, IntervalItem))
                self._spans[index] = item
        self._cursors: list[_Cursor] = []  # least recently used first

    def _latest_step(self, t: datetime) -> tuple[StepKey, StepItem] | None:
        """The step in force at t, with its key (instant, priority, position)."""
        best: StepKey | None = None
        best_item: StepItem | None = None
        for index, item in self._steps.items():
            at = item.last_step(t)
            if at is None:
                continue
            key = (at, item.priority, index)
            if best is None or key > best:
                best, best_item = key, item
        if best is None or best_item is None:
            return None
        return best, best_item

    def desired_at(self, t: datetime) -> Setpoints:
        """The desired state at instant t (aware)."""
        return self._cursor_at(t).state

    def sources_at(self, t: datetime) -> dict[str, str]:
        """Which item set each field of the desired state at t (field -> item id).

        The same order as the resolution: the default, then the step in force, then the active
        spans, so the item named for a field is the one whose value `desired_at(t)` holds.
        """
        cursor = self._cursor_at(t)
        sources: dict[str, str] = {}
        if self.default is not None:
            sources |= dict.fromkeys(self.default.setpoints.set_fields(), self.default.id)
        if cursor.step_key is not None:
            step_item = self._steps[cursor.step_key[2]]
            sources |= dict.fromkeys(cursor.step_setpoints.set_fields(), step_item.id)
        for *_, index, setpoints in sorted(cursor.active.values(), key=lambda a: a[:3]):
            sources |= dict.fromkeys(setpoints.set_fields(), self._spans[index].id)
        return sources

    def next_change_after(self, t: datetime, *, horizon: timedelta = HORIZON) -> datetime | None:
        """First instant after t (within the horizon) where the desired state differs from the state at t."""
        limit = t + horizon
        scan = self._cursor_at(t).clone()
        current = scan.state
        while scan.heap and (candidate := scan.heap[0][0]) <= limit:
            self._pass(scan, candidate)
            if scan.state != current:
                self._remember(scan)
                return candidate
        return None

    def next_event_after(self, t: datetime) -> datetime | None:
        """The next instant any item fires or changes its contribution, even to the same values.

        Overrides last "until the next scheduled change" in this sense: a job that re-asserts
        the values it set yesterday still ends an override.
        """
        heap = self._cursor_at(t).heap
        return heap[0][0] if heap else None

    def plan(self, start: datetime, end: datetime) -> list[Change]:
        """Every real change in (start, end], in order."""
        changes: list[Change] = []
        t = start
        while (nxt := self.next_change_after(t, horizon=end - t)) is not None and nxt <= end:
            changes.append(Change(at=nxt, setpoints=self.desired_at(nxt)))
            t = nxt
        return changes

    # ------------------------------------------------------------------------------ cursors

    def _cursor_at(self, t: datetime) -> _Cursor:
        """A cursor at exactly t: a kept one, one moved forward from a kept one, or a fresh one."""
        before = [c for c in self._cursors if c.at <= t]
        if before:
            nearest = max(before, key=lambda c: c.at)
            if nearest.at == t:
                self._remember(nearest)
                return nearest
            if t - nearest.at <= MAX_ADVANCE:
                cursor = nearest.clone()
                while cursor.heap and (candidate := cursor.heap[0][0]) <= t:
                    self._pass(cursor, candidate, compose=False)
                cursor.at = t
                cursor.state = self._compose(cursor.step_setpoints, cursor.active)
                self._remember(cursor)
                return cursor
        cursor = self._fresh(t)
        self._remember(cursor)
        return cursor

    def _remember(self, cursor: _Cursor) -> None:
        if cursor in self._cursors:
            self._cursors.remove(cursor)
        self._cursors.append(cursor)
        del self._cursors[:-CURSORS]

    def _fresh(self, t: datetime) -> _Cursor:
        """Evaluate every item at t."""
        latest = self._latest_step(t)
        active: dict[int, ActiveSpan] = {}
        for index, span_item in self._spans.items():
            span = span_item.active_at(t)
            if span is not None:
                active[index] = (span_item.priority, span.start, index, span.setpoints)
        heap: list[tuple[datetime, int, bool]] = []
        for index, step_item in self._steps.items():
            if (b := step_item.next_step_after(t)) is not None:
                heap.append((b, index, True))
        for index, span_item in self._spans.items():
            if (b := span_item.next_boundary_after(t)) is not None:
                heap.append((b, index, False))
        heapq.heapify(heap)
        step_setpoints = latest[1].setpoints if latest else Setpoints()
        return _Cursor(
            at=t,
            step_key=latest[0] if latest else None,
            step_setpoints=step_setpoints,
            active=active,
            heap=heap,
            state=self._compose(step_setpoints, active),
        )

    def _pass(self, cursor: _Cursor, candidate: datetime, *, compose: bool = True) -> None:
        """Move the cursor to `candidate`, the earliest boundary in its heap."""
        heap = cursor.heap
        while heap and heap[0][0] == candidate:
            _, index, is_step_item = heapq.heappop(heap)
            if is_step_item:
                step_item = self._steps[index]
                key = (candidate, step_item.priority, index)
                if cursor.step_key is None or key > cursor.step_key:
                    cursor.step_key, cursor.step_setpoints = key, step_item.setpoints
                b = step_item.next_step_after(candidate)
            else:
                span_item = self._spans[index]
                span = span_item.active_at(candidate)
                if span is None:
                    cursor.active.pop(index, None)
                else:
                    cursor.active[index] = (span_item.priority, span.start, index, span.setpoints)
                b = span_item.next_boundary_after(candidate)
            if b is not None:
                heapq.heappush(heap, (b, index, is_step_item))
        cursor.at = candidate
        if compose:
            cursor.state = self._compose(cursor.step_setpoints, cursor.active)

    def _compose(self, step: Setpoints, active: dict[int, ActiveSpan]) -> Setpoints:
        desired = self.base.overlay(step)
        for *_, setpoints in sorted(active.values(), key=lambda a: (a[0], a[1], a[2])):
            desired = desired.overlay(setpoints)
        return desired
