"""Recording measurements to CSV files under the configuration directory, per battery."""

from collections.abc import Awaitable, Callable
from datetime import datetime
import logging
from pathlib import Path

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util, slugify

from .const import DOMAIN
from .engine.state import Measurements
from .sampling import FLUSH_INTERVAL, AnchoredSampler, CsvRouter, Sample

_LOGGER = logging.getLogger(__name__)

DEFAULT_SAMPLE_S = 5.0


class MeasurementRecording:
    """Anchored sampling into a buffer, flushed to CSV in the executor every few seconds.

    The sampler runs while CSV recording is on OR something else needs samples (the measurement
    poster, while its gates are open); rows go to CSV only while recording is on, listeners get
    every sample.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        read: Callable[[], Awaitable[Measurements]],
        battery: str,
        *,
        step_s: float = DEFAULT_SAMPLE_S,
    ) -> None:
        """Files go to <config>/battery_steward/measurements/YYYYMMDD_<battery>.csv."""
        self.hass = hass
        self.router = CsvRouter(
            Path(hass.config.path(DOMAIN, "measurements")), slugify(battery), dt_util.get_default_time_zone()
        )
        self.sampler = AnchoredSampler(read, self._buffer, step_s=step_s)
        self._pending: list[Sample] = []
        self._unsub: CALLBACK_TYPE | None = None
        self._feeding = False
        self.rows_written = 0
        self.listeners: list[Callable[[Sample], None]] = []
        self.last_row: datetime | None = None
        self._failing = False

    @property
    def running(self) -> bool:
        """Whether recording is on."""
        return self._unsub is not None

    @property
    def sampling(self) -> bool:
        """Whether the sampler runs (for CSV, for listeners, or both)."""
        return self.running or self._feeding

    @callback
    def _buffer(self, sample: Sample) -> None:
        if self.running:
            self._pending.append(sample)
            self.last_row = sample.at
        for listener in self.listeners:
            listener(sample)

    def start(self) -> None:
        """Start CSV recording: sampling and the periodic flush."""
        if self.running:
            return
        self.sampler.start()
        self._unsub = async_track_time_interval(
            self.hass, self._async_flush_tick, FLUSH_INTERVAL, name=f"{DOMAIN} csv flush"
        )

    async def async_feed(self, on: bool) -> None:
        """Sample for the listeners (the poster) whether or not CSV recording is on."""
        self._feeding = on
        if on:
            self.sampler.start()
        elif not self.running:
            await self.sampler.stop()

    async def _async_flush_tick(self, _now: datetime) -> None:
        await self.async_flush()

    async def async_flush(self) -> None:
        """Write pending rows without blocking the event loop.

        When the files cannot be written (disk full, permissions) the rows stay pending for the
        next flush, and the failure is logged once until a write succeeds again.
        """
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        try:
            await self.hass.async_add_executor_job(self.router.append, rows)
        except OSError as err:
            self._pending = rows + self._pending
            if not self._failing:
                self._failing = True
                _LOGGER.warning(
                    "Cannot write measurements to %s (%s); %d rows kept for the next try",
                    self.router.directory,
                    err,
                    len(self._pending),
                )
            return
        if self._failing:
            self._failing = False
            _LOGGER.info("Measurements are written to %s again", self.router.directory)
        self.rows_written += len(rows)

    async def async_stop(self) -> None:
        """Stop CSV recording and flush what is pending; sampling goes on while still fed."""
        if self._unsub is not None:
            self._unsub()
            self._unsub = None
        if not self._feeding:
            await self.sampler.stop()
        await self.async_flush()

    async def async_shutdown(self) -> None:
        """Unload: stop recording and sampling; nothing pending is lost."""
        self._feeding = False
        await self.async_stop()
