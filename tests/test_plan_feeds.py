"""Plans from other integrations, against the simulator over frozen days.

Real Home Assistant entities carry the attribute formats of EMHASS, Nord Pool, ENTSO-e and a
Tempo-style colour (tests/plan_fixtures.py names each source); the battery must hold what the plan
says at every slot's instant.
"""

from dataclasses import dataclass
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
from custom_components.battery_steward.controller import STALE_NOTE
from custom_components.battery_steward.default_item import MINOR_VERSION_WITH_DEFAULT
from custom_components.battery_steward.device.registers import MODE_CODES
from custom_components.battery_steward.device.simulator import SimulatedBattery
from custom_components.battery_steward.plan_feeds import SUBENTRY_PEAK, SUBENTRY_PRICE, SUBENTRY_SERIES

from .conftest import SERIAL, modbus_data
from .helpers import controller, cron_item, device_id, entity_id, freeze_at, item, load, move_to
from .plan_fixtures import emhass_battery_scheduled_power, entsoe, local_slots, nordpool_custom

FORECAST = "sensor.p_batt_forecast"
PRICES = "sensor.nordpool_kwh_fr_eur_3_10_0"
PARIS = ZoneInfo("Europe/Paris")
HALF_HOUR = timedelta(minutes=30)
HOUR = timedelta(hours=1)
PATTERN = [-2000.0, -1000.0, 0.0, 1500.0, 2500.0, 0.0]
AUTO = MODE_CODES["auto"]
CHARGE = MODE_CODES["force_charge"]


def plan(kind: str, title: str, **data: Any) -> ConfigSubentryData:
    """A plan subentry."""
    return ConfigSubentryData(data=data, subentry_type=kind, title=title, unique_id=None)


SERIES = plan(SUBENTRY_SERIES, "EMHASS", entity_id=FORECAST, format="emhass")
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


def expected(power: float) -> tuple[int, float]:
    """What a series row of this power dispatches (0 W is idle: 0 in a force mode is the full rate)."""
    mode = "force_discharge" if power > 0 else "force_charge" if power < 0 else "idle"
    return MODE_CODES[mode], power


def emhass(start: datetime, watts: list[float]) -> dict[str, Any]:
    """EMHASS attributes with half-hour rows from start."""
    return emhass_battery_scheduled_power(local_slots(start, HALF_HOUR, len(watts)), watts)


def hours(
    start: datetime, prices: list[float], step: timedelta = HOUR
) -> list[tuple[datetime, datetime, float]]:
    """(start, end, price) periods from a local start."""
    return [(s, s + step, p) for s, p in zip(local_slots(start, step, len(prices)), prices, strict=True)]


