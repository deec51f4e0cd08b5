"""The remote schedule API client against the reference server over loopback HTTP."""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
import re
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from custom_components.battery_steward.engine.items import SeriesItem
from custom_components.battery_steward.engine.planner import Schedule
from custom_components.battery_steward.remote.client import (
    MeasurementRow,
    RemoteAuthError,
    RemotePayloadError,
    RemoteScheduleClient,
    RemoteUnavailableError,
    parse_schedule,
)

from ..support.remote_server import ReferenceApi, serve

PLANT = "lib"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def api() -> ReferenceApi:
    day_rows = [
        {"start": f"2026-06-01T{h:02d}:00:00Z", "period_s": 3600, "power_w": 100 * h, "reactive_var": 10}
        for h in range(24)
    ]
    return ReferenceApi(schedules={(PLANT, "2026-06-01"): day_rows})


@pytest.fixture
async def base_url(api: ReferenceApi) -> AsyncIterator[str]:
    async with serve(api) as url:
        yield url


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def client(
    session: aiohttp.ClientSession,
    url: str,
    clock: Clock | None = None,
    password: str = "secret",
    **kw: object,
) -> RemoteScheduleClient:
    sleeps: list[float] = []

    async def no_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    made = RemoteScheduleClient(
        session,
        url,
        "steward",
        password,
        clock=clock or Clock(),
        sleep=no_sleep,
        jitter=lambda: 0.5,
        **kw,  # type: ignore[arg-type]
    )
    made.sleeps = sleeps  # type: ignore[attr-defined]
    return made


async def test_lazy_login_and_fetch(api: ReferenceApi, base_url: str, session: aiohttp.ClientSession) -> None:
    remote = client(session, base_url)
    assert not remote.has_token
    assert api.logins == 0
    rows = await remote.fetch_schedule(PLANT, date(2026, 6, 1))
    assert rows is not None
    assert len(rows) == 24
    assert rows[3].power_w == 300
    assert rows[0].start == datetime(2026, 6, 1, tzinfo=UTC)
    assert api.logins == 1
    assert await remote.fetch_schedule(PLANT, date(2026, 6, 2)) is None  # not published yet
    assert api.logins == 1


async def test_proactive_refresh_before_expiry(
    api: ReferenceApi, base_url: str, session: aiohttp.ClientSession
) -> None:
    clock = Clock()
    api.token_lifetime_s = 600
    remote = client(session, base_url, clock, refresh_margin_s=60)
    await remote.fetch_schedule(PLANT, date(2026, 6, 1))
    clock.now += 500
    await remote.fetch_schedule(PLANT, date(2026, 6, 1))
    assert api.logins == 1
    clock.now += 50  # within the margin of expiry: refreshed before the call, not after a 401
    api.fail_auth = 0
    await remote.fetch_schedule(PLANT, date(2026, 6, 1))
    assert api.logins == 2


async def test_401_then_success_and_twice_raises(
    api: ReferenceApi, base_url: str, session: aiohttp.ClientSession
) -> None:
    remote = client(session, base_url)
    await remote.fetch_schedule(PLANT, date(2026, 6, 1))
    api.revoke_tokens()  # token expired mid-day on the server side
    assert await remote.fetch_schedule(PLANT, date(2026, 6, 1)) is not None
    assert api.logins == 2
    api.fail_auth = 2
    with pytest.raises(RemoteAuthError):
        await remote.fetch_schedule(PLANT, date(2026, 6, 1))
    # New credentials (reauth reloads the entry, so a new client): no token is carried over.
    api.password = "changed"
    remote = client(session, base_url, password="wrong")
    assert not remote.has_token
    with pytest.raises(RemoteAuthError):
        await remote.fetch_schedule(PLANT, date(2026, 6, 1))
    remote = client(session, base_url, password="changed")
    assert await remote.fetch_schedule(PLANT, date(2026, 6, 1)) is not None


async def test_5xx_backoff_then_success_or_give_up(
    api: ReferenceApi, base_url: str, session: aiohttp.ClientSession
) -> None:
    remote = client(session, base_url, retries=3, backoff_s=1.0)
    api.fail_5xx = 2
    assert await remote.fetch_schedule(PLANT, date(2026, 6, 1)) is not None
    assert remote.sleeps == [1.5, 3.0]  # type: ignore[attr-defined]
    api.fail_5xx = 10
    with pytest.raises(RemoteUnavailableError):
        await remote.fetch_schedule(PLANT, date(2026, 6, 1))


async def test_timeout_and_unreachable(
    api: ReferenceApi, base_url: str, session: aiohttp.ClientSession
) -> None:
    api.delay_s = 0.3
    remote = client(session, base_url, timeout_s=0.05, retries=1)
    with pytest.raises(RemoteUnavailableError):
        await remote.fetch_schedule(PLANT, date(2026, 6, 1))
    closed = client(session, "http://127.0.0.1:9", retries=0)
    with pytest.raises(RemoteUnavailableError):
        await closed.fetch_schedule(PLANT, date(2026, 6, 1))


