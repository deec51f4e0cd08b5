"""Forecast and price attribute parsers, and the price item's choice of slots."""

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, strategies as st
import pytest

from custom_components.battery_steward.engine.forecasts import (
    EMHASS,
    EMHASS_ATTRIBUTE,
    SIGN_CHARGE_POSITIVE,
    ForecastFormat,
    ForecastFormatError,
    parse_forecast,
)
from custom_components.battery_steward.engine.prices import (
    PriceFormatError,
    PricePlan,
    PricePoint,
    PriceSlot,
    fill,
    plan_window,
    prices_from_attributes,
    window,
)

from ..plan_fixtures import (
    emhass_battery_scheduled_power,
    entsoe,
    local_slots,
    nordpool_core_response,
    nordpool_custom,
    octopus_rates,
    tibber_response,
)

PARIS = ZoneInfo("Europe/Paris")
HOUR = timedelta(hours=1)
QUARTER = timedelta(minutes=15)


def test_emhass_rows_keep_their_sign_and_step() -> None:
    starts = local_slots(datetime(2026, 6, 1, 0, 0, tzinfo=PARIS), timedelta(minutes=30), 3)
    attrs = emhass_battery_scheduled_power(starts, [-1500.0, 0.0, 2000.456])
    rows = parse_forecast(attrs[EMHASS_ATTRIBUTE], EMHASS)
    assert [r.power_w for r in rows] == [-1500.0, 0.0, 2000.46]  # negative charges, as EMHASS says
    assert [r.period_s for r in rows] == [1800.0, 1800.0, 1800.0]  # the last row as long as the one before
    assert rows[0].start == datetime(2026, 5, 31, 22, 0, tzinfo=UTC)


def test_generic_rows_in_kw_with_charge_positive() -> None:
    fmt = ForecastFormat(
        time_key="start", end_key="end", value_key="kw", unit="kW", sign=SIGN_CHARGE_POSITIVE
    )
    rows = parse_forecast(
        [
            {"start": "2026-06-01T10:00:00+02:00", "end": "2026-06-01T10:15:00+02:00", "kw": 1.5},
            {"start": "2026-06-01T11:00:00+02:00", "kw": "-2"},
            {"start": "2026-06-01T11:30:00+02:00", "kw": 0},
        ],
        fmt,
    )
    assert [(r.power_w, r.period_s) for r in rows] == [(-1500.0, 900.0), (2000.0, 1800.0), (0.0, 1800.0)]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not a list", "expected a non-empty list"),
        ([], "expected a non-empty list"),
        ([{"date": "2026-06-01T10:00:00", "p": 1}, {"date": "2026-06-01T11:00:00", "p": 1}], "no UTC offset"),
        ([{"date": "yesterday", "p": 1}], "not an ISO date-time"),
        ([{"date": 5, "p": 1}], "not a date-time"),
        (
            [
                {"date": "2026-06-01T10:00:00+00:00", "p": "nan"},
                {"date": "2026-06-01T11:00:00+00:00", "p": 1},
            ],
            "finite",
        ),
        ([{"date": "2026-06-01T10:00:00+00:00", "p": True}], "not a number"),
        ([{"date": "2026-06-01T10:00:00+00:00", "p": [1]}], "not a number"),
        ([{"date": "2026-06-01T10:00:00+00:00", "p": 1}], "single row"),
        (["row"], "not a mapping"),
        ([{"p": 1}], "no 'date'"),
        ([{"date": "2026-06-01T10:00:00+00:00", "p": 1, "q": 2}], "one value key"),
        (
            [{"date": "2026-06-01T10:00:00+00:00", "p": 1}, {"date": "2026-06-01T10:00:00+00:00", "p": 2}],
            "rows overlap",
        ),
    ],
)
def test_malformed_forecasts_are_refused_whole(value: object, message: str) -> None:
    with pytest.raises(ForecastFormatError, match=message):
        parse_forecast(value, EMHASS)


def test_generic_format_errors() -> None:
    fmt = ForecastFormat(value_key="v")
    with pytest.raises(ForecastFormatError, match="overlap"):
        parse_forecast(
            [
                {"start": "2026-06-01T10:00:00+00:00", "end": "2026-06-01T11:00:00+00:00", "v": 1},
                {"start": "2026-06-01T10:30:00+00:00", "end": "2026-06-01T11:30:00+00:00", "v": 1},
            ],
            fmt,
        )
    with pytest.raises(ForecastFormatError, match="ends before"):
        parse_forecast(
            [{"start": "2026-06-01T10:00:00+00:00", "end": "2026-06-01T09:00:00+00:00", "v": 1}], fmt
        )
    with pytest.raises(ForecastFormatError, match="no 'v'"):
        parse_forecast([{"start": "2026-06-01T10:00:00+00:00", "end": "2026-06-01T11:00:00+00:00"}], fmt)
    with pytest.raises(ForecastFormatError, match="unit"):
        parse_forecast([], ForecastFormat(unit="MW"))
    with pytest.raises(ForecastFormatError, match="sign"):
        parse_forecast([], ForecastFormat(sign="up"))


