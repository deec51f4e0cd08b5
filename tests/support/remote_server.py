"""Reference server of the remote schedule API (contract v1), for tests and development.

Faults can be injected: 401s, 5xx, slow answers, malformed payloads. Tokens expire after their
announced lifetime on the server's clock (`clock`, wall time by default, so freezer moves it).
The `date` of a schedule is the plant's local calendar date (`tz`); `demo_rows` covers that local
day with UTC instants (23 or 25 hours on DST days).
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time as dtime, timedelta
import secrets
import time
from typing import Any, cast
from zoneinfo import ZoneInfo

from aiohttp import web

# Every token any reference server issued in this test session: the whole suite's log output is
# checked for them (tests/conftest.py).
ISSUED_TOKENS: set[str] = set()


@dataclass
class ReferenceApi:
    """State and fault knobs."""

    username: str = "steward"
    password: str = "secret"
    token_lifetime_s: int = 3600
    schedules: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    measurements: list[dict[str, Any]] = field(default_factory=list)
    arrivals: int = 0  # measurement rows received, duplicates included
    duplicates: int = 0  # of those, rows whose row_id was already stored (not stored again)
    store_then_fail: int = 0  # store the next posts' rows, then answer 503 anyway
    measurements_answer: Any = None  # when set, every measurements post is answered with this JSON
    store_then_late: int = 0  # store the next posts' rows, then answer after late_s
    late_s: float = 0.5  # (past the client's timeout in the tests that use it)
    fail_auth: int = 0  # answer 401 to this many authorized calls
    fail_5xx: int = 0  # answer 503 to this many calls
    delay_s: float = 0.0
    bad_payload: bool = False
    bad_body: Any = None  # when set, every schedule request is answered with this JSON
    down: bool = False  # schedule requests answer 503 (the server "stopped serving")
    clock: Callable[[], float] = lambda: time.time()  # noqa: PLW0108 - looked up per call: freezer moves it
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry on `clock`
    logins: int = 0
    calls: int = 0
    asked: list[str] = field(default_factory=list)  # the dates schedules were asked for

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application()
        app.router.add_post("/v1/auth/login", self._login)
        app.router.add_get("/v1/plants/{plant}/schedule", self._schedule)
        app.router.add_post("/v1/plants/{plant}/measurements", self._measurements)
        return app

    async def _faults(self) -> web.Response | None:
        self.calls += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail_5xx > 0:
            self.fail_5xx -= 1
            return web.Response(status=503)
        return None

    def _authorized(self, request: web.Request) -> bool:
        if self.fail_auth > 0:
            self.fail_auth -= 1
            return False
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return False
        expires = self.tokens.get(header[7:])
        return expires is not None and self.clock() < expires

    async def _login(self, request: web.Request) -> web.Response:
        if (fault := await self._faults()) is not None:
            return fault
        body = cast(dict[str, Any], await request.json())
        if body.get("username") != self.username or body.get("password") != self.password:
            return web.Response(status=401)
        token = secrets.token_hex(16)
        self.tokens[token] = self.clock() + self.token_lifetime_s
        ISSUED_TOKENS.add(token)
        self.logins += 1
        return web.json_response(
            {"access_token": token, "expires_in": self.token_lifetime_s, "token_type": "Bearer"}
        )

    async def _schedule(self, request: web.Request) -> web.Response:
        if (fault := await self._faults()) is not None:
            return fault
        if self.down:
            return web.Response(status=503)
        if not self._authorized(request):
            return web.Response(status=401)
        if self.bad_body is not None:
            return web.json_response(self.bad_body)
        if self.bad_payload:
            return web.json_response({"version": 1, "rows": [{"start": "yesterday"}]})
        key = (request.match_info["plant"], request.query.get("date", ""))
        self.asked.append(key[1])
        if key not in self.schedules:
            return web.Response(status=404)
        return web.json_response(
            {"version": 1, "plant_id": key[0], "date": key[1], "rows": self.schedules[key]}
        )

    async def _measurements(self, request: web.Request) -> web.Response:
        if (fault := await self._faults()) is not None:
            return fault
        if not self._authorized(request):
            return web.Response(status=401)
        body = cast(dict[str, Any], await request.json())
        # Idempotency (docs/remote-api.md): a row whose row_id is already stored is not stored
        # again; rows without one are stored on every arrival (at-least-once).
        stored = {row.get("row_id") for row in self.measurements} - {None}
        duplicates = 0
        for row in body["rows"]:
            self.arrivals += 1
            if row.get("row_id") is not None and row["row_id"] in stored:
                duplicates += 1
                continue
            self.measurements.append(row)
            stored.add(row.get("row_id"))
        self.duplicates += duplicates
        if self.store_then_fail > 0:
            self.store_then_fail -= 1
            return web.Response(status=503)
        if self.store_then_late > 0:
            self.store_then_late -= 1
            await asyncio.sleep(self.late_s)
        if self.measurements_answer is not None:
            return web.json_response(self.measurements_answer)
        if any("row_id" in row for row in body["rows"]):
            return web.json_response({"accepted": len(body["rows"]) - duplicates, "duplicates": duplicates})
        return web.Response(status=204)

    def revoke_tokens(self) -> None:
        """Server-side expiry of every issued token."""
        self.tokens.clear()


@asynccontextmanager
async def serve(api: ReferenceApi) -> AsyncIterator[str]:
    """Serve on 127.0.0.1 at a free port; yields the base URL."""
    runner = web.AppRunner(api.app(), access_log=None)  # its timing breaks under frozen time
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = cast(Any, site._server)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def local_day_bounds(day: str, tz: str) -> tuple[datetime, datetime]:
    """The UTC instants where the local calendar day starts and ends (23 or 25 h on DST days)."""
    zone = ZoneInfo(tz)
    first = date.fromisoformat(day)
    start = datetime.combine(first, dtime(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(first + timedelta(days=1), dtime(), tzinfo=zone).astimezone(UTC)
    return start, end


def day_rows(
    day: str, tz: str, power: Callable[[datetime], float], period_s: int = 900
) -> list[dict[str, Any]]:
    """Rows covering the plant's local day `day` in `tz`, each starting at a UTC instant."""
    start, end = local_day_bounds(day, tz)
    zone = ZoneInfo(tz)
    rows = []
    at = start
    while at < end:
        rows.append(
            {
                "start": at.isoformat().replace("+00:00", "Z"),
                "period_s": period_s,
                "power_w": power(at.astimezone(zone)),
                "reactive_var": 0.0,
            }
        )
        at += timedelta(seconds=period_s)
    return rows