async def test_malformed_payload_rejected(
    api: ReferenceApi, base_url: str, session: aiohttp.ClientSession
) -> None:
    remote = client(session, base_url)
    api.bad_payload = True
    with pytest.raises(RemotePayloadError):
        await remote.fetch_schedule(PLANT, date(2026, 6, 1))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"version": 2, "rows": []}, "version"),
        ({"version": 1}, "rows"),
        ({"version": 1, "rows": [{"start": "2026-01-01T00:00:00", "period_s": 900, "power_w": 1}]}, "offset"),
        ({"version": 1, "rows": [{"start": "2026-01-01T00:00:00Z", "period_s": 0, "power_w": 1}]}, "period"),
        ({"version": 1, "rows": [{"start": "2026-01-01T00:00:00Z", "period_s": 900}]}, "malformed"),
        (
            {
                "version": 1,
                "rows": [
                    {"start": "2026-01-01T00:00:00Z", "period_s": 900, "power_w": 1},
                    {"start": "2026-01-01T00:10:00Z", "period_s": 900, "power_w": 1},
                ],
            },
            "overlap",
        ),
    ],
)
def test_parse_schedule_rejects(payload: dict[str, object], message: str) -> None:
    with pytest.raises(RemotePayloadError, match=message):
        parse_schedule(payload)


@pytest.mark.parametrize(("day", "hours"), [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25)])
def test_dst_day_series(day: date, hours: int) -> None:
    # A local Paris day has 23 or 25 hours; the API speaks UTC periods, the plan follows them.
    paris = ZoneInfo("Europe/Paris")
    start = datetime.combine(day, datetime.min.time(), tzinfo=paris).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=paris).astimezone(UTC)
    count = int((end - start).total_seconds() // 3600)
    assert count == hours
    rows = parse_schedule(
        {
            "version": 1,
            "rows": [
                {"start": (start + timedelta(hours=h)).isoformat(), "period_s": 3600, "power_w": h}
                for h in range(count)
            ],
        }
    )
    schedule = Schedule([SeriesItem(id="api", rows=tuple(rows))])
    assert schedule.desired_at(end - timedelta(minutes=1)).power_w == hours - 1
    assert schedule.desired_at(end).power_w == 0  # stale after the last period


async def test_post_measurements_strict_utc(
    api: ReferenceApi, base_url: str, session: aiohttp.ClientSession
) -> None:
    remote = client(session, base_url)
    at = datetime(2026, 6, 1, 14, 0, 5, tzinfo=ZoneInfo("Europe/Paris"))
    await remote.post_measurements(
        PLANT, [MeasurementRow(timestamp=at, soc_pct=55.5, active_power_w=-1000, reactive_power_var=0)]
    )
    row_ids = [row.pop("row_id") for row in api.measurements]
    assert api.measurements == [
        {
            "timestamp": "2026-06-01T12:00:05+00:00",
            "soc_pct": 55.5,
            "active_power_w": -1000,
            "reactive_power_var": 0,
        }
    ]
    assert len(row_ids) == 1
    assert re.fullmatch(r"[0-9a-f]{32}", row_ids[0])  # the row's idempotency key
    for answer in ({"duplicates": "1"}, {"duplicates": True}, {"duplicates": 2}, {"duplicates": -1}):
        api.measurements_answer = answer  # not a count of the one row sent
        with pytest.raises(RemotePayloadError, match="duplicates"):
            await remote.post_measurements(
                PLANT, [MeasurementRow(timestamp=at, soc_pct=1, active_power_w=0, reactive_power_var=0)]
            )
    with pytest.raises(ValueError, match="aware"):
        MeasurementRow(
            timestamp=datetime(2026, 6, 1), soc_pct=1, active_power_w=0, reactive_power_var=0
        ).as_json()


async def test_token_expires_mid_day_on_the_server(
    api: ReferenceApi, base_url: str, session: aiohttp.ClientSession
) -> None:
    # The server enforces the lifetime it announced; a client whose own clock did not see it pass
    # (a suspended host) meets a 401, logs in again once and the call succeeds.
    server_clock = Clock()
    api.clock = server_clock
    api.token_lifetime_s = 3600
    remote = client(session, base_url)
    assert await remote.fetch_schedule(PLANT, date(2026, 6, 1)) is not None
    server_clock.now += 1800
    assert await remote.fetch_schedule(PLANT, date(2026, 6, 1)) is not None
    assert api.logins == 1
    server_clock.now += 1801  # expired on the server only
    assert await remote.fetch_schedule(PLANT, date(2026, 6, 1)) is not None
    assert api.logins == 2


@pytest.mark.parametrize(
    "row",
    [
        {"start": "2026-01-01T00:00:00Z", "period_s": 900, "power_w": float("nan")},
        {"start": "2026-01-01T00:00:00Z", "period_s": 900, "power_w": float("-inf")},
        {"start": "2026-01-01T00:00:00Z", "period_s": "1e309", "power_w": 1},
        {"start": "2026-01-01T00:00:00Z", "period_s": 1e309, "power_w": 1},
        {"start": "2026-01-01T00:00:00Z", "period_s": 90001, "power_w": 1},
        {"start": "2026-01-01T00:00:00Z", "period_s": 900, "power_w": True},
        {"start": "2026-01-01T00:00:00Z", "period_s": 900, "power_w": 1, "reactive_var": "1"},
        {"start": "2026-01-01T00:00:00Z", "period_s": 900, "power_w": 2e9},
        {"start": "9999-12-31T23:59:00Z", "period_s": 900, "power_w": 1},
        {"start": 20260101, "period_s": 900, "power_w": 1},
        ["2026-01-01T00:00:00Z", 900, 1],
    ],
)
def test_parse_schedule_rejects_non_finite_and_non_real(row: object) -> None:
    with pytest.raises(RemotePayloadError):
        parse_schedule({"version": 1, "rows": [row]})