@dataclass
class Rig:
    """Home Assistant on a frozen clock, the simulator, and the stored state of the next entry."""

    hass: HomeAssistant
    freezer: FrozenDateTimeFactory
    simulator: SimulatedBattery
    storage: dict[str, Any]
    entry: MockConfigEntry | None = None

    async def start(self, subentries: list[ConfigSubentryData], source: str = "manual") -> MockConfigEntry:
        """Set up a battery with these subentries, its schedule source already chosen."""
        entry = MockConfigEntry(
            domain=DOMAIN,
            unique_id=SERIAL,
            title="Battery",
            data=modbus_data(self.simulator.port),
            subentries_data=subentries,
            minor_version=MINOR_VERSION_WITH_DEFAULT,  # its items are the test's (no default item)
        )
        key = f"{DOMAIN}.{entry.entry_id}"
        self.storage[key] = {
            "version": 1,
            "minor_version": 1,
            "key": key,
            "data": {"source": source, "dispatch_enabled": True},
        }
        self.entry = await load(self.hass, entry, wait="background")
        return entry

    async def follow_emhass(self, t0: datetime, watts: list[float]) -> MockConfigEntry:
        """At t0 EMHASS publishes half-hour rows from t0; the battery follows them (entity source)."""
        await self.move(t0)
        await self.publish(FORECAST, str(watts[0]), emhass(t0, watts))
        entry = await self.start([SERIES], source="entity")
        assert self.held() == expected(watts[0])
        return entry

    async def restart(self) -> None:
        """Home Assistant restarts the battery (its entry reloads; what is stored stays)."""
        assert self.entry is not None
        assert await self.hass.config_entries.async_reload(self.entry.entry_id)
        await self.hass.async_block_till_done(wait_background_tasks=True)

    async def publish(self, entity: str, state: str, attributes: dict[str, Any] | None = None) -> None:
        """Another integration writes its entity; wait for what follows."""
        self.hass.states.async_set(entity, state, attributes)
        await self.hass.async_block_till_done(wait_background_tasks=True)

    async def move(self, when: datetime) -> None:
        await move_to(self.hass, self.freezer, when)

    def held(self) -> tuple[int, float]:
        """The mode code and signed power setpoint the battery holds."""
        return int(self.simulator.read_register("mode")), float(
            self.simulator.read_register("power_setpoint_w")
        )

    def issues(self) -> list[ir.IssueEntry]:
        issues = ir.async_get(self.hass).issues.values()
        return [i for i in issues if i.translation_key == "plan_entity_invalid"]

    async def preview(self, hours: int = 24) -> list[tuple[str, dict[str, Any]]]:
        """preview_plan's changes as (local HH:MM, setpoints)."""
        assert self.entry is not None
        response = await self.hass.services.async_call(
            DOMAIN,
            "preview_plan",
            {"device_id": device_id(self.hass, self.entry), "hours": hours},
            blocking=True,
            return_response=True,
        )
        [plan] = cast(dict[str, dict[str, Any]], response).values()
        return [
            (datetime.fromisoformat(c["local"]).strftime("%H:%M"), c["setpoints"]) for c in plan["changes"]
        ]


@pytest.fixture
async def rig(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    hass_storage: dict[str, Any],
) -> Rig:
    await freeze_at(hass, freezer, datetime(2026, 6, 1, 0, 0, tzinfo=PARIS))
    return Rig(hass, freezer, simulator, hass_storage)


# ------------------------------------------------------------------------------------- series


@pytest.mark.parametrize(
    ("zone", "day", "rows"),
    [
        ("Europe/Paris", date(2026, 3, 29), 46),  # spring forward: 23 hours
        ("America/New_York", date(2026, 11, 1), 50),  # fall back: 25 hours
    ],
)
async def test_emhass_rows_land_at_their_instants_over_a_dst_day(
    rig: Rig, zone: str, day: date, rows: int
) -> None:
    tz = ZoneInfo(zone)
    midnight = datetime.combine(day, time(0), tzinfo=tz)
    watts = [PATTERN[i % len(PATTERN)] for i in range(rows)]
    attributes = emhass(midnight, watts)
    starts = [datetime.fromisoformat(r["date"]) for r in attributes["battery_scheduled_power"]]
    assert (starts[-1] + HALF_HOUR).astimezone(tz) == datetime.combine(
        day + timedelta(days=1), time(0), tzinfo=tz
    )
    await freeze_at(rig.hass, rig.freezer, midnight - timedelta(minutes=5), zone)
    await rig.publish(FORECAST, "0", attributes)
    await rig.start([SERIES], source="entity")
    assert rig.held() == expected(0.0)  # before the first row: stale, idle
    for at, power in zip(starts, watts, strict=True):
        await rig.move(at)
        assert rig.held() == expected(power), at.isoformat()
    await rig.move(starts[-1] + HALF_HOUR)
    assert rig.held() == expected(0.0)  # after the last row: stale again


