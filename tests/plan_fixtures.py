"""Attribute values shaped exactly as each publishing project documents or builds them.

Each builder names its source; the numbers are ours, the shapes (keys, nesting, value types) are
theirs. Instants are built from a local start so DST days get 23 or 25 hours of rows.
"""

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo


def local_slots(day_start: datetime, step: timedelta, count: int) -> list[datetime]:
    """`count` instants `step` apart from an aware start, as UTC arithmetic (DST-safe)."""
    tz = day_start.tzinfo
    assert isinstance(tz, ZoneInfo)
    first = day_start.astimezone(ZoneInfo("UTC"))
    return [(first + i * step).astimezone(tz) for i in range(count)]


def emhass_battery_scheduled_power(starts: list[datetime], watts: list[float]) -> dict[str, Any]:
    """sensor.p_batt_forecast attributes, as EMHASS publishes them.

    davidusb-geek/emhass src/emhass/retrieve_hass.py, RetrieveHass.get_attr_data_dict: each row
    is {"date": timestamp.isoformat(), "<entity object id>": str(np.round(value, 2))}, under
    "battery_scheduled_power" for type_var "batt"; unit W, device_class power.
    """
    return {
        "device_class": "power",
        "unit_of_measurement": "W",
        "friendly_name": "Battery Power Forecast",
        "state_class": "measurement",
        "battery_scheduled_power": [
            {"date": at.isoformat(), "p_batt_forecast": str(round(w, 2))}
            for at, w in zip(starts, watts, strict=True)
        ],
    }


def nordpool_custom(
    today: list[tuple[datetime, datetime, float]], tomorrow: list[tuple[datetime, datetime, float]]
) -> dict[str, Any]:
    """custom-components/nordpool sensor attributes: raw_today / raw_tomorrow of {start, end, value}.

    custom_components/nordpool/sensor.py, NordpoolSensor._add_raw (datetimes kept as datetimes in
    the state machine; ISO strings once restored or exported).
    """
    return {
        "unit": "kWh",
        "currency": "EUR",
        "raw_today": [{"start": s, "end": e, "value": v} for s, e, v in today],
        "raw_tomorrow": [{"start": s, "end": e, "value": v} for s, e, v in tomorrow],
        "tomorrow_valid": bool(tomorrow),
    }


def nordpool_core_response(area: str, prices: list[tuple[datetime, datetime, float]]) -> dict[str, Any]:
    """The nordpool.get_prices_for_date action response (home-assistant/core nordpool/services.py)."""
    return {area: [{"start": s.isoformat(), "end": e.isoformat(), "price": p} for s, e, p in prices]}


def entsoe(today: list[tuple[datetime, float]], tomorrow: list[tuple[datetime, float]]) -> dict[str, Any]:
    """JaccoR/hass-entso-e average-price sensor attributes: prices_today / _tomorrow of {time, price}."""
    return {
        "prices_today": [{"time": t.isoformat(), "price": p} for t, p in today],
        "prices_tomorrow": [{"time": t.isoformat(), "price": p} for t, p in tomorrow],
        "prices": [{"time": t.isoformat(), "price": p} for t, p in today + tomorrow],
    }


def octopus_rates(rates: list[tuple[datetime, datetime, float]]) -> dict[str, Any]:
    """BottlecapDave/HomeAssistant-OctopusEnergy rates event entity (_docs/events.md): `rates` list."""
    return {
        "event_types": ["octopus_energy_electricity_current_day_rates"],
        "rates": [
            {"start": s.isoformat(), "end": e.isoformat(), "value_inc_vat": v, "is_capped": False}
            for s, e, v in rates
        ],
        "tariff_code": "E-1R-AGILE-FLEX-22-11-25-C",
    }


def tibber_response(home: str, prices: list[tuple[datetime, float]]) -> dict[str, Any]:
    """The tibber.get_prices action response (home-assistant/core tibber/services.py)."""
    return {"prices": {home: [{"start_time": t.isoformat(), "price": p} for t, p in prices]}}
