"""The fetcher over several local days, on DST days, with bad payloads, after a restart and when stale.

Everything goes over loopback HTTP to the reference server; the plant is in Europe/Paris and the
schedule's `date` is its local calendar date.
"""

from datetime import UTC, date, datetime, timedelta
import math
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.api import fetcher as fetcher_module
from custom_components.battery_steward.api.fetcher import ScheduleFetcher
from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.device.simulator import SimulatedBattery

from ..conftest import SERIAL, modbus_data
from ..helpers import confirm_switching, entity_id, move_to, setup_entry
from ..support.remote_server import ReferenceApi, day_rows, local_day_bounds
from .conftest import api_options

TZ = "Europe/Paris"
PARIS = ZoneInfo(TZ)


def hourly(day: str, power: float = 500) -> list[dict[str, Any]]:
    return day_rows(day, TZ, lambda _local: power, period_s=3600)


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    # A server that is down is retried after back-off sleeps, which never end under frozen time:
    # one attempt per fetch here (the back-off itself is tested in test_client.py).
    monkeypatch.setattr(fetcher_module, "CLIENT_RETRIES", 0)


@pytest.fixture
def api() -> ReferenceApi:
    return ReferenceApi()


async def setup(hass: HomeAssistant, simulator: SimulatedBattery, url: str) -> MockConfigEntry:
    return await setup_entry(hass, modbus_data(simulator.port), options=api_options(url), wait="background")


def fetcher_of(entry: MockConfigEntry) -> ScheduleFetcher:
    fetcher = entry.runtime_data.fetcher
    assert isinstance(fetcher, ScheduleFetcher)
    return fetcher


async def test_each_new_day_fetches_today_and_tomorrow_again(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    api: ReferenceApi,
    api_url: str,
) -> None:
    await hass.config.async_set_time_zone(TZ)
    first = date(2026, 6, 1)
    days = [(first + timedelta(days=n)).isoformat() for n in range(5)]
    api.schedules = {("lib", day): hourly(day, 100 * n) for n, day in enumerate(days)}
    freezer.move_to(datetime(2026, 6, 1, 9, 0, tzinfo=PARIS))
    entry = await setup(hass, simulator, api_url)
    fetcher = fetcher_of(entry)
    controller = entry.runtime_data.controller
    assert api.asked == [days[0]]  # before 13:00 tomorrow is not asked for
    for n in range(3):
        today, tomorrow = days[n], days[n + 1]
        await move_to(hass, freezer, datetime.fromisoformat(today).replace(hour=0, minute=20, tzinfo=PARIS))
        status = fetcher.status.as_dict()
        assert status["today_fetched"] is True, today
        assert status["today_points"] == 24
        assert status["tomorrow_fetched"] is False
        api.asked.clear()
        await move_to(hass, freezer, datetime.fromisoformat(today).replace(hour=14, minute=0, tzinfo=PARIS))
        assert api.asked == [tomorrow]  # today's is held; tomorrow's is due from 13:00
        status = fetcher.status.as_dict()
        assert status["tomorrow_fetched"] is True, tomorrow
        assert status["tomorrow_points"] == 24
        series = controller.series
        assert series is not None
        # Rows keep coming: the series reaches the end of tomorrow, every night.
        assert series.rows[-1].end == local_day_bounds(tomorrow, TZ)[1]
        api.asked.clear()
        await move_to(hass, freezer, datetime.fromisoformat(today).replace(hour=20, minute=0, tzinfo=PARIS))
        assert api.asked == []  # both held: nothing asked again the same day
    # The series keeps yesterday's, today's and tomorrow's rows, not every day since start-up.
    assert series.rows[0].start == local_day_bounds(days[1], TZ)[0]
    assert api.logins > 1  # tokens expired on the server's clock over the days and were renewed
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(("day", "hours"), [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25)])
async def test_dst_day_through_the_fetcher(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    api: ReferenceApi,
    api_url: str,
    day: date,
    hours: int,
) -> None:
    await hass.config.async_set_time_zone(TZ)
    iso = day.isoformat()
    api.schedules = {("lib", iso): day_rows(iso, TZ, lambda local: 10 * local.hour, period_s=3600)}
    freezer.move_to(datetime.combine(day, datetime.min.time(), tzinfo=PARIS).replace(hour=11))
    entry = await setup(hass, simulator, api_url)
    assert api.asked[0] == iso  # the plant's local date
    status = fetcher_of(entry).status
    assert status.today_fetched
    assert status.today_points == hours
    series = entry.runtime_data.controller.series
    assert series is not None
    start, end = local_day_bounds(iso, TZ)
    assert (series.rows[0].start, series.rows[-1].end) == (start, end)
    assert (end - start) == timedelta(hours=hours)
    assert all(row.start.tzinfo is UTC for row in series.rows)
    # The repeated (or missing) local hour is there as its own UTC period.
    local_hours = [row.start.astimezone(PARIS).hour for row in series.rows]
    assert local_hours.count(2) == (2 if hours == 25 else 0)
    await hass.config_entries.async_unload(entry.entry_id)


