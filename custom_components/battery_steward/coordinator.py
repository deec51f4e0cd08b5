"""Polls one battery; the single source of measurements for entities and the controller."""

from collections.abc import Callable
from datetime import datetime
from enum import Enum
import time
from typing import Any, Protocol, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers.debounce import Debouncer
from homeassistant.helpers.update_coordinator import (
    REQUEST_REFRESH_DEFAULT_IMMEDIATE,
    DataUpdateCoordinator,
    UpdateFailed,
)
from homeassistant.util import dt as dt_util

from .const import CONF_SERIAL, DOMAIN, LOGGER, poll_interval
from .device.driver import BatteryDriver, DeviceError, DeviceInfo
from .engine.state import Measurements


class DriverOwner(Protocol):
    """Who holds the current driver (connection.Connection); the coordinator only reads through it."""

    driver: BatteryDriver
    refresh_cooldown_s: float

    @property
    def keep_alive_s(self) -> float | None:
        """The longest poll interval that keeps the device's remote control alive."""
        ...


class PollInterest(Enum):
    """Which polls a listener is told of: its context when it listens to the coordinator.

    A battery has some 30 entities, and most polls bring the reading of the poll before: telling
    each of them of every poll cost more event-loop time than the poll's request itself (found by
    benchmarks/poll_cost.py).
    """

    EVERY_POLL = None  # the default (no context): what it shows also depends on time
    READING = "reading"  # only when the reading or the poll's success changed
    NONE = "none"  # none: it shows the controller's state, which the controller signals


class BatteryCoordinator(DataUpdateCoordinator[Measurements]):
    """One poll per interval, in as few Modbus requests as the block planner allows.

    DataUpdateCoordinator already logs a lost device once and its return once.
    """

    config_entry: ConfigEntry[Any]

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry[Any], connection: DriverOwner) -> None:
        """Poll at the interval the entry's options ask for, through the connection's current driver.

        A refresh requested within the cooldown of the last one waits for it to end; a driver
        whose reads are cheap (the entity bridge) asks for a shorter one.
        """
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title}",
            update_interval=poll_interval(dict(entry.options), connection.keep_alive_s),
            request_refresh_debouncer=Debouncer(
                hass,
                LOGGER,
                cooldown=connection.refresh_cooldown_s,
                immediate=REQUEST_REFRESH_DEFAULT_IMMEDIATE,
            ),
        )
        self.connection = connection
        self.last_seen: datetime | None = None
        self.read_started = 0.0  # monotonic start of the last successful read
        self._info: DeviceInfo | None = None
        self._reading_listeners: dict[object, CALLBACK_TYPE] = {}
        self._reading_told: tuple[Measurements | None, bool] | None = None
        self._unsub_reading: CALLBACK_TYPE | None = None

    @callback
    @override
    def async_add_listener(self, update_callback: CALLBACK_TYPE, context: Any = None) -> Callable[[], None]:
        """Listen to every poll, or as the context (a PollInterest) says.

        The listeners of READING are told together, through one listener of every poll, so the
        refresh is scheduled while any of them listens, as for any listener.
        """
        if context is PollInterest.NONE:
            return lambda: None
        if context is not PollInterest.READING:
            return super().async_add_listener(update_callback, context)
        if self._unsub_reading is None:
            self._reading_told = None
            self._unsub_reading = super().async_add_listener(self._update_reading_listeners)
        key = object()
        self._reading_listeners[key] = update_callback

        @callback
        def remove_listener() -> None:
            self._reading_listeners.pop(key)
            if not self._reading_listeners and self._unsub_reading is not None:
                self._unsub_reading()
                self._unsub_reading = None

        return remove_listener

    @callback
    def _update_reading_listeners(self) -> None:
        """Tell the listeners of READING when the reading (a new object) or the poll's success changed."""
        told, reading = self._reading_told, (self.data, self.last_update_success)
        self._reading_told = reading
        if told is not None and told[0] is reading[0] and told[1] == reading[1]:
            return
        for update_callback in list(self._reading_listeners.values()):
            try:
                update_callback()
            except Exception:
                self.logger.exception(
                    "Unexpected error updating listener %s for %s", id(update_callback), self.name
                )

    @property
    def info(self) -> DeviceInfo:
        """Identification read at set-up."""
        assert self._info is not None
        return self._info

    @override
    async def _async_setup(self) -> None:
        """Identify the device once, before the first poll; refuse a device that is another battery."""
        try:
            info = await self.connection.driver.identify()
        except DeviceError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key=err.translation_key,
                translation_placeholders={"error": str(err)},
            ) from err
        self._check_identity(info)
        self._info = info

    def _check_identity(self, info: DeviceInfo) -> None:
        """The device at the entry's address must be the battery the entry was made for.

        Another battery there (a swapped unit, a reused address) must not become a new device
        that orphans the old one's entities and history: set-up stops (and `__init__.py` raises
        the repair issue that says so, with this error's placeholders).
        """
        entry = self.config_entry
        expected = str(entry.unique_id or entry.data.get(CONF_SERIAL) or "")
        if not expected or info.serial == expected:
            return
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="another_battery",
            translation_placeholders={"battery": entry.title, "expected": expected, "found": info.serial},
        )

    @override
    async def _async_update_data(self) -> Measurements:
        started = time.monotonic()
        try:
            data = await self.connection.driver.read()
        except DeviceError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="update_failed",
                translation_placeholders={"error": str(err)},
            ) from err
        self.last_seen = dt_util.utcnow()
        self.read_started = started
        previous = self.data
        if previous is not None and data == previous:
            # The same reading: keep the object, so who follows it sees at once that it did not
            # change (PollInterest.READING) without comparing it again.
            return previous
        return data

    async def async_read_device(self) -> Measurements:
        """A fresh read outside the poll cycle, through whichever transport is current."""
        return await self.connection.driver.read()
