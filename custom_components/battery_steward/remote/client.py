"""Client of the remote schedule API (contract v1, docs/remote-api.md).

Token lifecycle (seeds 000 and 001): lazy login; setting the password drops the token at once; a
token is refreshed before it expires (proactively, so normal calls never meet an expired one);
401/403 drops the token and retries exactly once after logging in again, a second auth failure
raises RemoteAuthError (the shell starts Home Assistant's reauth flow). Timeouts and 5xx are retried
with exponential backoff and jitter; malformed payloads raise RemotePayloadError and nothing is
applied.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
import itertools
import math
import random
import time
from typing import Any
import uuid

import aiohttp

from ..engine.items import SeriesRow

API_VERSION = 1


class RemoteApiError(Exception):
    """Base of the client's errors."""


class RemoteAuthError(RemoteApiError):
    """Credentials refused (twice in a row for one call)."""


class RemoteUnavailableError(RemoteApiError):
    """The server did not answer usefully after the retries (timeouts, 5xx, no connection)."""


class RemotePayloadError(RemoteApiError):
    """The server answered with something that is not the contract."""


@dataclass(frozen=True, kw_only=True, slots=True)
class MeasurementRow:
    """One posted measurement; the timestamp is sent as strict UTC ISO (+00:00).

    `row_id` is the row's idempotency key (docs/remote-api.md): made once, sent with every retry
    of the row, so a server that keeps the ids stores the row once however often it arrives.
    """

    timestamp: datetime
    soc_pct: float
    active_power_w: float
    reactive_power_var: float
    row_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def as_json(self) -> dict[str, Any]:
        """Contract form."""
        if self.timestamp.tzinfo is None:
            raise ValueError("measurement timestamps must be aware")
        return {
            "timestamp": self.timestamp.astimezone(UTC).isoformat(),
            "soc_pct": self.soc_pct,
            "active_power_w": self.active_power_w,
            "reactive_power_var": self.reactive_power_var,
            "row_id": self.row_id,
        }


class RemoteScheduleClient:
    """One client per API account; the aiohttp session is Home Assistant's."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        username: str,
        password: str,
        *,
        timeout_s: float = 10.0,
        refresh_margin_s: float = 60.0,
        retries: int = 3,
        backoff_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        """No request is made until the first call."""
        self._session = session
        self._base = base_url.rstrip("/")
        self._username = username
        self._password = password
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._margin = refresh_margin_s
        self._retries = retries
        self._backoff = backoff_s
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._token: str | None = None
        self._expires_at = 0.0
        self.logins = 0

    @property
    def has_token(self) -> bool:
        """Whether a token is held (for status, never its value)."""
        return self._token is not None

    async def _login(self) -> str:
        payload = await self._send(
            "POST", "/v1/auth/login", {"username": self._username, "password": self._password}
        )
        if payload is None:
            raise RemotePayloadError("login answered without a body")
        token, lifetime = payload.get("access_token"), payload.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(lifetime, (int, float)) or lifetime <= 0:
            raise RemotePayloadError("login answer lacks access_token/expires_in")
        self._token = token
        self._expires_at = self._clock() + float(lifetime)
        self.logins += 1
        return token

    async def async_check_credentials(self) -> None:
        """Log in now (config flow / reauth); raises RemoteAuthError or RemoteUnavailableError."""
        self._token = None
        await self._login()

    async def _valid_token(self) -> str:
        if self._token is None or self._clock() >= self._expires_at - self._margin:
            return await self._login()
        return self._token

    async def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """One call with retries for timeouts and 5xx; 401/403 raise RemoteAuthError."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        for attempt in range(self._retries + 1):
            try:
                async with self._session.request(
                    method,
                    self._base + path,
                    json=body,
                    params=params,
                    headers=headers,
                    timeout=self._timeout,
                ) as response:
                    _check_status(response.status, path)
                    if response.status == 404:
                        return None
                    if response.status == 204:
                        return {}
                    try:
                        data = await response.json(content_type=None)
                    except ValueError as err:
                        raise RemotePayloadError(f"{path}: not JSON") from err
                    if not isinstance(data, dict):
                        raise RemotePayloadError(f"{path}: not a JSON object")
                    return data
            except (RemoteUnavailableError, aiohttp.ClientError, TimeoutError) as err:
                if attempt == self._retries:
                    raise RemoteUnavailableError(f"{path}: {err or type(err).__name__}") from err
                await self._sleep(self._backoff * 2**attempt * (1 + self._jitter()))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _authorized(
        self, method: str, path: str, body: dict[str, Any] | None = None, params: dict[str, str] | None = None
    ) -> dict[str, Any] | None:
        """With a valid token; on 401/403 log in again and retry exactly once."""
        token = await self._valid_token()
        try:
            return await self._send(method, path, body, token=token, params=params)
        except RemoteAuthError:
            self._token = None
            token = await self._login()
            return await self._send(method, path, body, token=token, params=params)

    async def fetch_schedule(self, plant_id: str, day: date) -> list[SeriesRow] | None:
        """The day-ahead rows for a plant and its LOCAL calendar date; None when not published yet.

        The date is the plant's own calendar date (the battery's, i.e. Home Assistant's, time zone);
        the rows cover that local day (23 or 25 hours on DST days) and their starts are UTC instants.
        """
        data = await self._authorized(
            "GET", f"/v1/plants/{plant_id}/schedule", params={"date": day.isoformat()}
        )
        if data is None:
            return None
        return parse_schedule(data)

    async def post_measurements(self, plant_id: str, rows: list[MeasurementRow]) -> int:
        """Post measurement rows (strict UTC timestamps); how many the server already had.

        A server that keeps row ids answers `{"duplicates": n}` (rows it had stored from an
        earlier attempt whose answer was lost); one that does not answers 204 (0 reported).
        """
        data = await self._authorized(
            "POST",
            f"/v1/plants/{plant_id}/measurements",
            {"version": API_VERSION, "rows": [row.as_json() for row in rows]},
        )
        duplicates = (data or {}).get("duplicates", 0)
        if (
            isinstance(duplicates, bool)
            or not isinstance(duplicates, int)
            or not 0 <= duplicates <= len(rows)
        ):
            raise RemotePayloadError(f"measurements: duplicates is not a count of the rows ({duplicates!r})")
        return duplicates


