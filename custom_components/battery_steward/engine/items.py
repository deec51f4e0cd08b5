"""Schedule item types and their occurrences in time.

Two kinds of item:
- *step* items (cron, interval without duration, one_off) change the desired state at instants;
  the latest step at or before t is sticky until the next one;
- *span* items (window, ramp, interval with duration, series) are active over intervals.

Every item answers, in UTC: where its steps are (`last_step`, `next_step_after`) or what it
contributes at t (`active_at`) and where its contribution may change (`next_boundary_after`).
None of this scans minute by minute.
"""

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
import math
from zoneinfo import ZoneInfo

from cronsim import CronSim

from .localtime import local_date, resolve, zone
from .state import Mode, Setpoints

LOOKBACK = timedelta(days=400)
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, kw_only=True, slots=True)
class Span:
    """One contribution of a span item: setpoints over [start, end)."""

    start: datetime
    end: datetime | None  # None: open-ended
    setpoints: Setpoints


@dataclass(frozen=True, kw_only=True, slots=True)
class ItemBase:
    """What every item has."""

    id: str
    name: str = ""
    enabled: bool = True
    priority: int = 0
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    tz: str = "UTC"
    setpoints: Setpoints = field(default_factory=Setpoints)

    @property
    def zone(self) -> ZoneInfo:
        """The item's time zone."""
        return zone(self.tz)

    def valid_at(self, t: datetime) -> bool:
        """Inside the validity dates."""
        return (self.valid_from is None or t >= self.valid_from) and (
            self.valid_until is None or t < self.valid_until
        )

    def clip(self, t: datetime | None) -> datetime | None:
        """A boundary, dropped when outside validity."""
        if t is None or not self.valid_at(t):
            return None
        return t

    def validity_boundaries(self) -> list[datetime]:
        """Where validity starts and ends (they change a span's contribution)."""
        return [b for b in (self.valid_from, self.valid_until) if b is not None]


# ------------------------------------------------------------------------------------ step items


@dataclass(frozen=True, kw_only=True, slots=True)
class CronItem(ItemBase):
    """A step change at each occurrence of a cron expression, in the item's time zone."""

    cron: str

    def _forward(self, after: datetime) -> datetime | None:
        # cronsim walks fixed-time expressions on the naive wall clock and resolves a repeated
        # time to its first occurrence, so from inside the second pass of a fall-back hour it
        # yields that hour's first pass again, before `after`: that time already fired, skip it.
        for occurrence in CronSim(self.cron, after.astimezone(self.zone)):
            if (found := occurrence.astimezone(UTC)) > after:
                return found
        return None  # no occurrence within cronsim's 50 years

    def next_step_after(self, t: datetime) -> datetime | None:
        """First occurrence strictly after t (within validity)."""
        start = max(t, self.valid_from - _SECOND) if self.valid_from else t
        nxt = self._forward(start)
        return self.clip(nxt)

    def last_step(self, t: datetime) -> datetime | None:
        """Latest occurrence at or before t (within validity and the lookback)."""
        end = min(t, self.valid_until - _SECOND) if self.valid_until else t
        try:
            back = next(CronSim(self.cron, (end + _SECOND).astimezone(self.zone), reverse=True))
        except StopIteration:
            return None
        found = back.astimezone(UTC)
        if found.astimezone(self.zone).utcoffset() != end.astimezone(self.zone).utcoffset():
            # A DST change in between: forward iteration also yields gap-shifted instants
            # that reverse iteration skips, so walk forward from there.
            cursor = found
            while (nxt := self._forward(cursor)) is not None and nxt <= end:
                found = cursor = nxt
        if found < t - LOOKBACK:
            return None
        return self.clip(found)


