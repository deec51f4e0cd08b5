"""When an item starts: its next start after t and its last start at or before t.

A *start* is where the item begins to act: each step of a step item, each occurrence start of a
window or an interval with a duration, a ramp's first step, a series row's start. The default
item never starts (it always holds); a paused item has none. Used to show each item's next start
and last run (the switch entities and `list_items`).
"""

from bisect import bisect_right
from datetime import datetime, timedelta
import math

from .items import (
    CronItem,
    DefaultItem,
    IntervalItem,
    Item,
    OneOffItem,
    RampItem,
    SeriesItem,
    WindowItem,
)
from .localtime import local_date, resolve

# Windows repeat at least weekly: a week and a day either way always finds the neighbour.
_DAYS = 9


def _window_starts(item: WindowItem, t: datetime, forward: bool) -> list[datetime]:
    today = local_date(t, item.zone)
    offsets = range(-1, _DAYS) if forward else range(0, -_DAYS, -1)
    starts = []
    for offset in offsets:
        day = today + timedelta(days=offset)
        if day.weekday() in item.weekdays:
            starts.append(resolve(day, item.start, item.zone))
    return starts


def next_start(item: Item, t: datetime) -> datetime | None:
    """The first start strictly after t inside the item's validity (None: none ahead)."""
    return _start(item, t, ahead=True)


def last_start(item: Item, t: datetime) -> datetime | None:
    """The latest start at or before t inside the item's validity (None: it has not started)."""
    return _start(item, t, ahead=False)


def _start(item: Item, t: datetime, *, ahead: bool) -> datetime | None:
    if not item.enabled or isinstance(item, DefaultItem):
        return None
    found: datetime | None
    match item:
        case CronItem() | OneOffItem():
            found = item.next_step_after(t) if ahead else item.last_step(t)
        case IntervalItem():
            k = math.floor((t - item.anchor).total_seconds() / item.every_s) + (1 if ahead else 0)
            if ahead and item.valid_from is not None and item.valid_from > t:
                k = math.ceil((item.valid_from - item.anchor).total_seconds() / item.every_s)
            found = item.anchor + timedelta(seconds=max(k, 0) * item.every_s) if k >= 0 or ahead else None
        case WindowItem():
            starts = _window_starts(item, t, ahead)
            found = next((s for s in starts if (s > t if ahead else s <= t) and item.valid_at(s)), None)
        case RampItem():
            found = item.next_start(t) if ahead else item.last_start(t)
            while ahead and found is not None and item.valid_from is not None and found < item.valid_from:
                found = item.next_start(found)
        case SeriesItem():
            i = bisect_right([row.start for row in item.rows], t) - (0 if ahead else 1)
            found = item.rows[i].start if 0 <= i < len(item.rows) else None
    return item.clip(found)


def start_in_force(item: Item, t: datetime) -> datetime | None:
    """The start of the item's step or occurrence in force at t (None: none is)."""
    if not item.enabled or isinstance(item, DefaultItem):
        return None
    if isinstance(item, (CronItem, OneOffItem)) or (
        isinstance(item, IntervalItem) and item.duration_s is None
    ):
        return item.last_step(t)
    span = item.active_at(t)
    return span.start if span is not None else None


def run_length(item: Item, t: datetime) -> timedelta | None:
    """How long the item's setpoints hold when it is run by hand at t (None: until the next change).

    A span item in force at t holds until its occurrence ends; one not in force holds as long as
    one of its occurrences lasts (a window's wall-clock length, an interval's duration).
    """
    match item:
        case WindowItem():
            if (span := item.active_at(t)) is not None and span.end is not None:
                return span.end - t
            start = item.start.hour * 60 + item.start.minute
            end = item.end.hour * 60 + item.end.minute
            return timedelta(minutes=(end - start) % (24 * 60) or 24 * 60)
        case IntervalItem() if item.duration_s is not None:
            if (span := item.active_at(t)) is not None and span.end is not None:
                return span.end - t
            return timedelta(seconds=item.duration_s)
    return None


def finished_at(item: Item) -> datetime | None:
    """When the item is done for good: a one-off once it has run, any item at its valid_until.

    None: it may still act (recurring items without an end, the default item).
    """
    ends = [item.valid_until] if item.valid_until is not None else []
    if isinstance(item, OneOffItem):
        ends.append(item.at)
    return min(ends) if ends else None