def demo_rows(day: str, tz: str = "UTC") -> list[dict[str, Any]]:
    """A local day of 15-minute rows: charge at midday, discharge in the evening (local time)."""

    def power(local: datetime) -> float:
        hour = local.hour + local.minute / 60
        return -2000.0 if 10 <= hour < 15 else 2500.0 if 18 <= hour < 21 else 0.0

    return day_rows(day, tz, power)


async def _serve_forever(port: int, plant: str, tz: str) -> None:
    today = datetime.now(ZoneInfo(tz)).date()
    days = [(today + timedelta(days=d)).isoformat() for d in (-1, 0, 1)]
    api = ReferenceApi(schedules={(plant, day): demo_rows(day, tz) for day in days})
    runner = web.AppRunner(api.app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(
        f"Reference schedule API on http://127.0.0.1:{port} (user steward, plant {plant}, {tz} days)",
        flush=True,
    )
    await asyncio.Event().wait()


def main() -> None:
    """`python -m tests.support.remote_server --port 8124`: for scripts/develop (loopback only)."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8124)
    parser.add_argument("--plant", default="lib")
    parser.add_argument("--tz", default="Europe/Paris", help="the plant's time zone (its local days)")
    args = parser.parse_args()
    asyncio.run(_serve_forever(args.port, args.plant, args.tz))


if __name__ == "__main__":
    main()