@dataclass(frozen=True, kw_only=True, slots=True)
class IntervalItem(ItemBase):
    """Every `every_s` seconds from `anchor`; a step, or active for `duration_s` after each."""

    anchor: datetime
    every_s: float
    duration_s: float | None = None

    def _index_at_or_before(self, t: datetime) -> int:
        return math.floor((t - self.anchor).total_seconds() / self.every_s)

    def _at(self, k: int) -> datetime:
        return self.anchor + timedelta(seconds=k * self.every_s)

    def next_step_after(self, t: datetime) -> datetime | None:
        """Next occurrence strictly after t."""
        if self.duration_s is not None:
            return None
        k = max(0, self._index_at_or_before(t) + 1)
        if self.valid_from is not None and self._at(k) < self.valid_from:
            k = max(k, math.ceil((self.valid_from - self.anchor).total_seconds() / self.every_s))
        return self.clip(self._at(k))

    def last_step(self, t: datetime) -> datetime | None:
        """Latest occurrence at or before t."""
        if self.duration_s is not None:
            return None
        end = min(t, self.valid_until - timedelta(microseconds=1)) if self.valid_until else t
        k = self._index_at_or_before(end)
        if k < 0:
            return None
        found = self._at(k)
        if found < t - LOOKBACK:
            return None
        return self.clip(found)

    def active_at(self, t: datetime) -> Span | None:
        """With a duration: the occurrence covering t."""
        if self.duration_s is None or not self.valid_at(t):
            return None
        k = self._index_at_or_before(t)
        if k < 0:
            return None
        start = self._at(k)
        end = start + timedelta(seconds=self.duration_s)
        if t < end:
            return Span(start=start, end=end, setpoints=self.setpoints)
        return None

    def next_boundary_after(self, t: datetime) -> datetime | None:
        """Next occurrence start or end after t."""
        if self.duration_s is None:
            return None
        candidates = [b for b in self.validity_boundaries() if b > t]
        k = max(0, self._index_at_or_before(t))
        for j in (k - 1, k, k + 1):
            if j < 0:
                continue
            start = self._at(j)
            ends = (start, start + timedelta(seconds=self.duration_s))
            candidates.extend(b for b in ends if b > t)
        return min(candidates) if candidates else None


@dataclass(frozen=True, kw_only=True, slots=True)
class OneOffItem(ItemBase):
    """A step change at one instant. `misfire_grace_s`: how late it may still be applied."""

    at: datetime
    misfire_grace_s: float = 300.0

    def next_step_after(self, t: datetime) -> datetime | None:
        """The instant, if after t."""
        return self.clip(self.at) if self.at > t else None

    def last_step(self, t: datetime) -> datetime | None:
        """The instant, if at or before t."""
        if self.at <= t and self.at >= t - LOOKBACK:
            return self.clip(self.at)
        return None


# ------------------------------------------------------------------------------------ span items


@dataclass(frozen=True, kw_only=True, slots=True)
class WindowItem(ItemBase):
    """Active on `weekdays` (Monday=0) from local `start` to local `end`; may cross midnight.

    A window crossing midnight belongs to the weekday it starts on.
    """

    weekdays: frozenset[int]
    start: time
    end: time

    def _occurrence(self, day: date) -> tuple[datetime, datetime] | None:
        if day.weekday() not in self.weekdays:
            return None
        tz = self.zone
        begin = resolve(day, self.start, tz)
        end_day = day if self.end > self.start else day + timedelta(days=1)
        end = resolve(end_day, self.end, tz)
        if end <= begin:
            return None
        return begin, end

    def active_at(self, t: datetime) -> Span | None:
        """The occurrence covering t, if any."""
        if not self.valid_at(t):
            return None
        today = local_date(t, self.zone)
        for day in (today - timedelta(days=1), today):
            occ = self._occurrence(day)
            if occ is not None and occ[0] <= t < occ[1]:
                return Span(start=occ[0], end=occ[1], setpoints=self.setpoints)
        return None

    def next_boundary_after(self, t: datetime) -> datetime | None:
        """Next start or end after t (within the coming 9 days, plus validity bounds)."""
        candidates = [b for b in self.validity_boundaries() if b > t]
        if self.valid_until is not None and t >= self.valid_until:
            return min(candidates) if candidates else None
        today = local_date(max(t, self.valid_from or t), self.zone)
        for offset in range(-1, 9):
            occ = self._occurrence(today + timedelta(days=offset))
            if occ is None:
                continue
            later = [b for b in occ if b > t]
            if later:
                candidates.append(min(later))
                break
        return min(candidates) if candidates else None


