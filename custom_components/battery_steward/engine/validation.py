"""Validation with precise, machine-readable issues (codes double as translation keys)."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import combinations
from zoneinfo import ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from .items import CronItem, DefaultItem, IntervalItem, Item, RampItem, SeriesItem, WindowItem
from .localtime import zone
from .state import Limits, Setpoints

MINUTES_PER_WEEK = 7 * 24 * 60
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True, slots=True)
class ValidationIssue:
    """One problem: a code, the item it concerns, placeholders and an English message."""

    code: str
    item_id: str
    placeholders: dict[str, str] = field(default_factory=dict)
    message: str = ""


def _issue(item: Item, code: str, message: str, **placeholders: object) -> ValidationIssue:
    return ValidationIssue(
        code=code,
        item_id=item.id,
        placeholders={"item": item.name or item.id, **{k: str(v) for k, v in placeholders.items()}},
        message=f"{item.name or item.id}: {message}",
    )


def _setpoint_issues(item: Item, setpoints: Setpoints, limits: Limits | None) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    if setpoints.reserve_pct is not None and not 0 <= setpoints.reserve_pct <= 100:
        issues.append(
            _issue(
                item,
                "reserve_out_of_range",
                f"reserve {setpoints.reserve_pct} % is outside 0..100",
                value=setpoints.reserve_pct,
            )
        )
    if limits is not None:
        low, high = -limits.max_charge_w, limits.max_discharge_w
        if setpoints.power_w is not None and not low <= setpoints.power_w <= high:
            issues.append(
                _issue(
                    item,
                    "power_out_of_range",
                    f"power {setpoints.power_w} W is outside {low:g}..{high:g} W",
                    value=setpoints.power_w,
                    minimum=f"{low:g}",
                    maximum=f"{high:g}",
                )
            )
        q = limits.max_reactive_var
        if setpoints.reactive_var is not None and not -q <= setpoints.reactive_var <= q:
            issues.append(
                _issue(
                    item,
                    "reactive_out_of_range",
                    f"reactive power {setpoints.reactive_var} var is outside ±{q:g} var",
                    value=setpoints.reactive_var,
                    minimum=f"{-q:g}",
                    maximum=f"{q:g}",
                )
            )
    return issues


def validate_item(item: Item, limits: Limits | None = None) -> list[ValidationIssue]:
    """Everything wrong with one item (empty list: valid)."""
    issues: list[ValidationIssue] = []
    try:
        zone(item.tz)
    except ZoneInfoNotFoundError, ValueError:
        issues.append(_issue(item, "unknown_time_zone", f"unknown time zone {item.tz!r}", tz=item.tz))
    if item.valid_from and item.valid_until and item.valid_until <= item.valid_from:
        issues.append(_issue(item, "end_before_start", "valid_until is not after valid_from"))
    if not isinstance(item, (RampItem, SeriesItem)) and not item.setpoints.set_fields():
        issues.append(_issue(item, "no_setpoints", "sets no field"))
    issues.extend(_setpoint_issues(item, item.setpoints, limits))
    match item:
        case WindowItem():
            if not item.weekdays:
                issues.append(_issue(item, "empty_weekdays", "no weekday selected"))
            elif not item.weekdays <= set(range(7)):
                issues.append(_issue(item, "bad_weekday", "weekdays must be 0 (Monday) to 6"))
            if item.start == item.end:
                issues.append(_issue(item, "end_before_start", "window start equals its end"))
        case DefaultItem():
            if item.valid_from is not None or item.valid_until is not None:
                issues.append(_issue(item, "default_dates", "the default item holds at all times: no dates"))
        case CronItem():
            issues.extend(_cron_issues(item, item.cron))
        case IntervalItem():
            if item.every_s <= 0:
                issues.append(_issue(item, "bad_interval", "interval must be positive"))
            elif item.duration_s is not None and not 0 < item.duration_s <= item.every_s:
                issues.append(
                    _issue(item, "bad_duration", "duration must be positive and at most the interval")
                )
        case RampItem():
            starts = [s for s in (item.start_at, item.daily_at, item.cron) if s is not None]
            if len(starts) != 1:
                issues.append(_issue(item, "ramp_start", "give exactly one of start_at, daily_at or cron"))
            elif item.cron is not None:
                issues.extend(_cron_issues(item, item.cron))
            elif item.daily_at is not None and item.duration_s > 86400:
                issues.append(_issue(item, "bad_duration", "a daily ramp lasts at most a day"))
            if item.duration_s <= 0:
                issues.append(_issue(item, "end_before_start", "ramp duration must be positive"))
            if item.step_s <= 0:
                issues.append(_issue(item, "bad_step", "ramp step must be positive"))
            for power in (item.power_from_w, item.power_to_w):
                issues.extend(_setpoint_issues(item, Setpoints(power_w=power), limits))
        case SeriesItem():
            issues.extend(_row_overlaps(item))
            for row in item.rows:
                if row.period_s <= 0:
                    issues.append(_issue(item, "bad_period", "series period must be positive"))
                    break
                issues.extend(
                    _setpoint_issues(
                        item, Setpoints(power_w=row.power_w, reactive_var=row.reactive_var), limits
                    )
                )
    return issues


def _cron_issues(item: Item, cron: str) -> list[ValidationIssue]:
    if (count := len(cron.split())) > 5:
        # cronsim reads a sixth field as seconds and then skips its DST handling.
        message = f"cron {cron!r} has {count} fields, not 5"
        return [_issue(item, "cron_fields", message, cron=cron, count=count)]
    try:
        CronSim(cron, _EPOCH)
    except (CronSimError, ValueError, IndexError) as err:
        return [_issue(item, "bad_cron", f"bad cron {cron!r}: {err}", cron=cron)]
    return []


def _row_overlaps(item: SeriesItem) -> list[ValidationIssue]:
    """The first row (in time) that starts before the previous one ends: rows must not overlap."""
    for before, row in zip(item.rows, item.rows[1:], strict=False):
        if row.start < before.end:
            return [
                _issue(
                    item,
                    "series_rows_overlap",
                    f"the row starting {row.start.isoformat()} overlaps the row starting "
                    f"{before.start.isoformat()}",
                    row=row.start.isoformat(),
                    other=before.start.isoformat(),
                )
            ]
    return []


def _week_minutes(item: WindowItem) -> list[tuple[int, int]]:
    """Minute-of-week intervals (local wall clock) the window covers."""
    start = item.start.hour * 60 + item.start.minute
    end = item.end.hour * 60 + item.end.minute
    length = (end - start) % (24 * 60) or 24 * 60
    out = []
    for day in item.weekdays:
        begin = day * 24 * 60 + start
        out.append((begin, begin + length))
    return out


def _overlap(a: WindowItem, b: WindowItem) -> bool:
    if a.tz != b.tz:
        return True  # different zones drift against each other over DST: assume they can meet
    for a0, a1 in _week_minutes(a):
        for b0, b1 in _week_minutes(b):
            for shift in (-MINUTES_PER_WEEK, 0, MINUTES_PER_WEEK):
                if a0 < b1 + shift and b0 + shift < a1:
                    return True
    return False


def _conflicting_fields(a: Setpoints, b: Setpoints) -> list[str]:
    return sorted(name for name in a.set_fields() & b.set_fields() if getattr(a, name) != getattr(b, name))


def validate_schedule(items: list[Item], limits: Limits | None = None) -> list[ValidationIssue]:
    """Every item's issues plus conflicts between items."""
    issues = [issue for item in items for issue in validate_item(item, limits)]
    defaults = [i for i in items if isinstance(i, DefaultItem)]
    issues.extend(
        _issue(extra, "second_default", f"{defaults[0].name or defaults[0].id} is already the default")
        for extra in defaults[1:]
    )
    windows = [i for i in items if isinstance(i, WindowItem) and i.enabled and i.weekdays]
    for a, b in combinations(windows, 2):
        if a.priority != b.priority:
            continue
        fields = _conflicting_fields(a.setpoints, b.setpoints)
        if fields and _overlap(a, b) and _validity_overlaps(a, b):
            issues.append(
                ValidationIssue(
                    code="overlapping_windows",
                    item_id=b.id,
                    placeholders={
                        "item": b.name or b.id,
                        "other": a.name or a.id,
                        "fields": ", ".join(fields),
                    },
                    message=(
                        f"{b.name or b.id} overlaps {a.name or a.id} at the same priority "
                        f"and sets {', '.join(fields)} differently"
                    ),
                )
            )
    return issues


def _validity_overlaps(a: Item, b: Item) -> bool:
    a_end, b_end = a.valid_until, b.valid_until
    a_start, b_start = a.valid_from, b.valid_from
    return (a_end is None or b_start is None or b_start < a_end) and (
        b_end is None or a_start is None or a_start < b_end
    )