NEXT = "2026-06-02T01:00:00Z"  # the hour after the three good rows of tomorrow's series
BAD_ROWS: list[tuple[str, Any, str]] = [
    # Home Assistant's session parses JSON strictly: NaN/Infinity literals are "not JSON" already
    # (parse_schedule refuses them too when a parser lets them through: test_client.py).
    ("nan", {"start": NEXT, "period_s": 3600, "power_w": math.nan}, "not JSON"),
    ("infinity", {"start": NEXT, "period_s": 3600, "power_w": math.inf}, "not JSON"),
    ("string number", {"start": NEXT, "period_s": "1e309", "power_w": 1}, "period_s is not a number"),
    ("huge period", {"start": NEXT, "period_s": 1e308, "power_w": 1}, "period_s is out of range"),
    ("long period", {"start": NEXT, "period_s": 90001, "power_w": 1}, "period of 90001.0 s"),
    ("infinite period", {"start": NEXT, "period_s": math.inf, "power_w": 1}, "not JSON"),
    ("boolean", {"start": NEXT, "period_s": 3600, "power_w": True}, "power_w is not a number"),
    (
        "boolean reactive",
        {"start": NEXT, "period_s": 3600, "power_w": 1, "reactive_var": False},
        "reactive_var is not a number",
    ),
    ("end of time", {"start": "9999-12-31T23:00:00Z", "period_s": 7200, "power_w": 1}, "beyond the calendar"),
    ("not an object", "row", "malformed"),
    ("beyond the device", {"start": NEXT, "period_s": 3600, "power_w": 1e6}, "power 1000000.0 W is outside"),
    (
        "reactive beyond the device",
        {"start": NEXT, "period_s": 3600, "power_w": 0, "reactive_var": -1e6},
        "reactive power -1000000.0 var is outside",
    ),
]


@pytest.mark.parametrize(("name", "bad_row", "error"), BAD_ROWS, ids=[name for name, _, _ in BAD_ROWS])
async def test_malformed_payload_changes_nothing(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    api: ReferenceApi,
    api_url: str,
    name: str,
    bad_row: Any,
    error: str,
) -> None:
    await hass.config.async_set_time_zone(TZ)
    api.schedules = {("lib", "2026-06-01"): hourly("2026-06-01")}
    freezer.move_to(datetime(2026, 6, 1, 14, 0, tzinfo=PARIS))
    entry = await setup(hass, simulator, api_url)
    fetcher = fetcher_of(entry)
    controller = entry.runtime_data.controller
    before = controller.series
    assert before is not None
    assert len(before.rows) == 24
    # Tomorrow's series arrives broken: refused whole, nothing applied, the status says why.
    good = hourly("2026-06-02")
    api.bad_body = {"version": 1, "rows": [*good[:3], bad_row]}
    await fetcher.async_refresh()
    assert controller.series is before
    assert error in (fetcher.status.last_error or ""), fetcher.status.last_error
    assert fetcher.status.tomorrow_fetched is False
    assert fetcher.status.today_points == 24
    await hass.async_block_till_done()
    state = hass.states.get(entity_id(hass, "sensor", "schedule_api"))
    assert state is not None
    assert state.attributes["last_error"] == fetcher.status.last_error  # shown to the user
    assert state.attributes["tomorrow_fetched"] is False
    # The next good answer is taken.
    api.bad_body = None
    api.schedules[("lib", "2026-06-02")] = good
    await fetcher.async_refresh()
    assert fetcher.status.last_error is None
    assert fetcher.status.tomorrow_fetched is True
    assert controller.series is not None
    assert len(controller.series.rows) == 48
    await hass.config_entries.async_unload(entry.entry_id)