@given(
    watts=st.lists(st.floats(min_value=-1e5, max_value=1e5, allow_nan=False), min_size=2, max_size=60),
    step_min=st.sampled_from([15, 30, 60]),
)
def test_emhass_rows_tile_the_horizon(watts: list[float], step_min: int) -> None:
    """Any EMHASS list: contiguous rows, one per value, same order, values rounded as published."""
    starts = local_slots(datetime(2026, 3, 29, 0, 0, tzinfo=PARIS), timedelta(minutes=step_min), len(watts))
    rows = parse_forecast(emhass_battery_scheduled_power(starts, watts)[EMHASS_ATTRIBUTE], EMHASS)
    assert len(rows) == len(watts)
    assert all(a.end == b.start for a, b in pairwise(rows))
    assert [r.power_w for r in rows] == [float(str(round(w, 2))) for w in watts]


def _hourly(
    day_start: datetime, prices: list[float], step: timedelta = HOUR
) -> list[tuple[datetime, datetime, float]]:
    starts = local_slots(day_start, step, len(prices))
    return [(s, s + step, p) for s, p in zip(starts, prices, strict=True)]


def test_every_price_format_reads_the_same_day() -> None:
    day = datetime(2026, 6, 1, 0, 0, tzinfo=PARIS)
    hours = _hourly(day, [float(h) for h in range(24)])
    expected = [PricePoint(start=s.astimezone(UTC), end=e.astimezone(UTC), price=p) for s, e, p in hours]
    assert prices_from_attributes(nordpool_custom(hours, [])) == expected
    assert prices_from_attributes({"response": nordpool_core_response("FR", hours)}, "response") == expected
    assert prices_from_attributes(entsoe([(s, p) for s, _, p in hours], [])) == expected
    assert prices_from_attributes(octopus_rates(hours)) == expected
    tibber = tibber_response("Home", [(s, p) for s, _, p in hours])
    assert prices_from_attributes(tibber, "prices") == expected
    assert prices_from_attributes({"response": tibber}, "response") == expected


def test_price_attribute_errors() -> None:
    with pytest.raises(PriceFormatError, match="none of the known"):
        prices_from_attributes({"unit": "kWh"})
    with pytest.raises(PriceFormatError, match="no attribute"):
        prices_from_attributes({}, "prices")
    with pytest.raises(PriceFormatError, match="one area"):
        prices_from_attributes({"r": {"SE3": [], "SE4": []}}, "r")
    with pytest.raises(PriceFormatError, match="expected a list"):
        prices_from_attributes({"r": 3}, "r")
    with pytest.raises(PriceFormatError, match="not a mapping"):
        prices_from_attributes({"r": [1]}, "r")
    with pytest.raises(PriceFormatError, match="none of start"):
        prices_from_attributes({"r": [{"price": 1}]}, "r")
    with pytest.raises(PriceFormatError, match="single price"):
        prices_from_attributes({"r": [{"time": "2026-06-01T00:00:00+00:00", "price": 1}]}, "r")
    with pytest.raises(PriceFormatError, match="overlap"):
        prices_from_attributes(
            {
                "r": [
                    {"start": "2026-06-01T00:00:00+00:00", "end": "2026-06-01T02:00:00+00:00", "price": 1},
                    {"start": "2026-06-01T01:00:00+00:00", "end": "2026-06-01T02:00:00+00:00", "price": 1},
                ]
            },
            "r",
        )


NIGHT = PricePlan(window_start=time(22), window_end=time(6), charge_hours=3, charge_w=2000, discharge_w=1500)


def test_cheapest_three_hours_of_the_night() -> None:
    evening = datetime(2026, 6, 1, 0, 0, tzinfo=PARIS)
    prices = [50.0] * 22 + [40.0, 30.0] + [20.0, 10.0, 15.0, 25.0, 35.0, 45.0] + [60.0] * 18
    points = prices_from_attributes(
        nordpool_custom(_hourly(evening, prices[:24]), _hourly(evening + timedelta(days=1), prices[24:]))
    )
    slots = plan_window(points, date(2026, 6, 1), NIGHT, PARIS)
    assert slots is not None
    # 00:00-03:00 on the 2nd (prices 20, 10, 15) merged into one slot, charging.
    assert [(s.start.astimezone(PARIS).hour, s.end.astimezone(PARIS).hour, s.power_w) for s in slots] == [
        (0, 3, -2000)
    ]


