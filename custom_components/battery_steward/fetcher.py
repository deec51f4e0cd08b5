"""Fetches today's and tomorrow's day-ahead series and feeds the controller's api source.

Tomorrow's series is asked for from a configurable local hour on, and retried every fetch interval
until it arrives. Periods arrive in UTC and are planned in the battery's time zone by the engine;
the series is stored by the controller (versioned Store), so it survives a restart.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
import logging
from typing import Any

import aiohttp
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from .controller import BatteryController
from .engine.items import SeriesItem, SeriesRow
from .remote.client import RemoteApiError, RemoteAuthError, RemoteScheduleClient

_LOGGER = logging.getLogger(__name__)

CONF_API_URL = "api_url"
CONF_API_USERNAME = "api_username"
CONF_API_PASSWORD = "api_password"  # noqa: S105 - the option's key, not a password
CONF_API_PLANT = "api_plant"
CONF_API_TOMORROW_HOUR = "api_tomorrow_hour"
CONF_API_POSTING = "api_posting"
DEFAULT_TOMORROW_HOUR = 13
FETCH_INTERVAL = timedelta(minutes=15)


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
    )


class ScheduleFetcher:
    """Periodic fetch; an auth failure starts Home Assistant's reauth flow once."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        controller: BatteryController,
        client: RemoteScheduleClient,
        options: dict[str, Any],
    ) -> None:
        """Nothing is fetched until async_start."""
        self.hass = hass
        self.entry = entry
        self.controller = controller
        self.client = client
        self.plant = str(options[CONF_API_PLANT])
        self.tomorrow_hour = int(options.get(CONF_API_TOMORROW_HOUR, DEFAULT_TOMORROW_HOUR))
        self.status = FetchStatus()
        self._unsub: CALLBACK_TYPE | None = None
        self._rows: dict[str, list[SeriesRow]] = {}

    @callback
    def async_start(self) -> None:
        """Fetch now (in the background) and every fetch interval."""
        self._unsub = async_track_time_interval(
            self.hass, self._async_tick, FETCH_INTERVAL, name="battery_steward fetch", cancel_on_shutdown=True
        )
        self.entry.async_create_background_task(self.hass, self.async_fetch(), "battery_steward first fetch")

    @callback
    def async_stop(self) -> None:
        """Stop fetching."""
        if self._unsub is not None:
            self._unsub()
            self._unsub = None

    async def _async_tick(self, _now: datetime) -> None:
        await self.async_fetch()

    async def async_fetch(self) -> None:
        """Today's series, and tomorrow's once it may be published."""
        now = dt_util.now()
        self.status.last_attempt = dt_util.utcnow()
        days = {"today": now.date()}
        if now.hour >= self.tomorrow_hour and not self.status.tomorrow_fetched:
            days["tomorrow"] = now.date() + timedelta(days=1)
        try:
            for label, day in days.items():
                rows = await self.client.fetch_schedule(self.plant, day)
                fetched = rows is not None
                setattr(self.status, f"{label}_fetched", fetched)
                setattr(self.status, f"{label}_points", len(rows or []))
                if rows:
                    self._rows[day.isoformat()] = rows
        except RemoteAuthError as err:
            self.status.connected = False
            self.status.last_error = str(err)
            _LOGGER.warning("%s: the schedule API refused the credentials", self.entry.title)
            self.entry.async_start_reauth(self.hass)
            return
        except RemoteApiError as err:
            self.status.connected = False
            self.status.last_error = str(err)
            return
        self.status.connected = True
        self.status.last_error = None
        self.status.last_success = self.status.last_attempt
        await self._async_apply()

    async def _async_apply(self) -> None:
        merged = {row.start: row for day in sorted(self._rows) for row in self._rows[day]}
        rows = tuple(merged[start] for start in sorted(merged))
        if not rows:
            return
        current = self.controller.series
        if current is not None and current.rows == rows:
            return
        await self.controller.async_set_series(SeriesItem(id="api", tz="UTC", rows=rows))