@dataclass(frozen=True, kw_only=True, slots=True)
class RampItem(ItemBase):
    """Power moves linearly from `power_from_w` to `power_to_w` over `duration_s`.

    It starts once at `start_at`, or every day at the local time `daily_at`, or at each
    occurrence of `cron` (both in the item's zone, by the DST rules of `localtime`): exactly one
    of the three. Each run is applied in n = ceil(duration / step) equal steps: step k (0..n-1)
    starts at start + k*step and sets from + (to - from) * k / (n - 1), so the first step is
    `from` and the last is `to`. A start during a run begins the ramp again. Other fields of
    `setpoints` (e.g. the mode) hold while the ramp is active.
    """

    duration_s: float
    power_from_w: float
    power_to_w: float
    start_at: datetime | None = None
    daily_at: time | None = None
    cron: str | None = None
    step_s: float = 60.0

    @property
    def _steps(self) -> int:
        return max(1, math.ceil(self.duration_s / self.step_s))

    @property
    def _length(self) -> timedelta:
        return timedelta(seconds=self.duration_s)

    def _cron(self) -> CronItem:
        return CronItem(id=self.id, tz=self.tz, cron=self.cron or "")

    def last_start(self, t: datetime) -> datetime | None:
        """The latest start at or before t (validity aside)."""
        if self.start_at is not None:
            return self.start_at if self.start_at <= t else None
        if self.daily_at is not None:
            today = local_date(t, self.zone)
            for day in (today, today - timedelta(days=1), today - timedelta(days=2)):
                if (begin := resolve(day, self.daily_at, self.zone)) <= t:
                    return begin
            return None
        return self._cron().last_step(t) if self.cron else None

    def next_start(self, t: datetime) -> datetime | None:
        """The first start strictly after t (validity aside)."""
        if self.start_at is not None:
            return self.start_at if self.start_at > t else None
        if self.daily_at is not None:
            today = local_date(t, self.zone)
            for day in (
                today - timedelta(days=1),
                today,
                today + timedelta(days=1),
                today + timedelta(days=2),
            ):
                if (begin := resolve(day, self.daily_at, self.zone)) > t:
                    return begin
            return None
        return self._cron().next_step_after(t) if self.cron else None

    def power_at_step(self, k: int) -> float:
        """The power set by step k."""
        n = self._steps
        if n == 1:
            return self.power_to_w
        return self.power_from_w + (self.power_to_w - self.power_from_w) * k / (n - 1)

    def active_at(self, t: datetime) -> Span | None:
        """The step covering t."""
        if not self.valid_at(t) or (begin := self.last_start(t)) is None or t >= begin + self._length:
            return None
        k = min(self._steps - 1, int((t - begin).total_seconds() // self.step_s))
        start = begin + timedelta(seconds=k * self.step_s)
        end = min(begin + self._length, start + timedelta(seconds=self.step_s))
        return Span(
            start=begin,
            end=end,
            setpoints=self.setpoints.overlay(Setpoints(power_w=self.power_at_step(k))),
        )

    def next_boundary_after(self, t: datetime) -> datetime | None:
        """Next step start, the end of the run, or the next start."""
        candidates = [b for b in self.validity_boundaries() if b > t]
        if (nxt := self.next_start(t)) is not None:
            candidates.append(nxt)
        if (begin := self.last_start(t)) is not None and t < begin + self._length:
            k = int((t - begin).total_seconds() // self.step_s) + 1
            candidates.append(min(begin + self._length, begin + timedelta(seconds=k * self.step_s)))
        return min(candidates) if candidates else None


@dataclass(frozen=True, kw_only=True, slots=True)
class SeriesRow:
    """One day-ahead period."""

    start: datetime  # UTC
    period_s: float
    power_w: float
    reactive_var: float | None = None

    @property
    def end(self) -> datetime:
        """End of the period."""
        return self.start + timedelta(seconds=self.period_s)


# What a day-ahead series dispatches when it has no row for the instant.
STALE_SETPOINTS = Setpoints(mode=Mode.IDLE, power_w=0.0, reactive_var=0.0)
_DAWN = datetime.min.replace(tzinfo=UTC)


def dispatch_setpoints(power_w: float, reactive_var: float | None) -> Setpoints:
    """A signed active power (+ discharge, - charge) as the mode and setpoint that make it happen.

    In the force modes the device takes the setpoint's magnitude; zero active power is dispatched
    as idle, which every device has.
    """
    if power_w > 0:
        mode = Mode.FORCE_DISCHARGE
    elif power_w < 0:
        mode = Mode.FORCE_CHARGE
    else:
        mode = Mode.IDLE
    return Setpoints(mode=mode, power_w=power_w, reactive_var=reactive_var or 0.0)


@dataclass(frozen=True, kw_only=True, slots=True)
class SeriesItem(ItemBase):
    """Day-ahead setpoints.

    Each row dispatches its signed active power (`dispatch_setpoints`) and reactive power. Stale
    rule: at any instant no row covers (before the first row, in a hole between rows, after the
    newest row's period, or with no rows at all) the data is older than one period, and the series
    dispatches idle, 0 W and 0 var until rows cover the instant again.
    """

    rows: tuple[SeriesRow, ...]

    @property
    def _starts(self) -> list[datetime]:
        return [row.start for row in self.rows]

    def active_at(self, t: datetime) -> Span | None:
        """The row covering t, or the stale zero."""
        if not self.valid_at(t):
            return None
        i = bisect_right(self._starts, t) - 1
        if i >= 0 and t < (row := self.rows[i]).end:
            return Span(
                start=row.start,
                end=row.end,
                setpoints=self.setpoints.overlay(dispatch_setpoints(row.power_w, row.reactive_var)),
            )
        return Span(
            start=self.rows[i].end if i >= 0 else self.valid_from or _DAWN,
            end=self.rows[i + 1].start if i + 1 < len(self.rows) else None,
            setpoints=self.setpoints.overlay(STALE_SETPOINTS),
        )

    def stale_at(self, t: datetime) -> bool:
        """True when the series is in force at t but no row covers t."""
        i = bisect_right(self._starts, t) - 1
        return self.valid_at(t) and not (i >= 0 and t < self.rows[i].end)

    def next_boundary_after(self, t: datetime) -> datetime | None:
        """Next row start or end."""
        candidates = [b for b in self.validity_boundaries() if b > t]
        i = bisect_right(self._starts, t)
        if i < len(self.rows):
            candidates.append(self.rows[i].start)
        if i > 0 and self.rows[i - 1].end > t:
            candidates.append(self.rows[i - 1].end)
        return min(candidates) if candidates else None


@dataclass(frozen=True, kw_only=True, slots=True)
class DefaultItem(ItemBase):
    """The battery's default state: its setpoints hold wherever no other item sets the field.

    At most one per battery. It has no time of its own (validity dates and priority do not apply):
    it is the bottom of the resolution order, so a window's field returns to it when the window
    ends and removing an item returns that item's fields to it. Paused, it sets nothing.
    """


type StepItem = CronItem | IntervalItem | OneOffItem
type SpanItem = WindowItem | RampItem | SeriesItem | IntervalItem
type Item = CronItem | IntervalItem | OneOffItem | WindowItem | RampItem | SeriesItem | DefaultItem

STEP_TYPES = (CronItem, IntervalItem, OneOffItem)
SPAN_TYPES = (WindowItem, RampItem, SeriesItem, IntervalItem)


def is_step(item: Item) -> bool:
    """Whether the item changes state by steps."""
    if isinstance(item, IntervalItem):
        return item.duration_s is None
    return isinstance(item, (CronItem, OneOffItem))
