"""Fetches today's and tomorrow's day-ahead series into a series sink (the api source).

Days are the plant's LOCAL calendar days (Home Assistant's time zone, the battery's). The fetcher
remembers for which local dates it holds a series: on every tick it asks for today's if that date
has none yet, and for tomorrow's from a configurable local hour on until it arrives, so each new
day is fetched again. Periods arrive as UTC instants; status counts the points per local day (23
or 25 hours of them on DST days). A payload that breaks the contract or the device's limits is
refused whole: the stored series stays as it was and the status shows the error. The series is
stored by the sink (the controller's versioned Store), so it survives a restart.

The fetcher is a DataUpdateCoordinator whose data is the status: other failures are UpdateFailed,
and a second auth failure raises ConfigEntryAuthFailed, so Home Assistant starts the entry's reauth
flow and stops the periodic fetch until the entry is reloaded with working credentials.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
import logging
from typing import Any

import aiohttp
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from ..const import (
    CONF_API_PASSWORD,
    CONF_API_PLANT,
    CONF_API_TOMORROW_HOUR,
    CONF_API_URL,
    CONF_API_USERNAME,
    DEFAULT_TOMORROW_HOUR,
    DOMAIN,
)
from ..engine.items import SeriesItem, SeriesRow
from ..engine.state import Limits
from ..engine.validation import validate_item
from ..remote.client import RemoteApiError, RemoteAuthError, RemotePayloadError, RemoteScheduleClient
from . import SeriesSink

_LOGGER = logging.getLogger(__name__)

FETCH_INTERVAL = timedelta(minutes=15)
CLIENT_RETRIES = 3
CLIENT_BACKOFF_S = 1.0


@dataclass(kw_only=True)
class FetchStatus:
    """What the status attributes show (seed 001's data_fetcher_status)."""

    connected: bool = False
    today_fetched: bool = False
    tomorrow_fetched: bool = False
    today_points: int = 0
    tomorrow_points: int = 0
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Entity attributes / diagnostics."""
        return {
            "connected": self.connected,
            "today_fetched": self.today_fetched,
            "tomorrow_fetched": self.tomorrow_fetched,
            "today_points": self.today_points,
            "tomorrow_points": self.tomorrow_points,
            "last_attempt": self.last_attempt.isoformat() if self.last_attempt else None,
            "last_error": self.last_error,
        }


def api_configured(options: dict[str, Any]) -> bool:
    """Whether the entry's options name an API."""
    return bool(options.get(CONF_API_URL) and options.get(CONF_API_PLANT))


def make_client(session: aiohttp.ClientSession, options: dict[str, Any]) -> RemoteScheduleClient:
    """A client for the entry's API options."""
    return RemoteScheduleClient(
        session,
        str(options[CONF_API_URL]),
        str(options.get(CONF_API_USERNAME, "")),
        str(options.get(CONF_API_PASSWORD, "")),
        retries=CLIENT_RETRIES,
        backoff_s=CLIENT_BACKOFF_S,
    )


class ScheduleFetcher(DataUpdateCoordinator[FetchStatus]):
    """Periodic fetch by local date; a second auth failure starts Home Assistant's reauth flow."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        *,
        sink: SeriesSink,
        limits: Limits,
        client: RemoteScheduleClient,
        options: dict[str, Any],
    ) -> None:
        """Nothing is fetched until async_start."""
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=f"{entry.title} schedule API",
            update_interval=FETCH_INTERVAL,
        )
        self.entry = entry
        self.sink = sink
        self.limits = limits
        self.client = client
        self.plant = str(options[CONF_API_PLANT])
        self.tomorrow_hour = int(options.get(CONF_API_TOMORROW_HOUR, DEFAULT_TOMORROW_HOUR))
        self.status = FetchStatus()
        self._unsub: CALLBACK_TYPE | None = None
        # The rows fetched this run, per local date asked for.
        self._rows: dict[date, list[SeriesRow]] = {}

    @callback
    def async_start(self) -> None:
        """Fetch now (in the background) and every fetch interval."""
        # Fetching feeds the battery whether or not the status sensor is enabled: a listener of
        # our own keeps the periodic refreshes going (the sensor is one more).
        self._unsub = self.async_add_listener(lambda: None)
        self.entry.async_create_background_task(
            self.hass, self.async_refresh(), "battery_steward first fetch"
        )

    @callback
    def async_stop(self) -> None:
        """Stop fetching."""
        if self._unsub is not None:
            self._unsub()
            self._unsub = None

    def _wanted(self, now: datetime) -> list[date]:
        """The local dates to ask for now: today until it has a series, tomorrow from the hour on."""
        today = now.date()
        for day in [day for day in self._rows if day < today - timedelta(days=1)]:
            del self._rows[day]  # rows before yesterday are history: keep the series small
        wanted = [today] if today not in self._rows else []
        tomorrow = today + timedelta(days=1)
        if now.hour >= self.tomorrow_hour and tomorrow not in self._rows:
            wanted.append(tomorrow)
        return wanted

    def _check(self, day: date, rows: list[SeriesRow]) -> None:
        """The device's limits, as the set_series action checks them (nothing applied if broken)."""
        item = SeriesItem(id="api", tz="UTC", rows=tuple(rows))
        if issues := validate_item(item, self.limits):
            raise RemotePayloadError(f"series for {day.isoformat()}: {issues[0].message}")

    async def _async_fetch_days(self, days: list[date]) -> bool:
        """Fetch and check each day; raises ConfigEntryAuthFailed on a second auth failure."""
        changed = False
        for day in days:
            try:
                rows = await self.client.fetch_schedule(self.plant, day)
            except RemoteAuthError as err:
                raise ConfigEntryAuthFailed(
                    translation_domain=DOMAIN,
                    translation_key="api_auth_failed",
                    translation_placeholders={"battery": self.entry.title},
                ) from err
            if rows is None:
                continue  # not published yet: asked again next tick
            self._check(day, rows)
            self._rows[day] = rows
            changed = True
        return changed

    async def _async_update_data(self) -> FetchStatus:
        """Today's series while it is missing, and tomorrow's once it may be published."""
        now = dt_util.now()
        self.status.last_attempt = dt_util.utcnow()
        changed = False
        failure: Exception | None = None
        try:
            changed = await self._async_fetch_days(self._wanted(now))
        except ConfigEntryAuthFailed as err:
            self.status.connected = False
            self.status.last_error = str(err.__cause__)
            failure = err
        except RemotePayloadError as err:
            self.status.connected = True
            self.status.last_error = str(err)
            failure = UpdateFailed(f"schedule refused, nothing applied: {err}")
        except RemoteApiError as err:
            self.status.connected = False
            self.status.last_error = str(err)
            failure = UpdateFailed(str(err))
        else:
            self.status.connected = True
            self.status.last_error = None
            self.status.last_success = self.status.last_attempt
        # Days fetched before an error in the same refresh are kept and applied.
        if changed:
            await self._async_apply()
        self._update_status(now.date())
        if failure is not None:
            raise failure
        return self.status

    def _update_status(self, today: date) -> None:
        tomorrow = today + timedelta(days=1)
        self.status.today_fetched = today in self._rows
        self.status.tomorrow_fetched = tomorrow in self._rows
        self.status.today_points = self._points(today)
        self.status.tomorrow_points = self._points(tomorrow)

    def _points(self, day: date) -> int:
        """Rows of the applied series that start within the local day (UTC periods, local days)."""
        series = self.sink.series
        if series is None:
            return 0
        zone = dt_util.get_default_time_zone()
        start = datetime.combine(day, time(), tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
        return sum(1 for row in series.rows if start <= row.start < end)

    async def _async_apply(self) -> None:
        merged: list[SeriesRow] = []
        for day in sorted(self._rows):
            rows = self._rows[day]
            if rows:
                # A later day's rows win where a server's days overlap.
                merged = [row for row in merged if row.end <= rows[0].start]
                merged.extend(rows)
        if not merged:
            return
        current = self.sink.series
        if current is not None and current.rows == tuple(merged):
            return
        await self.sink.async_set_series(SeriesItem(id="api", tz="UTC", rows=tuple(merged)))
