"""Polls one battery; the single source of measurements for entities and the controller."""

from dataclasses import dataclass
from datetime import datetime
import time
from typing import TYPE_CHECKING, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.debounce import Debouncer
from homeassistant.helpers.update_coordinator import (
    REQUEST_REFRESH_DEFAULT_COOLDOWN,
    REQUEST_REFRESH_DEFAULT_IMMEDIATE,
    DataUpdateCoordinator,
    UpdateFailed,
)
from homeassistant.util import dt as dt_util

from .const import DOMAIN, LOGGER, poll_interval
from .device.driver import BatteryDriver, DeviceError, DeviceInfo
from .device.simulator import SimulatedBattery
from .engine.state import Measurements

if TYPE_CHECKING:
    from .confirm import SwitchConfirmation
    from .controller import BatteryController
    from .fetcher import ScheduleFetcher
    from .recording import MeasurementRecording
    from .remote.poster import MeasurementPoster
    from .transport import Transports


@dataclass(kw_only=True)
class BatteryRuntimeData:
    """What a loaded entry owns; closed and stopped on unload."""

    driver: BatteryDriver
    coordinator: BatteryCoordinator
    controller: BatteryController
    recording: MeasurementRecording
    transports: Transports | None = None
    fetcher: ScheduleFetcher | None = None
    poster: MeasurementPoster | None = None
    simulator: SimulatedBattery | None = None
    confirmation: SwitchConfirmation | None = None  # confirm.py: source and transport switches


type BatteryConfigEntry = ConfigEntry[BatteryRuntimeData]


class BatteryCoordinator(DataUpdateCoordinator[Measurements]):
    """One poll per interval, in as few Modbus requests as the block planner allows.

    DataUpdateCoordinator already logs a lost device once and its return once.
    """

    config_entry: BatteryConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: BatteryConfigEntry,
        driver: BatteryDriver,
        *,
        refresh_cooldown_s: float = REQUEST_REFRESH_DEFAULT_COOLDOWN,
    ) -> None:
        """Poll at the interval the entry's options ask for.

        A refresh requested within the cooldown of the last one waits for it to end; a driver
        whose reads are cheap (the entity bridge) asks for a shorter one.
        """
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title}",
            update_interval=poll_interval(dict(entry.options)),
            request_refresh_debouncer=Debouncer(
                hass, LOGGER, cooldown=refresh_cooldown_s, immediate=REQUEST_REFRESH_DEFAULT_IMMEDIATE
            ),
        )
        self.driver = driver
        self.last_seen: datetime | None = None
        self.read_started = 0.0  # monotonic start of the last successful read
        self._info: DeviceInfo | None = None

    @property
    def info(self) -> DeviceInfo:
        """Identification read at set-up."""
        assert self._info is not None
        return self._info

    @override
    async def _async_setup(self) -> None:
        """Identify the device once, before the first poll."""
        try:
            self._info = await self.driver.identify()
        except DeviceError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key=err.translation_key,
                translation_placeholders={"error": str(err)},
            ) from err

    @override
    async def _async_update_data(self) -> Measurements:
        started = time.monotonic()
        try:
            data = await self.driver.read()
        except DeviceError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="update_failed",
                translation_placeholders={"error": str(err)},
            ) from err
        self.last_seen = dt_util.utcnow()
        self.read_started = started
        return data

    async def async_read_device(self) -> Measurements:
        """A fresh read outside the poll cycle, through whichever transport is current."""
        return await self.driver.read()