async def test_restart_with_the_server_down_keeps_the_stored_series(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    api: ReferenceApi,
    api_url: str,
) -> None:
    await hass.config.async_set_time_zone(TZ)
    api.schedules = {("lib", day): hourly(day) for day in ("2026-06-01", "2026-06-02")}
    freezer.move_to(datetime(2026, 6, 1, 14, 0, tzinfo=PARIS))
    entry = await setup(hass, simulator, api_url)
    rows = entry.runtime_data.controller.series.rows
    assert len(rows) == 48
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    api.down = True
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    fetcher = fetcher_of(entry)
    assert fetcher.status.connected is False
    assert "503" in (fetcher.status.last_error or "")
    assert fetcher.status.today_fetched is False  # not fetched in this run...
    assert fetcher.status.today_points == 24  # ...but the stored series is applied
    series = entry.runtime_data.controller.series
    assert series is not None
    assert series.rows == rows
    await hass.config_entries.async_unload(entry.entry_id)


async def test_stale_cutoff_when_the_server_stops_serving(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    api: ReferenceApi,
    api_url: str,
) -> None:
    await hass.config.async_set_time_zone(TZ)
    api.schedules = {("lib", "2026-06-01"): hourly("2026-06-01", power=700)}
    freezer.move_to(datetime(2026, 6, 1, 22, 10, tzinfo=PARIS))
    entry = await setup(hass, simulator, api_url)
    controller = entry.runtime_data.controller
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, SERIAL), entry.entry_id)
    assert device is not None
    await confirm_switching(hass)
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": entity_id(hass, "select", "schedule_source"), "option": "api"},
        blocking=True,
    )
    await hass.services.async_call(DOMAIN, "restore", {"device_id": device.id}, blocking=True)
    await hass.async_block_till_done()
    assert simulator.read_register("power_setpoint_w") == 700
    # The server stops serving; tomorrow's series never arrives.
    api.down = True
    await move_to(hass, freezer, datetime(2026, 6, 1, 23, 30, tzinfo=PARIS))
    assert simulator.read_register("power_setpoint_w") == 700  # the last row still runs
    await move_to(hass, freezer, datetime(2026, 6, 2, 0, 0, 30, tzinfo=PARIS))
    assert fetcher_of(entry).status.connected is False
    assert simulator.read_register("power_setpoint_w") == 0
    assert simulator.read_register("reactive_setpoint_var") == 0
    notes = [record.note for record in controller.journal.query() if record.note]
    assert "day-ahead series is stale: dispatching zero" in notes
    await hass.config_entries.async_unload(entry.entry_id)


async def test_refused_twice_raises_auth_failed_and_starts_reauth(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    api: ReferenceApi,
    api_url: str,
) -> None:
    await hass.config.async_set_time_zone(TZ)
    freezer.move_to(datetime(2026, 6, 1, 9, 0, tzinfo=PARIS))
    entry = await setup(hass, simulator, api_url)
    assert not list(entry.async_get_active_flows(hass, {SOURCE_REAUTH}))
    api.fail_auth = 2  # the call and its one retry after logging in again
    await fetcher_of(entry).async_refresh()
    await hass.async_block_till_done()
    flows = list(entry.async_get_active_flows(hass, {SOURCE_REAUTH}))
    assert len(flows) == 1
    assert [f["flow_id"] for f in hass.config_entries.flow.async_progress_by_handler(DOMAIN)] == [
        flows[0]["flow_id"]
    ]
    fetcher = fetcher_of(entry)
    assert "401" in (fetcher.status.last_error or "")
    assert isinstance(fetcher.last_exception, ConfigEntryAuthFailed)
    # As with any coordinator: no more fetching with refused credentials until reauth reloads.
    calls = api.calls
    await move_to(hass, freezer, datetime(2026, 6, 1, 10, 0, tzinfo=PARIS))
    assert api.calls == calls
    await hass.config_entries.async_unload(entry.entry_id)
