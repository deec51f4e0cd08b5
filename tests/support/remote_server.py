"""Reference server of the remote schedule API (contract v1), for tests and development.

Faults can be injected: 401s, 5xx, slow answers, malformed payloads.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
import secrets
from typing import Any, cast

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
    fail_auth: int = 0  # answer 401 to this many authorized calls
    fail_5xx: int = 0  # answer 503 to this many calls
    delay_s: float = 0.0
    bad_payload: bool = False
    tokens: set[str] = field(default_factory=set)
    logins: int = 0
    calls: int = 0

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
        return header.startswith("Bearer ") and header[7:] in self.tokens

    async def _login(self, request: web.Request) -> web.Response:
        if (fault := await self._faults()) is not None:
            return fault
        body = cast(dict[str, Any], await request.json())
        if body.get("username") != self.username or body.get("password") != self.password:
            return web.Response(status=401)
        token = secrets.token_hex(16)
        self.tokens.add(token)
        ISSUED_TOKENS.add(token)
        self.logins += 1
        return web.json_response(
            {"access_token": token, "expires_in": self.token_lifetime_s, "token_type": "Bearer"}
        )

    async def _schedule(self, request: web.Request) -> web.Response:
        if (fault := await self._faults()) is not None:
            return fault
        if not self._authorized(request):
            return web.Response(status=401)
        if self.bad_payload:
            return web.json_response({"version": 1, "rows": [{"start": "yesterday"}]})
        key = (request.match_info["plant"], request.query.get("date", ""))
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
        self.measurements.extend(body["rows"])
        return web.Response(status=204)

    def revoke_tokens(self) -> None:
        """Server-side expiry of every issued token."""
        self.tokens.clear()


@asynccontextmanager
async def serve(api: ReferenceApi) -> AsyncIterator[str]:
    """Serve on 127.0.0.1 at a free port; yields the base URL."""
    runner = web.AppRunner(api.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = cast(Any, site._server)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def demo_rows(day: str) -> list[dict[str, Any]]:
    """A day of 15-minute rows: charge at midday, discharge in the evening."""
    rows = []
    for quarter in range(96):
        hour = quarter / 4
        power = -2000.0 if 10 <= hour < 15 else 2500.0 if 18 <= hour < 21 else 0.0
        rows.append(
            {
                "start": f"{day}T{quarter // 4:02d}:{(quarter % 4) * 15:02d}:00Z",
                "period_s": 900,
                "power_w": power,
                "reactive_var": 0.0,
            }
        )
    return rows


async def _serve_forever(port: int, plant: str) -> None:
    from datetime import UTC, datetime, timedelta

    today = datetime.now(UTC).date()
    days = [(today + timedelta(days=d)).isoformat() for d in (-1, 0, 1)]
    api = ReferenceApi(schedules={(plant, day): demo_rows(day) for day in days})
    runner = web.AppRunner(api.app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(f"Reference schedule API on http://127.0.0.1:{port} (user steward, plant {plant})", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    """`python -m tests.support.remote_server --port 8124`: for scripts/develop (loopback only)."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8124)
    parser.add_argument("--plant", default="lib")
    args = parser.parse_args()
    asyncio.run(_serve_forever(args.port, args.plant))


if __name__ == "__main__":
    main()
