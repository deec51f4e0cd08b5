"""Forecast lists other integrations publish as an attribute -> day-ahead series rows.

Pure: no Home Assistant. Two shapes are understood:

- EMHASS `sensor.p_batt_forecast`, attribute `battery_scheduled_power`: a list of
  `{"date": <ISO instant>, "p_batt_forecast": "<watts as a string>"}`, one per optimisation time
  step, the value key named after the entity (`RetrieveHass.get_attr_data_dict` in
  davidusb-geek/emhass `src/emhass/retrieve_hass.py`). Sign, as `docs/publish_data.md` of the same
  repository says: "If negative it indicates the battery is charging, if positive that the battery
  is discharging" - Battery Steward's own convention (+ discharge, - charge).
- a generic list of `{start, end?, value}` or `{date, value}` rows with a chosen time key, value
  key, unit (W or kW) and sign.

A row without an end lasts until the next row starts; the last one as long as the one before it.
Rows that overlap, values that are not finite numbers and instants without a UTC offset are
refused whole (ForecastFormatError): the caller keeps the series it had.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
import math

from .items import SeriesRow

UNITS = {"W": 1.0, "kW": 1000.0}
SIGN_DISCHARGE_POSITIVE = "discharge_positive"
SIGN_CHARGE_POSITIVE = "charge_positive"
SIGNS = (SIGN_DISCHARGE_POSITIVE, SIGN_CHARGE_POSITIVE)


class ForecastFormatError(ValueError):
    """The attribute is not a forecast list this format understands."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ForecastFormat:
    """Where a row keeps its instant, end and value, and what the value means."""

    time_key: str = "start"
    end_key: str | None = "end"
    value_key: str | None = None  # None: the row's only other key (EMHASS names it after the entity)
    unit: str = "W"
    sign: str = SIGN_DISCHARGE_POSITIVE


# davidusb-geek/emhass: src/emhass/retrieve_hass.py (get_attr_data_dict), docs/publish_data.md
EMHASS = ForecastFormat(time_key="date", end_key=None, value_key=None, unit="W")
EMHASS_ATTRIBUTE = "battery_scheduled_power"


def parse_instant(value: object, what: str) -> datetime:
    """An aware instant from an ISO string or a datetime (HA keeps datetimes in attributes)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError as err:
            raise ForecastFormatError(f"{what}: not an ISO date-time: {value!r}") from err
    else:
        raise ForecastFormatError(f"{what}: not a date-time: {value!r}")
    if parsed.tzinfo is None:
        raise ForecastFormatError(f"{what}: {value!r} has no UTC offset")
    return parsed.astimezone(UTC)


def parse_number(value: object, what: str) -> float:
    """A finite float from a number or a numeric string (EMHASS publishes strings)."""
    if isinstance(value, bool):
        raise ForecastFormatError(f"{what}: not a number: {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as err:
        raise ForecastFormatError(f"{what}: not a number: {value!r}") from err
    if not math.isfinite(number):
        raise ForecastFormatError(f"{what}: not a finite number: {value!r}")
    return number


def _value_key(row: Mapping[str, object], fmt: ForecastFormat, index: int) -> str:
    if fmt.value_key is not None:
        return fmt.value_key
    others = [key for key in row if key not in (fmt.time_key, fmt.end_key)]
    if len(others) != 1:
        raise ForecastFormatError(
            f"row {index}: expected one value key besides {fmt.time_key!r}, got {others}"
        )
    return others[0]


def parse_forecast(value: object, fmt: ForecastFormat) -> list[SeriesRow]:
    """The rows of a forecast list, sorted, in UTC; ForecastFormatError says what is wrong."""
    if fmt.unit not in UNITS:
        raise ForecastFormatError(f"unknown unit {fmt.unit!r}")
    if fmt.sign not in SIGNS:
        raise ForecastFormatError(f"unknown sign {fmt.sign!r}")
    if not isinstance(value, (list, tuple)) or not value:
        raise ForecastFormatError(f"expected a non-empty list of rows, got {type(value).__name__}")
    scale = UNITS[fmt.unit] * (1.0 if fmt.sign == SIGN_DISCHARGE_POSITIVE else -1.0)
    parsed: list[tuple[datetime, datetime | None, float]] = []
    for index, row in enumerate(value):
        if not isinstance(row, Mapping):
            raise ForecastFormatError(f"row {index}: not a mapping: {row!r}")
        if fmt.time_key not in row:
            raise ForecastFormatError(f"row {index}: no {fmt.time_key!r}")
        start = parse_instant(row[fmt.time_key], f"row {index} {fmt.time_key}")
        end = None
        if fmt.end_key is not None and row.get(fmt.end_key) is not None:
            end = parse_instant(row[fmt.end_key], f"row {index} {fmt.end_key}")
            if end <= start:
                raise ForecastFormatError(f"row {index}: ends before it starts")
        key = _value_key(row, fmt, index)
        if key not in row:
            raise ForecastFormatError(f"row {index}: no {key!r}")
        parsed.append((start, end, parse_number(row[key], f"row {index} {key}") * scale))
    return [
        SeriesRow(start=start, period_s=(end - start).total_seconds(), power_w=power)
        for start, end, power in tile(parsed, "row")
    ]


def tile(
    parsed: list[tuple[datetime, datetime | None, float]], what: str
) -> list[tuple[datetime, datetime, float]]:
    """Sorted periods: one without an end lasts until the next starts, the last as the one before.

    Overlaps and a lone period without an end are ForecastFormatError.
    """
    ordered = sorted(parsed, key=lambda r: r[0])
    out: list[tuple[datetime, datetime, float]] = []
    for index, (start, given_end, value) in enumerate(ordered):
        end = given_end
        if end is None:
            if index + 1 < len(ordered):
                end = ordered[index + 1][0]
            elif out:
                end = start + (out[-1][1] - out[-1][0])
            else:
                raise ForecastFormatError(f"a single {what} without an end: its period is unknown")
        if end <= start or (out and start < out[-1][1]):
            raise ForecastFormatError(f"{what}s overlap at {start.isoformat()}")
        out.append((start, end, value))
    return out
