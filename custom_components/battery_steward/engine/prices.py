"""Day-ahead prices other integrations publish -> the slots a price item charges or discharges in.

Pure: no Home Assistant. The attribute formats understood, each from its project's own code:

- Nord Pool, core integration: the `nordpool.get_prices_for_date` action returns
  `{area: [{"start", "end", "price"}]}` (home-assistant/core
  `homeassistant/components/nordpool/services.py`); a template sensor keeps it as an attribute.
- Nord Pool, custom integration: attributes `raw_today` / `raw_tomorrow`, lists of
  `{"start", "end", "value"}` (custom-components/nordpool `custom_components/nordpool/sensor.py`,
  `_add_raw`).
- ENTSO-e: attributes `prices_today` / `prices_tomorrow` (and `prices`), lists of
  `{"time", "price"}` (JaccoR/hass-entso-e `custom_components/entsoe/sensor.py`).
- Octopus Energy: the rates event entities (`event.octopus_energy_electricity_..._current_day_rates`
  / `..._next_day_rates`), attribute `rates`, a list of `{"start", "end", "value_inc_vat", ...}`
  (BottlecapDave/HomeAssistant-OctopusEnergy `_docs/events.md`, `_docs/entities/electricity.md`).
- Tibber, core integration: the `tibber.get_prices` action returns
  `{"prices": {home: [{"start_time", "price"}]}}` (home-assistant/core
  `homeassistant/components/tibber/services.py`).

Hourly and quarter-hour prices alike: a slot lasts until the next one starts (or its `end`).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .forecasts import ForecastFormatError, parse_instant, parse_number, tile
from .localtime import resolve

START_KEYS = ("start", "start_time", "time")
PRICE_KEYS = ("price", "value", "value_inc_vat")
# Attributes looked for, in order, when the item names none: today's and tomorrow's together.
KNOWN_ATTRIBUTES = (
    ("raw_today", "raw_tomorrow"),  # Nord Pool (custom)
    ("prices_today", "prices_tomorrow"),  # ENTSO-e
    ("rates",),  # Octopus Energy rates events
    ("prices",),  # Tibber action response, ENTSO-e
)


class PriceFormatError(ForecastFormatError):
    """The attribute holds no price list this module understands."""


@dataclass(frozen=True, kw_only=True, slots=True)
class PricePoint:
    """One price period, in UTC."""

    start: datetime
    end: datetime
    price: float


def _rows(value: object) -> list[Mapping[str, object]]:
    """The list of price rows inside an attribute value (action responses nest it once or twice)."""
    if isinstance(value, Mapping):
        if "prices" in value:
            return _rows(value["prices"])
        lists = [v for v in value.values() if isinstance(v, (list, tuple, Mapping))]
        if len(lists) != 1:
            raise PriceFormatError(f"expected one area or home, got {sorted(map(str, value))}")
        return _rows(lists[0])
    if not isinstance(value, (list, tuple)):
        raise PriceFormatError(f"expected a list of prices, got {type(value).__name__}")
    for index, row in enumerate(value):
        if not isinstance(row, Mapping):
            raise PriceFormatError(f"price {index}: not a mapping: {row!r}")
    return list(value)


def _first(row: Mapping[str, object], keys: tuple[str, ...], index: int) -> object:
    for key in keys:
        if row.get(key) is not None:
            return row[key]
    raise PriceFormatError(f"price {index}: none of {', '.join(keys)}")


def parse_prices(value: object) -> list[PricePoint]:
    """Every price period of an attribute value, sorted; PriceFormatError says what is wrong."""
    parsed: list[tuple[datetime, datetime | None, float]] = []
    for index, row in enumerate(_rows(value)):
        start = parse_instant(_first(row, START_KEYS, index), f"price {index} start")
        end = parse_instant(row["end"], f"price {index} end") if row.get("end") is not None else None
        parsed.append((start, end, parse_number(_first(row, PRICE_KEYS, index), f"price {index}")))
    try:
        periods = tile(parsed, "price")
    except ForecastFormatError as err:
        raise PriceFormatError(str(err)) from err
    return [PricePoint(start=start, end=end, price=price) for start, end, price in periods]


def prices_from_attributes(
    attributes: Mapping[str, object], attribute: str | None = None
) -> list[PricePoint]:
    """The prices of an entity: the named attribute, or today's and tomorrow's known ones.

    An empty or missing tomorrow (not published yet) is not an error; no price at all is.
    """
    if attribute:
        if attribute not in attributes:
            raise PriceFormatError(f"no attribute {attribute!r}")
        return parse_prices(attributes[attribute])
    for names in KNOWN_ATTRIBUTES:
        if names[0] in attributes:
            rows: list[object] = []
            for name in names:
                rows.extend(_rows(attributes.get(name) or []))
            return parse_prices(rows)
    raise PriceFormatError(
        f"none of the known price attributes ({', '.join(n[0] for n in KNOWN_ATTRIBUTES)})"
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class PricePlan:
    """Charge in the cheapest hours and discharge in the dearest ones of a daily local window.

    A count (hours, quarter-hours count as a quarter each) and a threshold may be combined: the
    cheapest slots at or under `charge_below`, at most `charge_hours` of them. None: no limit of
    that kind; neither: no charging. Powers are magnitudes in W.
    """

    window_start: time
    window_end: time
    charge_hours: float | None = None
    discharge_hours: float | None = None
    charge_below: float | None = None
    discharge_above: float | None = None
    charge_w: float = 0.0
    discharge_w: float = 0.0


@dataclass(frozen=True, kw_only=True, slots=True)
class PriceSlot:
    """From start to end, this signed power (+ discharge, - charge)."""

    start: datetime
    end: datetime
    power_w: float


def window(day: date, plan: PricePlan, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The window starting on local `day`, in UTC (it may end the next day; DST as docs/schedules.md)."""
    end_day = day if plan.window_end > plan.window_start else day + timedelta(days=1)
    return resolve(day, plan.window_start, tz), resolve(end_day, plan.window_end, tz)