def _check_status(status: int, path: str) -> None:
    """Map HTTP errors to the client's errors (404 is "not published yet", not an error)."""
    if status in (401, 403):
        raise RemoteAuthError(f"{path}: HTTP {status}")
    if status >= 500:
        raise RemoteUnavailableError(f"{path}: HTTP {status}")
    if status >= 400 and status != 404:
        raise RemotePayloadError(f"{path}: HTTP {status}")


MAX_PERIOD_S = 25 * 3600  # one row may cover at most a whole (long, DST) local day
MAX_ABS_VALUE = 1e9  # W or var: far beyond any battery, but finite; device limits are checked later


def _number(row: dict[str, Any], key: str, index: int) -> float:
    """A finite real number from JSON: no booleans, strings, NaN or infinities."""
    value = row[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RemotePayloadError(f"schedule row {index}: {key} is not a number ({value!r})")
    number = float(value)
    if not math.isfinite(number) or abs(number) > MAX_ABS_VALUE:
        raise RemotePayloadError(f"schedule row {index}: {key} is out of range ({value!r})")
    return number


def parse_schedule(data: dict[str, Any]) -> list[SeriesRow]:
    """Validate a schedule payload completely before anything is applied."""
    if data.get("version") != API_VERSION:
        raise RemotePayloadError(f"unsupported schedule version {data.get('version')!r}")
    rows = data.get("rows")
    if not isinstance(rows, list):
        raise RemotePayloadError("schedule has no rows list")
    parsed: list[SeriesRow] = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("start"), str):
            raise RemotePayloadError(f"schedule row {index} is malformed: no start string")
        try:
            start = datetime.fromisoformat(row["start"].replace("Z", "+00:00"))
            period = _number(row, "period_s", index)
            power = _number(row, "power_w", index)
            reactive_f = None if row.get("reactive_var") is None else _number(row, "reactive_var", index)
        except (KeyError, TypeError, ValueError) as err:
            raise RemotePayloadError(f"schedule row {index} is malformed: {err}") from err
        if start.tzinfo is None:
            raise RemotePayloadError(f"schedule row {index} has a start without a UTC offset")
        if not 0 < period <= MAX_PERIOD_S:
            raise RemotePayloadError(f"schedule row {index} has a period of {period} s")
        try:
            row_parsed = SeriesRow(
                start=start.astimezone(UTC), period_s=period, power_w=power, reactive_var=reactive_f
            )
            row_parsed.end  # noqa: B018 - an instant at the end of time overflows here, not later
        except OverflowError as err:
            raise RemotePayloadError(f"schedule row {index} ends beyond the calendar") from err
        parsed.append(row_parsed)
    parsed.sort(key=lambda r: r.start)
    for before, after in itertools.pairwise(parsed):
        if after.start < before.end:
            raise RemotePayloadError(f"schedule rows overlap at {after.start.isoformat()}")
    return parsed
