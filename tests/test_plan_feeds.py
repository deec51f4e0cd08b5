"""Plans from other integrations, against the simulator over frozen days.

Real Home Assistant entities carry the attribute formats of EMHASS, Nord Pool, ENTSO-e and a
Tempo-style colour (tests/plan_fixtures.py names each source); the battery must hold what the plan
says at every slot's instant.
"""

from datetime import date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.device.registers import MODE_CODES
from custom_components.battery_steward.device.simulator import SimulatedBattery
from custom_components.battery_steward.plan_feeds import SUBENTRY_PEAK, SUBENTRY_PRICE, SUBENTRY_SERIES

from .conftest import SERIAL, modbus_data
from .helpers import controller, cron_item, device_id, freeze_at, item, load, move_to
from .plan_fixtures import emhass_battery_scheduled_power, entsoe, local_slots, nordpool_custom

FORECAST = "sensor.p_batt_forecast"
PRICES = "sensor.nordpool_kwh_fr_eur_3_10_0"
HALF_HOUR = timedelta(minutes=30)
PATTERN = [-2000.0, -1000.0, 0.0, 1500.0, 2500.0, 0.0]


def plan(kind: str, title: str, **data: Any) -> ConfigSubentryData:
    """A plan subentry."""
    return ConfigSubentryData(data=data, subentry_type=kind, title=title, unique_id=None)


SERIES = plan(SUBENTRY_SERIES, "EMHASS", entity_id=FORECAST, format="emhass")


