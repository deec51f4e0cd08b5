"""Wall-clock times in a time zone, resolved to UTC instants by the DST rules of docs/schedules.md.

- A wall time that does not exist (spring-forward gap) resolves to the first instant after the gap.
- A wall time that occurs twice (fall-back) resolves to its first occurrence.
"""

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """A cached ZoneInfo (raises ZoneInfoNotFoundError / ValueError for a bad name)."""
    return ZoneInfo(name)


def _exists(naive: datetime, tz: ZoneInfo) -> bool:
    aware = naive.replace(tzinfo=tz)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive


def resolve(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The UTC instant at which the wall clock in tz shows `wall` on `day` (gap -> gap end)."""
    naive = datetime.combine(day, wall)
    if _exists(naive, tz):
        return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    # In a gap (PEP 495): fold=0 reads the wall time with the offset before the transition, fold=1
    # with the larger one after it, so fold=1 is the earlier instant; the transition lies between.
    low = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    before = low.astimezone(tz).utcoffset()
    while high - low > timedelta(seconds=1):
        mid = low + (high - low) / 2
        if mid.astimezone(tz).utcoffset() == before:
            low = mid
        else:
            high = mid
    return high.replace(microsecond=0)


def local_date(t: datetime, tz: ZoneInfo) -> date:
    """The local calendar date of instant t in tz."""
    return t.astimezone(tz).date()