async def test_the_default_reserve_holds_under_the_entity_series(rig: Rig) -> None:
    """The entity series sets mode and power; the default's reserve holds under it (its mode does not)."""
    t0 = datetime(2026, 6, 1, 10, 0, tzinfo=PARIS)
    await rig.move(t0)
    await rig.publish(FORECAST, "-1000", emhass(t0, [-1000.0, 500.0]))
    default = item({"type": "default", "name": "Default", "setpoints": {"mode": "auto", "reserve_pct": 35}})
    entry = await rig.start([default, SERIES], source="entity")
    default_id = next(sid for sid, sub in entry.subentries.items() if sub.title == "Default")
    assert (rig.held(), rig.simulator.read_register("reserve_pct")) == (expected(-1000.0), 35)
    await rig.move(t0 + HALF_HOUR)
    assert (rig.held(), rig.simulator.read_register("reserve_pct")) == (expected(500.0), 35)
    assert controller(entry).sources_at(t0 + HALF_HOUR)["reserve_pct"] == default_id


async def test_forecast_updated_mid_day_is_followed_at_once(rig: Rig) -> None:
    morning = datetime(2026, 6, 1, 8, 0, tzinfo=PARIS)
    await rig.move(morning)
    await rig.publish(FORECAST, "-1000", emhass(morning, [-1000.0] * 32))
    await rig.start([SERIES], source="entity")
    assert rig.held() == expected(-1000.0)
    await rig.move(morning.replace(hour=12, minute=10))
    # EMHASS's MPC re-publishes from the current step on.
    await rig.publish(FORECAST, "1200", emhass(morning.replace(hour=12), [1200.0, -300.0, 0, 0]))
    assert rig.held() == expected(1200.0)
    await rig.move(morning.replace(hour=12, minute=30))
    assert rig.held() == expected(-300.0)


async def test_malformed_and_missing_forecast_keep_the_previous_series_until_stale(rig: Rig) -> None:
    t0 = datetime(2026, 6, 1, 10, 0, tzinfo=PARIS)
    await rig.move(t0)
    await rig.publish(FORECAST, "800", emhass(t0, [800.0, -700.0, 600.0]))
    entry = await rig.start([SERIES], source="entity")
    assert rig.held() == expected(800.0)
    assert not rig.issues()
    # A value that is not a number: refused whole, a repair issue, the previous rows go on.
    broken = emhass(t0, [5.0, 5.0, 5.0])
    broken["battery_scheduled_power"][1]["p_batt_forecast"] = "nan"
    await rig.publish(FORECAST, "800", broken)
    [issue] = rig.issues()
    assert "finite" in (issue.translation_placeholders or {})["error"]
    assert rig.held() == expected(800.0)
    await rig.move(t0 + HALF_HOUR)
    assert rig.held() == expected(-700.0)
    # Beyond the battery's limits: refused too.
    await rig.publish(FORECAST, "9000", emhass(t0, [9000.0] * 3))
    [issue] = rig.issues()
    assert "power" in (issue.translation_placeholders or {})["error"]
    assert rig.held() == expected(-700.0)
    # The attribute is gone (EMHASS not published yet after its restart): refused the same way.
    await rig.publish(FORECAST, "0", {"unit_of_measurement": "W"})
    [issue] = rig.issues()
    assert "no attribute 'battery_scheduled_power'" in (issue.translation_placeholders or {})["error"]
    # The entity disappears: the series already received is followed until it goes stale.
    rig.hass.states.async_remove(FORECAST)
    await rig.hass.async_block_till_done(wait_background_tasks=True)
    assert rig.issues()
    await rig.move(t0 + 2 * HALF_HOUR)
    assert rig.held() == expected(600.0)
    await rig.move(t0 + 3 * HALF_HOUR)
    assert rig.held() == expected(0.0)
    # Valid again: the issue clears and the new rows are followed.
    await rig.publish(FORECAST, "-1500", emhass(t0 + 3 * HALF_HOUR, [-1500.0, 0.0]))
    assert not rig.issues()
    assert rig.held() == expected(-1500.0)
    assert controller(entry).source == "entity"


