"""Items to and from JSON-safe dicts (config subentries, Stores, service calls)."""

from datetime import datetime, time
from typing import Any

from .items import (
    CronItem,
    DefaultItem,
    IntervalItem,
    Item,
    OneOffItem,
    RampItem,
    SeriesItem,
    SeriesRow,
    WindowItem,
)
from .state import Mode, Setpoints

ITEM_TYPES: dict[str, type[Item]] = {
    "window": WindowItem,
    "cron": CronItem,
    "interval": IntervalItem,
    "one_off": OneOffItem,
    "ramp": RampItem,
    "series": SeriesItem,
    "default": DefaultItem,
}
TYPE_NAMES = {cls: name for name, cls in ITEM_TYPES.items()}


class ItemFormatError(ValueError):
    """A stored or submitted item is malformed; `field` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        """Say which field and why."""
        super().__init__(f"{field}: {message}")
        self.field = field


def setpoints_to_dict(setpoints: Setpoints) -> dict[str, Any]:
    """Only the fields that are set; the mode by name."""
    out: dict[str, Any] = {}
    for name in ("mode", "reserve_pct", "power_w", "reactive_var"):
        value = getattr(setpoints, name)
        if value is not None:
            out[name] = value.value if isinstance(value, Mode) else value
    return out


def setpoints_from_dict(data: dict[str, Any]) -> Setpoints:
    """Inverse of setpoints_to_dict."""
    try:
        return Setpoints(
            mode=Mode(data["mode"]) if data.get("mode") is not None else None,
            reserve_pct=_opt_float(data, "reserve_pct"),
            power_w=_opt_float(data, "power_w"),
            reactive_var=_opt_float(data, "reactive_var"),
        )
    except ValueError as err:
        if isinstance(err, ItemFormatError):
            raise
        raise ItemFormatError("mode", f"unknown mode {data.get('mode')!r}") from err


def _opt_float(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise ItemFormatError(key, f"not a number: {value!r}") from err


def _dt(data: dict[str, Any], key: str, *, required: bool = True) -> datetime | None:
    value = data.get(key)
    if value is None:
        if required:
            raise ItemFormatError(key, "missing")
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError as err:
            raise ItemFormatError(key, f"not an ISO date-time: {value!r}") from err
    if parsed.tzinfo is None:
        raise ItemFormatError(key, "needs a time zone offset")
    return parsed


def _time(data: dict[str, Any], key: str) -> time:
    value = data.get(key)
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value))
    except ValueError as err:
        raise ItemFormatError(key, f"not a time of day (HH:MM): {value!r}") from err


def _float(data: dict[str, Any], key: str) -> float:
    value = _opt_float(data, key)
    if value is None:
        raise ItemFormatError(key, "missing")
    return value


def item_to_dict(item: Item) -> dict[str, Any]:
    """JSON-safe form of an item."""
    out: dict[str, Any] = {
        "type": TYPE_NAMES[type(item)],
        "id": item.id,
        "name": item.name,
        "enabled": item.enabled,
        "priority": item.priority,
        "valid_from": item.valid_from.isoformat() if item.valid_from else None,
        "valid_until": item.valid_until.isoformat() if item.valid_until else None,
        "tz": item.tz,
        "setpoints": setpoints_to_dict(item.setpoints),
    }
    match item:
        case WindowItem():
            out |= {
                "weekdays": sorted(item.weekdays),
                "start": item.start.isoformat(),
                "end": item.end.isoformat(),
            }
        case CronItem():
            out["cron"] = item.cron
        case IntervalItem():
            out |= {
                "anchor": item.anchor.isoformat(),
                "every_s": item.every_s,
                "duration_s": item.duration_s,
            }
        case OneOffItem():
            out |= {"at": item.at.isoformat(), "misfire_grace_s": item.misfire_grace_s}
        case RampItem():
            out |= {
                "start_at": item.start_at.isoformat() if item.start_at else None,
                "daily_at": item.daily_at.isoformat() if item.daily_at else None,
                "cron": item.cron,
                "duration_s": item.duration_s,
                "power_from_w": item.power_from_w,
                "power_to_w": item.power_to_w,
                "step_s": item.step_s,
            }
        case SeriesItem():
            out["rows"] = [
                {
                    "start": row.start.isoformat(),
                    "period_s": row.period_s,
                    "power_w": row.power_w,
                    "reactive_var": row.reactive_var,
                }
                for row in item.rows
            ]
    return out


def item_from_dict(data: dict[str, Any]) -> Item:
    """Build an item from its dict; ItemFormatError names the bad field."""
    kind = data.get("type")
    if kind not in ITEM_TYPES:
        raise ItemFormatError("type", f"unknown item type {kind!r}")
    if not data.get("id"):
        raise ItemFormatError("id", "missing")
    common: dict[str, Any] = {
        "id": str(data["id"]),
        "name": str(data.get("name") or ""),
        "enabled": bool(data.get("enabled", True)),
        "priority": int(data.get("priority", 0)),
        "valid_from": _dt(data, "valid_from", required=False),
        "valid_until": _dt(data, "valid_until", required=False),
        "tz": str(data.get("tz") or "UTC"),
        "setpoints": setpoints_from_dict(dict(data.get("setpoints") or {})),
    }
    match kind:
        case "default":
            return DefaultItem(**common)
        case "window":
            weekdays = data.get("weekdays")
            if not isinstance(weekdays, (list, tuple, set, frozenset)):
                raise ItemFormatError("weekdays", "must be a list of 0..6 (Monday = 0)")
            return WindowItem(
                **common,
                weekdays=frozenset(int(d) for d in weekdays),
                start=_time(data, "start"),
                end=_time(data, "end"),
            )
        case "cron":
            return CronItem(**common, cron=str(data.get("cron") or ""))
        case "interval":
            duration = _opt_float(data, "duration_s")
            anchor = _dt(data, "anchor")
            assert anchor is not None
            return IntervalItem(**common, anchor=anchor, every_s=_float(data, "every_s"), duration_s=duration)
        case "one_off":
            at = _dt(data, "at")
            assert at is not None
            return OneOffItem(**common, at=at, misfire_grace_s=float(data.get("misfire_grace_s", 300.0)))
        case "ramp":
            return RampItem(
                **common,
                start_at=_dt(data, "start_at", required=False),
                daily_at=_time(data, "daily_at") if data.get("daily_at") is not None else None,
                cron=str(data["cron"]) if data.get("cron") else None,
                duration_s=_float(data, "duration_s"),
                power_from_w=_float(data, "power_from_w"),
                power_to_w=_float(data, "power_to_w"),
                step_s=float(data.get("step_s", 60.0)),
            )
    rows = []
    for row in data.get("rows") or []:
        start = _dt(row, "start")
        assert start is not None
        rows.append(
            SeriesRow(
                start=start,
                period_s=_float(row, "period_s"),
                power_w=_float(row, "power_w"),
                reactive_var=_opt_float(row, "reactive_var"),
            )
        )
    return SeriesItem(**common, rows=tuple(sorted(rows, key=lambda r: r.start)))