def test_thresholds_and_dearest_hours_with_quarter_hours() -> None:
    day = datetime(2026, 6, 1, 0, 0, tzinfo=PARIS)
    prices = [float(i % 8) for i in range(96)]  # 96 quarter-hours
    points = prices_from_attributes(entsoe([(s, p) for s, _, p in _hourly(day, prices, QUARTER)], []))
    plan = PricePlan(
        window_start=time(0),
        window_end=time(2),
        charge_below=0.5,
        discharge_hours=0.5,
        charge_w=1000,
        discharge_w=800,
    )
    slots = plan_window(points, date(2026, 6, 1), plan, PARIS)
    assert slots is not None
    local = [
        (s.start.astimezone(PARIS).strftime("%H:%M"), s.end.astimezone(PARIS).strftime("%H:%M"), s.power_w)
        for s in slots
    ]
    # Quarter-hours 00:00..01:45 cost 0..7: only 00:00 is at or under 0.5 and charges; the
    # dearest half hour is 01:30 and 01:45 (6 and 7), merged into one discharging slot.
    assert local == [("00:00", "00:15", -1000), ("01:30", "02:00", 800)]


def test_the_whole_window_is_filled() -> None:
    start = datetime(2026, 6, 1, 20, tzinfo=UTC)
    charge = PriceSlot(start=start + HOUR, end=start + 2 * HOUR, power_w=-1.0)
    filled = fill([charge], start, start + 3 * HOUR)
    assert [(s.start.hour, s.end.hour, s.power_w) for s in filled] == [
        (20, 21, 0.0),
        (21, 22, -1.0),
        (22, 23, 0.0),
    ]
    assert fill([], start, start + HOUR) == [PriceSlot(start=start, end=start + HOUR, power_w=0.0)]
    assert fill([charge], start + HOUR, start + 2 * HOUR) == [charge]


def test_a_window_without_prices_is_missing() -> None:
    day = datetime(2026, 6, 1, 0, 0, tzinfo=PARIS)
    points = prices_from_attributes(nordpool_custom(_hourly(day, [1.0] * 24), []))
    assert plan_window(points, date(2026, 6, 1), NIGHT, PARIS) is None  # tomorrow not published yet
    assert (
        plan_window(points, date(2026, 6, 1), PricePlan(window_start=time(1), window_end=time(3)), PARIS)
        == []
    )


def test_dst_night_has_its_real_length() -> None:
    """Spring-forward night in Paris: 22:00-06:00 is 7 hours; 23 hourly prices cover the day."""
    start = datetime(2026, 3, 28, 0, 0, tzinfo=PARIS)
    first = _hourly(start, [5.0] * 24)
    second = _hourly(datetime(2026, 3, 29, 0, 0, tzinfo=PARIS), [float(h) for h in range(23)])
    points = prices_from_attributes(nordpool_custom(first, second))
    plan = PricePlan(window_start=time(22), window_end=time(6), charge_hours=7, charge_w=1000)
    slots = plan_window(points, date(2026, 3, 28), plan, PARIS)
    assert slots is not None
    assert sum((s.end - s.start for s in slots), timedelta()) == timedelta(hours=7)


@given(
    prices=st.lists(st.integers(min_value=-50, max_value=300), min_size=32, max_size=32),
    charge_quarters=st.integers(min_value=0, max_value=32),
    discharge_quarters=st.integers(min_value=0, max_value=32),
)
def test_chosen_slots_are_the_cheapest_and_dearest(
    prices: list[int], charge_quarters: int, discharge_quarters: int
) -> None:
    """Eight hours of quarter-hours: charge where nothing left is cheaper, discharge where none is dearer."""
    start = datetime(2026, 6, 1, 22, 0, tzinfo=PARIS)
    points = prices_from_attributes(
        nordpool_custom(
            [
                (s, e, float(p))
                for (s, e, _), p in zip(_hourly(start, [0.0] * 32, QUARTER), prices, strict=True)
            ],
            [],
        )
    )
    plan = PricePlan(
        window_start=time(22),
        window_end=time(6),
        charge_hours=charge_quarters / 4,
        discharge_hours=discharge_quarters / 4,
        charge_w=1000,
        discharge_w=500,
    )
    slots = plan_window(points, date(2026, 6, 1), plan, PARIS)
    assert slots is not None
    price_at = {p.start: p.price for p in points}
    charged = {p.start for p in points for s in slots if s.power_w < 0 and s.start <= p.start < s.end}
    discharged = {p.start for p in points for s in slots if s.power_w > 0 and s.start <= p.start < s.end}
    assert len(charged) == charge_quarters
    assert len(discharged) == min(discharge_quarters, 32 - charge_quarters)
    assert not charged & discharged
    rest = set(price_at) - charged - discharged
    if charged and (rest | discharged):
        assert max(price_at[t] for t in charged) <= min(price_at[t] for t in rest | discharged)
    if discharged and rest:
        assert min(price_at[t] for t in discharged) >= max(price_at[t] for t in rest)
    window_start, window_end = window(date(2026, 6, 1), plan, PARIS)
    filled = fill(slots, window_start, window_end)
    assert filled[0].start == window_start
    assert filled[-1].end == window_end
    assert all(a.end == b.start for a, b in pairwise(filled))