def _pick(
    slots: list[PricePoint], hours: float | None, threshold: float | None, *, cheapest: bool
) -> list[PricePoint]:
    if hours is None and threshold is None:
        return []
    candidates = [
        p for p in slots if threshold is None or (p.price <= threshold if cheapest else p.price >= threshold)
    ]
    candidates.sort(key=lambda p: (p.price if cheapest else -p.price, p.start))
    if hours is None:
        return candidates
    budget = hours * 3600.0
    chosen: list[PricePoint] = []
    for point in candidates:
        if budget <= 0:
            break
        chosen.append(point)
        budget -= (point.end - point.start).total_seconds()
    return chosen


def plan_window(prices: list[PricePoint], day: date, plan: PricePlan, tz: ZoneInfo) -> list[PriceSlot] | None:
    """The slots of the window starting on `day`; None when the prices do not cover the window."""
    start, end = window(day, plan, tz)
    inside = [p for p in prices if p.start >= start and p.end <= end]
    covered = sum((p.end - p.start).total_seconds() for p in inside)
    if covered < (end - start).total_seconds():
        return None
    charge = _pick(inside, plan.charge_hours, plan.charge_below, cheapest=True)
    taken = {p.start for p in charge}
    rest = [p for p in inside if p.start not in taken]
    discharge = _pick(rest, plan.discharge_hours, plan.discharge_above, cheapest=False)
    slots = [PriceSlot(start=p.start, end=p.end, power_w=-abs(plan.charge_w)) for p in charge]
    slots += [PriceSlot(start=p.start, end=p.end, power_w=abs(plan.discharge_w)) for p in discharge]
    return merge(sorted(slots, key=lambda s: s.start))


def fill(slots: list[PriceSlot], start: datetime, end: datetime) -> list[PriceSlot]:
    """The whole window: the chosen slots, and 0 W (not chosen: automatic mode) in between."""
    out: list[PriceSlot] = []
    cursor = start
    for slot in slots:
        if slot.start > cursor:
            out.append(PriceSlot(start=cursor, end=slot.start, power_w=0.0))
        out.append(slot)
        cursor = slot.end
    if cursor < end:
        out.append(PriceSlot(start=cursor, end=end, power_w=0.0))
    return out


def merge(slots: list[PriceSlot]) -> list[PriceSlot]:
    """Adjacent slots of the same power as one."""
    merged: list[PriceSlot] = []
    for slot in slots:
        if merged and merged[-1].end == slot.start and merged[-1].power_w == slot.power_w:
            merged[-1] = PriceSlot(start=merged[-1].start, end=slot.end, power_w=slot.power_w)
        else:
            merged.append(slot)
    return merged