async def test_the_series_survives_a_restart_while_the_entity_is_gone(rig: Rig) -> None:
    t0 = datetime(2026, 6, 1, 10, 0, tzinfo=PARIS)
    entry = await rig.follow_emhass(t0, [800.0, -700.0])
    # EMHASS's sensors are posted, not restored: after Home Assistant restarts they are gone
    # until EMHASS publishes again.
    rig.hass.states.async_remove(FORECAST)
    await rig.restart()
    assert rig.held() == expected(800.0)
    await rig.move(t0 + HALF_HOUR)
    assert rig.held() == expected(-700.0)
    await rig.move(t0 + 2 * HALF_HOUR)
    assert rig.held() == expected(0.0)
    # Deleting the battery forgets it.
    key = f"{DOMAIN}.{entry.entry_id}.plan_series"
    assert key in rig.storage
    assert await rig.hass.config_entries.async_remove(entry.entry_id)
    await rig.hass.async_block_till_done()
    assert key not in rig.storage


async def test_the_entity_source_journals_a_stale_series_as_the_api_source_does(rig: Rig) -> None:
    t0 = datetime(2026, 6, 1, 10, 0, tzinfo=PARIS)
    entry = await rig.follow_emhass(t0, [800.0, -500.0])
    assert controller(entry).journal.query()[-1].note != STALE_NOTE
    await rig.move(t0 + 2 * HALF_HOUR)  # no row covers now: idle, 0 W, and the journal says why
    assert rig.held() == expected(0.0)
    assert controller(entry).journal.query()[-1].note == STALE_NOTE


async def test_generic_list_in_kw_with_charge_positive(rig: Rig) -> None:
    t0 = datetime(2026, 6, 1, 10, 0, tzinfo=PARIS)
    quarter = timedelta(minutes=15)
    await rig.move(t0)
    rows = [(t0, 1.5), (t0 + quarter, -2)]
    await rig.publish(
        "sensor.plan",
        "ok",
        {"schedule": [{"start": s.isoformat(), "end": (s + quarter).isoformat(), "kw": v} for s, v in rows]},
    )
    generic = plan(
        SUBENTRY_SERIES,
        "Optimizer",
        entity_id="sensor.plan",
        format="generic",
        attribute="schedule",
        end_key="end",
        value_key="kw",
        unit="kW",
        sign="charge_positive",
    )
    await rig.start([generic], source="entity")
    assert rig.held() == expected(-1500.0)  # +1.5 kW charging
    await rig.move(t0 + quarter)
    assert rig.held() == expected(2000.0)


# ------------------------------------------------------------------------------------- prices


async def test_cheapest_three_hours_of_the_night_planned_when_tomorrows_prices_arrive(rig: Rig) -> None:
    today = datetime(2026, 6, 1, 0, 0, tzinfo=PARIS)
    tomorrow = today + timedelta(days=1)
    await rig.move(today.replace(hour=11))
    prices_today = hours(today, [0.10] * 22 + [0.08, 0.07])
    await rig.publish(PRICES, "0.1", nordpool_custom(prices_today, []))
    await rig.start([NIGHT])
    assert await rig.preview() == []  # tomorrow's prices are not out: nothing planned
    await rig.move(today.replace(hour=13))
    cheap = [0.05, 0.03, 0.02, 0.04, 0.06, 0.09] + [0.12] * 18
    await rig.publish(PRICES, "0.1", nordpool_custom(prices_today, hours(tomorrow, cheap)))
    # 01:00-04:00 (0.03, 0.02, 0.04) is cheapest: charge; the rest of the window automatic.
    assert await rig.preview() == [
        ("22:00", {"mode": "auto"}),
        ("01:00", {"mode": "force_charge", "power_w": -2000.0}),
        ("04:00", {"mode": "auto"}),
        ("06:00", {}),
    ]
    # The same plan in the Plan calendar before it runs.
    calendar = entity_id(rig.hass, "calendar", "plan")
    events = await rig.hass.services.async_call(
        "calendar",
        "get_events",
        {"entity_id": calendar, "duration": {"hours": 24}},
        blocking=True,
        return_response=True,
    )
    listed = cast(dict[str, dict[str, list[dict[str, str]]]], events)[calendar]["events"]
    assert [(e["start"][11:16], e["end"][11:16], e["summary"]) for e in listed][:3] == [
        ("22:00", "01:00", "Automatic"),
        ("01:00", "04:00", "Force charge, Power setpoint -2000 W"),
        ("04:00", "06:00", "Automatic"),
    ]
    await rig.move(today.replace(hour=22))
    assert rig.held()[0] == AUTO
    await rig.move(tomorrow.replace(hour=1))
    assert rig.held() == (CHARGE, -2000.0)
    await rig.move(tomorrow.replace(hour=3))
    assert rig.held() == (CHARGE, -2000.0)
    await rig.move(tomorrow.replace(hour=4))
    assert rig.held()[0] == AUTO  # charging stops when the cheap hours end