async def start(
    hass: HomeAssistant,
    simulator: SimulatedBattery,
    hass_storage: dict[str, Any],
    subentries: list[ConfigSubentryData],
    *,
    source: str = "manual",
) -> MockConfigEntry:
    """An entry for the simulator with these subentries, its schedule source already chosen."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=SERIAL,
        title="Battery",
        data=modbus_data(simulator.port),
        subentries_data=subentries,
    )
    hass_storage[f"{DOMAIN}.{entry.entry_id}"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"{DOMAIN}.{entry.entry_id}",
        "data": {"journal": [], "source": source},
    }
    return await load(hass, entry, wait="background")


def held(simulator: SimulatedBattery) -> tuple[int, float]:
    """The mode code and signed power setpoint the battery holds."""
    return int(simulator.read_register("mode")), float(simulator.read_register("power_setpoint_w"))


def expected(power: float) -> tuple[int, float]:
    """What a series row of this power dispatches (0 W is idle: 0 in a force mode is the full rate)."""
    mode = "force_discharge" if power > 0 else "force_charge" if power < 0 else "idle"
    return MODE_CODES[mode], power


def issues(hass: HomeAssistant) -> list[ir.IssueEntry]:
    return [i for i in ir.async_get(hass).issues.values() if i.translation_key == "plan_entity_invalid"]


# ------------------------------------------------------------------------------------- series


@pytest.mark.parametrize(
    ("zone", "day", "rows"),
    [
        ("Europe/Paris", date(2026, 3, 29), 46),  # spring forward: 23 hours
        ("America/New_York", date(2026, 11, 1), 50),  # fall back: 25 hours
    ],
)
async def test_emhass_rows_land_at_their_instants_over_a_dst_day(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    hass_storage: dict[str, Any],
    zone: str,
    day: date,
    rows: int,
) -> None:
    tz = ZoneInfo(zone)
    midnight = datetime.combine(day, time(0), tzinfo=tz)
    starts = local_slots(midnight, HALF_HOUR, rows)
    assert (starts[-1] + HALF_HOUR).astimezone(tz) == datetime.combine(
        day + timedelta(days=1), time(0), tzinfo=tz
    )
    watts = [PATTERN[i % len(PATTERN)] for i in range(rows)]
    await freeze_at(hass, freezer, midnight - timedelta(minutes=5), zone)
    hass.states.async_set(FORECAST, "0", emhass_battery_scheduled_power(starts, watts))
    await start(hass, simulator, hass_storage, [SERIES], source="entity")
    assert held(simulator) == expected(0.0)  # before the first row: stale, idle
    for at, power in zip(starts, watts, strict=True):
        await move_to(hass, freezer, at)
        assert held(simulator) == expected(power), at.isoformat()
    await move_to(hass, freezer, starts[-1] + HALF_HOUR)
    assert held(simulator) == expected(0.0)  # after the last row: stale again


async def test_forecast_updated_mid_day_is_followed_at_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    hass_storage: dict[str, Any],
) -> None:
    tz = ZoneInfo("Europe/Paris")
    morning = datetime(2026, 6, 1, 8, 0, tzinfo=tz)
    await freeze_at(hass, freezer, morning)
    hass.states.async_set(
        FORECAST, "-1000", emhass_battery_scheduled_power(local_slots(morning, HALF_HOUR, 32), [-1000.0] * 32)
    )
    await start(hass, simulator, hass_storage, [SERIES], source="entity")
    assert held(simulator) == expected(-1000.0)
    noon = datetime(2026, 6, 1, 12, 10, tzinfo=tz)
    await move_to(hass, freezer, noon)
    # EMHASS's MPC re-publishes from the current step on.
    hass.states.async_set(
        FORECAST,
        "1200",
        emhass_battery_scheduled_power(
            local_slots(noon.replace(minute=0), HALF_HOUR, 4), [1200.0, -300.0, 0, 0]
        ),
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert held(simulator) == expected(1200.0)
    await move_to(hass, freezer, noon.replace(minute=30))
    assert held(simulator) == expected(-300.0)


async def test_malformed_and_missing_forecast_keep_the_previous_series_until_stale(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    hass_storage: dict[str, Any],
) -> None:
    tz = ZoneInfo("Europe/Paris")
    t0 = datetime(2026, 6, 1, 10, 0, tzinfo=tz)
    await freeze_at(hass, freezer, t0)
    hass.states.async_set(
        FORECAST, "800", emhass_battery_scheduled_power(local_slots(t0, HALF_HOUR, 3), [800.0, -700.0, 600.0])
    )
    entry = await start(hass, simulator, hass_storage, [SERIES], source="entity")
    assert held(simulator) == expected(800.0)
    assert not issues(hass)
    # A value that is not a number: refused whole, a repair issue, the previous rows go on.
    broken = emhass_battery_scheduled_power(local_slots(t0, HALF_HOUR, 3), [5.0, 5.0, 5.0])
    broken["battery_scheduled_power"][1]["p_batt_forecast"] = "nan"
    hass.states.async_set(FORECAST, "800", broken)
    await hass.async_block_till_done(wait_background_tasks=True)
    [issue] = issues(hass)
    assert issue.translation_placeholders is not None
    assert "finite" in issue.translation_placeholders["error"]
    assert held(simulator) == expected(800.0)
    await move_to(hass, freezer, t0 + HALF_HOUR)
    assert held(simulator) == expected(-700.0)
    # Beyond the battery's limits: refused too (the issue says why).
    hass.states.async_set(
        FORECAST, "9000", emhass_battery_scheduled_power(local_slots(t0, HALF_HOUR, 3), [9000.0] * 3)
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    [issue] = issues(hass)
    assert held(simulator) == expected(-700.0)
    # The attribute is gone (EMHASS not published yet after its restart): refused the same way.
    hass.states.async_set(FORECAST, "0", {"unit_of_measurement": "W"})
    await hass.async_block_till_done(wait_background_tasks=True)
    [issue] = issues(hass)
    assert issue.translation_placeholders is not None
    assert "no attribute 'battery_scheduled_power'" in issue.translation_placeholders["error"]
    # The entity disappears: the series already received is followed until it goes stale.
    hass.states.async_remove(FORECAST)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert issues(hass)
    await move_to(hass, freezer, t0 + 2 * HALF_HOUR)
    assert held(simulator) == expected(600.0)
    await move_to(hass, freezer, t0 + 3 * HALF_HOUR)
    assert held(simulator) == expected(0.0)
    # Valid again: the issue clears and the new rows are followed.
    later = t0 + 3 * HALF_HOUR
    hass.states.async_set(
        FORECAST, "-1500", emhass_battery_scheduled_power(local_slots(later, HALF_HOUR, 2), [-1500.0, 0.0])
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert not issues(hass)
    assert held(simulator) == expected(-1500.0)
    assert controller(entry).source == "entity"


async def test_generic_list_in_kw_with_charge_positive(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    hass_storage: dict[str, Any],
) -> None:
    tz = ZoneInfo("Europe/Paris")
    t0 = datetime(2026, 6, 1, 10, 0, tzinfo=tz)
    await freeze_at(hass, freezer, t0)
    hass.states.async_set(
        "sensor.plan",
        "ok",
        {
            "schedule": [
                {"start": t0.isoformat(), "end": (t0 + timedelta(minutes=15)).isoformat(), "kw": 1.5},
                {
                    "start": (t0 + timedelta(minutes=15)).isoformat(),
                    "end": (t0 + timedelta(minutes=30)).isoformat(),
                    "kw": -2,
                },
            ]
        },
    )
    generic = plan(
        SUBENTRY_SERIES,
        "Optimizer",
        entity_id="sensor.plan",
        format="generic",
        attribute="schedule",
        time_key="start",
        end_key="end",
        value_key="kw",
        unit="kW",
        sign="charge_positive",
    )
    await start(hass, simulator, hass_storage, [generic], source="entity")
    assert held(simulator) == expected(-1500.0)  # +1.5 kW charging
    await move_to(hass, freezer, t0 + timedelta(minutes=15))
    assert held(simulator) == expected(2000.0)


# ------------------------------------------------------------------------------------- prices


NIGHT = plan(
    SUBENTRY_PRICE,
    "Cheapest night hours",
    entity_id=PRICES,
    window_start="22:00:00",
    window_end="06:00:00",
    charge_hours=3,
    charge_w=2000,
    discharge_w=0,
)


def _hours(
    day_start: datetime, prices: list[float], step: timedelta = timedelta(hours=1)
) -> list[tuple[datetime, datetime, float]]:
    return [(s, s + step, p) for s, p in zip(local_slots(day_start, step, len(prices)), prices, strict=True)]


async def preview(hass: HomeAssistant, entry: MockConfigEntry, hours: int = 24) -> list[dict[str, Any]]:
    response = await hass.services.async_call(
        DOMAIN,
        "preview_plan",
        {"device_id": device_id(hass, entry), "hours": hours},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    [changes] = list(cast(dict[str, dict[str, Any]], response).values())
    return cast(list[dict[str, Any]], changes["changes"])


async def test_cheapest_three_hours_of_the_night_planned_when_tomorrows_prices_arrive(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    hass_storage: dict[str, Any],
) -> None:
    tz = ZoneInfo("Europe/Paris")
    today = datetime(2026, 6, 1, 0, 0, tzinfo=tz)
    await freeze_at(hass, freezer, today.replace(hour=11))
    hass.states.async_set(PRICES, "0.1", nordpool_custom(_hours(today, [0.10] * 22 + [0.08, 0.07]), []))
    entry = await start(hass, simulator, hass_storage, [NIGHT], source="manual")
    assert await preview(hass, entry) == []  # tomorrow's prices are not out: nothing planned
    await move_to(hass, freezer, today.replace(hour=13))
    tomorrow = [0.05, 0.03, 0.02, 0.04, 0.06, 0.09] + [0.12] * 18
    hass.states.async_set(
        PRICES,
        "0.1",
        nordpool_custom(
            _hours(today, [0.10] * 22 + [0.08, 0.07]), _hours(today + timedelta(days=1), tomorrow)
        ),
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    changes = await preview(hass, entry)
    local = [
        (datetime.fromisoformat(c["local"]).strftime("%H:%M"), c["setpoints"].get("power_w")) for c in changes
    ]
    # 01:00-04:00 (0.03, 0.02, 0.04) is cheapest: charge, then back to the base state.
    assert local == [("01:00", -2000.0), ("04:00", None)]
    for hour, want in ((0, None), (1, -2000.0), (3, -2000.0)):
        await move_to(hass, freezer, (today + timedelta(days=1)).replace(hour=hour))
        if want is not None:
            assert held(simulator) == (MODE_CODES["force_charge"], want)
    await move_to(hass, freezer, (today + timedelta(days=1)).replace(hour=4))
    assert held(simulator)[0] == MODE_CODES["force_charge"]  # nothing else says otherwise: the step holds


async def test_a_missing_day_falls_back_and_the_journal_says_so(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    hass_storage: dict[str, Any],
) -> None:
    tz = ZoneInfo("Europe/Paris")
    today = datetime(2026, 6, 1, 0, 0, tzinfo=tz)
    await freeze_at(hass, freezer, today.replace(hour=20))
    hass.states.async_set(PRICES, "0.1", nordpool_custom(_hours(today, [0.10] * 24), []))
    base = item(cron_item("Evening", "0 21 * * *", mode="auto"))
    entry = await start(hass, simulator, hass_storage, [NIGHT, base], source="manual")
    await move_to(hass, freezer, today.replace(hour=21, minute=30))
    hass.states.async_set(
        PRICES, "0.11", nordpool_custom(_hours(today, [0.10] * 24), [])
    )  # the hourly update
    await hass.async_block_till_done(wait_background_tasks=True)
    notes = [r.note for r in controller(entry).journal.query() if r.note]
    assert any("no prices for the window of 2026-06-01" in n for n in notes)
    await move_to(hass, freezer, today.replace(hour=23))
    assert held(simulator)[0] == MODE_CODES["auto"]  # the other items apply


async def test_96_quarter_hours_of_entsoe_prices(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    hass_storage: dict[str, Any],
) -> None:
    tz = ZoneInfo("Europe/Paris")
    day = datetime(2026, 6, 2, 0, 0, tzinfo=tz)
    quarter = timedelta(minutes=15)
    prices = [0.20] * 96
    for i, p in ((40, 0.01), (41, 0.02), (60, 0.03), (61, 0.04), (80, 0.90)):
        prices[i] = p
    await freeze_at(hass, freezer, day - timedelta(hours=10))
    hass.states.async_set(
        "sensor.entsoe_average_price", "0.2", entsoe([], [(s, p) for s, _, p in _hours(day, prices, quarter)])
    )
    quarters = plan(
        SUBENTRY_PRICE,
        "Quarter-hours",
        entity_id="sensor.entsoe_average_price",
        window_start="00:00:00",
        window_end="00:00:00",
        charge_hours=1,
        discharge_hours=0.25,
        charge_w=1000,
        discharge_w=3000,
    )
    entry = await start(hass, simulator, hass_storage, [quarters])
    changes = await preview(hass, entry, hours=48)
    local = [
        (datetime.fromisoformat(c["local"]).strftime("%H:%M"), c["setpoints"].get("power_w")) for c in changes
    ]
    assert local == [
        ("10:00", -1000.0),
        ("10:30", None),
        ("15:00", -1000.0),
        ("15:30", None),
        ("20:00", 3000.0),
        ("20:15", None),
    ]
    await move_to(hass, freezer, day.replace(hour=10, minute=15))
    assert held(simulator) == (MODE_CODES["force_charge"], -1000.0)
    await move_to(hass, freezer, day.replace(hour=20))
    assert held(simulator) == (MODE_CODES["force_discharge"], 3000.0)


async def test_malformed_prices_keep_the_previous_plan(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    hass_storage: dict[str, Any],
) -> None:
    tz = ZoneInfo("Europe/Paris")
    today = datetime(2026, 6, 1, 0, 0, tzinfo=tz)
    await freeze_at(hass, freezer, today.replace(hour=14))
    good = nordpool_custom(
        _hours(today, [0.1] * 24), _hours(today + timedelta(days=1), [0.05, 0.01, 0.02, 0.03] + [0.2] * 20)
    )
    hass.states.async_set(PRICES, "0.1", good)
    entry = await start(hass, simulator, hass_storage, [NIGHT])
    before = await preview(hass, entry)
    assert before
    hass.states.async_set(PRICES, "0.1", {"raw_today": [{"start": "soon", "value": 1}], "raw_tomorrow": []})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert issues(hass)
    assert await preview(hass, entry) == before


# ------------------------------------------------------------------------------------- peak days


async def test_peak_day_precharges_tonight(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    hass_storage: dict[str, Any],
) -> None:
    tz = ZoneInfo("Europe/Paris")
    today = datetime(2026, 1, 14, 0, 0, tzinfo=tz)
    await freeze_at(hass, freezer, today.replace(hour=10))
    hass.states.async_set("sensor.tempo_tomorrow", "Bleu")
    peak = plan(
        SUBENTRY_PEAK,
        "Tempo red",
        entity_id="sensor.tempo_tomorrow",
        states=["Rouge", "red"],
        window_start="22:00:00",
        window_end="06:00:00",
        charge_w=3000,
        reserve_pct=80,
    )
    entry = await start(hass, simulator, hass_storage, [peak])
    assert await preview(hass, entry) == []
    await move_to(hass, freezer, today.replace(hour=11, minute=30))
    hass.states.async_set("sensor.tempo_tomorrow", "Rouge")  # tomorrow is red
    await hass.async_block_till_done(wait_background_tasks=True)
    changes = await preview(hass, entry)
    assert [datetime.fromisoformat(c["local"]).strftime("%H:%M") for c in changes] == ["22:00", "06:00"]
    await move_to(hass, freezer, today.replace(hour=22))
    assert held(simulator) == (MODE_CODES["force_charge"], -3000.0)
    assert simulator.read_register("reserve_pct") == 80
    # After midnight the window started yesterday still runs, whatever the entity says now.
    await move_to(hass, freezer, today + timedelta(days=1, hours=1))
    hass.states.async_set("sensor.tempo_tomorrow", "unknown")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert held(simulator) == (MODE_CODES["force_charge"], -3000.0)