async def test_a_missing_day_falls_back_and_the_journal_says_so(rig: Rig) -> None:
    today = datetime(2026, 6, 1, 0, 0, tzinfo=PARIS)
    await rig.move(today.replace(hour=20))
    await rig.publish(PRICES, "0.1", nordpool_custom(hours(today, [0.10] * 24), []))
    base = item(cron_item("Evening", "0 21 * * *", mode="idle"))
    entry = await rig.start([NIGHT, base])
    await rig.move(today.replace(hour=21, minute=30))
    await rig.publish(PRICES, "0.11", nordpool_custom(hours(today, [0.10] * 24), []))  # the hourly update
    notes = [r.note for r in controller(entry).journal.query() if r.note]
    assert "Cheapest night hours: no prices for the window of 2026-06-01; the other items apply" in notes
    await rig.move(today.replace(hour=23))
    assert rig.held()[0] == MODE_CODES["idle"]  # the other items apply


async def test_96_quarter_hours_of_entsoe_prices(rig: Rig) -> None:
    day = datetime(2026, 6, 2, 0, 0, tzinfo=PARIS)
    prices = [0.20] * 96
    for i, p in ((40, 0.01), (41, 0.02), (60, 0.03), (61, 0.04), (80, 0.90)):
        prices[i] = p
    await rig.move(day - timedelta(hours=10))
    quarters = [(s, p) for s, _, p in hours(day, prices, timedelta(minutes=15))]
    await rig.publish("sensor.entsoe_average_price", "0.2", entsoe([], quarters))
    whole_day = plan(
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
    await rig.start([whole_day])
    charge = {"mode": "force_charge", "power_w": -1000.0}
    assert await rig.preview(hours=48) == [
        ("00:00", {"mode": "auto"}),
        ("10:00", charge),
        ("10:30", {"mode": "auto"}),
        ("15:00", charge),
        ("15:30", {"mode": "auto"}),
        ("20:00", {"mode": "force_discharge", "power_w": 3000.0}),
        ("20:15", {"mode": "auto"}),
        ("00:00", {}),
    ]
    await rig.move(day.replace(hour=10, minute=15))
    assert rig.held() == (CHARGE, -1000.0)
    await rig.move(day.replace(hour=20))
    assert rig.held() == (MODE_CODES["force_discharge"], 3000.0)


async def test_malformed_prices_keep_the_previous_plan(rig: Rig) -> None:
    today = datetime(2026, 6, 1, 0, 0, tzinfo=PARIS)
    await rig.move(today.replace(hour=14))
    cheap = [0.05, 0.01, 0.02, 0.03] + [0.2] * 20
    await rig.publish(
        PRICES, "0.1", nordpool_custom(hours(today, [0.1] * 24), hours(today + timedelta(days=1), cheap))
    )
    await rig.start([NIGHT])
    before = await rig.preview()
    assert before
    await rig.publish(PRICES, "0.1", {"raw_today": [{"start": "soon", "value": 1}], "raw_tomorrow": []})
    assert rig.issues()
    assert await rig.preview() == before


# ------------------------------------------------------------------------------------- peak days


async def test_peak_day_precharges_tonight(rig: Rig) -> None:
    today = datetime(2026, 1, 14, 0, 0, tzinfo=PARIS)
    await rig.move(today.replace(hour=10))
    await rig.publish("sensor.tempo_tomorrow", "Bleu")
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
    await rig.start([peak])
    assert await rig.preview() == []
    await rig.move(today.replace(hour=11, minute=30))
    await rig.publish("sensor.tempo_tomorrow", "Rouge")  # tomorrow is red
    assert [at for at, _ in await rig.preview()] == ["22:00", "06:00"]
    await rig.move(today.replace(hour=22))
    assert rig.held() == (CHARGE, -3000.0)
    assert rig.simulator.read_register("reserve_pct") == 80
    # After midnight the window started yesterday still runs, whatever the entity says now.
    await rig.move(today + timedelta(days=1, hours=1))
    await rig.publish("sensor.tempo_tomorrow", "unknown")
    assert rig.held() == (CHARGE, -3000.0)


TEMPO = plan(
    SUBENTRY_PEAK,
    "Tempo red",
    entity_id="sensor.tempo_tomorrow",
    states=["Rouge"],
    window_start="22:00:00",
    window_end="06:00:00",
    charge_w=3000,
)


async def test_a_peak_day_seen_before_a_restart_still_precharges_tonight(rig: Rig) -> None:
    today = datetime(2026, 1, 14, 0, 0, tzinfo=PARIS)
    await rig.move(today.replace(hour=11, minute=30))
    await rig.publish("sensor.tempo_tomorrow", "Rouge")  # tomorrow is red
    await rig.start([TEMPO])
    await rig.move(today.replace(hour=20))
    # Home Assistant restarts; the colour sensor is not back yet.
    rig.hass.states.async_remove("sensor.tempo_tomorrow")
    await rig.restart()
    assert [at for at, _ in await rig.preview()] == ["22:00", "06:00"]
    await rig.move(today.replace(hour=22))
    assert rig.held() == (CHARGE, -3000.0)
    # Back after another restart, showing the day after's colour: the window started still runs.
    await rig.move(today + timedelta(days=1, hours=1))
    await rig.publish("sensor.tempo_tomorrow", "unknown")
    await rig.restart()
    await rig.publish("sensor.tempo_tomorrow", "Bleu")
    assert rig.held() == (CHARGE, -3000.0)


async def test_peak_day_precharge_stops_at_the_target_state_of_charge(rig: Rig) -> None:
    today = datetime(2026, 1, 14, 0, 0, tzinfo=PARIS)
    await rig.move(today.replace(hour=11, minute=30))
    await rig.publish("sensor.tempo_tomorrow", "Rouge")
    target = plan(SUBENTRY_PEAK, "Tempo red", **{**TEMPO["data"], "target_soc_pct": 90})
    await rig.start([target])
    await rig.move(today.replace(hour=22))
    assert rig.held() == (CHARGE, -3000.0)
    assert float(rig.simulator.read_register("soc_pct")) < 90
    rig.simulator.model.soc_pct = 90.0  # the night's charge reached the target
    await rig.move(today.replace(hour=22, minute=1))
    # As the blueprint: charging stops, automatic mode, the reserve holding the target.
    assert rig.held()[0] == AUTO
    assert rig.simulator.read_register("reserve_pct") == 90
    assert [(at, sp.get("mode")) for at, sp in await rig.preview(hours=12)][:2] == [("06:00", None)]
    # Reached is remembered across a restart: no charging again until the window ends.
    await rig.restart()
    await rig.move(today.replace(hour=23))
    assert rig.held()[0] == AUTO
    assert rig.simulator.read_register("reserve_pct") == 90
