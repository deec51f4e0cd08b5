"""Measurement sampling on anchored steps, and CSV recording routed by row date (seed 001).

Sampling: step k is due at anchor + k*step on the monotonic clock; one attempt per step; a step
missed because the previous read was slow is skipped, never sampled twice; rows carry the
scheduled step time, not the completion time.

Recording: rows go to `<dir>/YYYYMMDD_<battery>.csv` by the row's own local date (so a day's last
rows land in that day's file even when written after midnight), ISO 8601 timestamps with offset,
appended in an executor; pending rows are flushed on stop.
"""

import asyncio
from collections.abc import Awaitable, Callable
import contextlib
import csv
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
import logging
import math
from pathlib import Path
import time

from .device.driver import DeviceError
from .engine.state import Measurements

_LOGGER = logging.getLogger(__name__)

CSV_FIELDS = (
    "timestamp",
    "soc_pct",
    "active_power_w",
    "reactive_power_var",
    "mode",
    "reserve_pct",
    "power_setpoint_w",
    "reactive_setpoint_var",
    "enabled",
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Sample:
    """One measurement row, stamped with its scheduled step time."""

    at: datetime
    step: int
    measurements: Measurements

    def as_row(self, tz: tzinfo) -> dict[str, str]:
        """CSV row: local ISO 8601 with offset."""
        m = self.measurements
        return {
            "timestamp": self.at.astimezone(tz).isoformat(),
            "soc_pct": f"{m.soc_pct:g}",
            "active_power_w": f"{m.active_power_w:g}",
            "reactive_power_var": f"{m.reactive_power_var:g}",
            "mode": m.mode.value if m.mode is not None else "",
            "reserve_pct": f"{m.reserve_pct:g}",
            "power_setpoint_w": f"{m.power_setpoint_w:g}",
            "reactive_setpoint_var": f"{m.reactive_setpoint_var:g}",
            "enabled": "1" if m.enabled else "0",
        }


class AnchoredSampler:
    """Reads at anchored steps until stopped; hands each sample to `on_sample`."""

    def __init__(
        self,
        read: Callable[[], Awaitable[Measurements]],
        on_sample: Callable[[Sample], None],
        *,
        step_s: float,
        wall_clock: Callable[[], float] = time.time,
        mono_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Anchor at the next whole step of wall-clock time, so files from runs line up."""
        self._read = read
        self._on_sample = on_sample
        self.step_s = step_s
        self._wall = wall_clock
        self._mono = mono_clock
        self._task: asyncio.Task[None] | None = None
        self.samples = 0
        self.skipped = 0
        self.failed = 0

    def start(self) -> None:
        """Begin sampling in a task."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="battery_steward sampler")

    async def stop(self) -> None:
        """Stop sampling; an attempt under way is cancelled."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        wall0, mono0 = self._wall(), self._mono()
        anchor_wall = math.ceil(wall0 / self.step_s) * self.step_s
        anchor_mono = mono0 + (anchor_wall - wall0)
        last = -1
        while True:
            k = max(last + 1, math.ceil((self._mono() - anchor_mono) / self.step_s - 1e-9))
            if last >= 0 and k > last + 1:
                self.skipped += k - last - 1
            await asyncio.sleep(max(0.0, anchor_mono + k * self.step_s - self._mono()))
            last = k
            try:
                measurements = await asyncio.wait_for(self._read(), self.step_s * 4)
            except (DeviceError, TimeoutError) as err:
                self.failed += 1
                _LOGGER.debug("Sample %s failed: %s", k, err)
                continue
            at = datetime.fromtimestamp(anchor_wall + k * self.step_s).astimezone()
            self.samples += 1
            self._on_sample(Sample(at=at, step=k, measurements=measurements))


class CsvRouter:
    """Appends rows to per-day files; blocking, so call it from an executor."""

    def __init__(self, directory: Path, battery: str, tz: tzinfo) -> None:
        """Files are `<directory>/YYYYMMDD_<battery>.csv`."""
        self.directory = directory
        self.battery = battery
        self.tz = tz

    def path_for(self, at: datetime) -> Path:
        """The file a row of instant `at` belongs to (its local date)."""
        return self.directory / f"{at.astimezone(self.tz):%Y%m%d}_{self.battery}.csv"

    def append(self, samples: list[Sample]) -> list[Path]:
        """Write samples to their day's files; return the files touched."""
        self.directory.mkdir(parents=True, exist_ok=True)
        by_file: dict[Path, list[Sample]] = {}
        for sample in samples:
            by_file.setdefault(self.path_for(sample.at), []).append(sample)
        for path, rows in by_file.items():
            new = not path.exists()
            with path.open("a", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
                if new:
                    writer.writeheader()
                writer.writerows(row.as_row(self.tz) for row in rows)
        return list(by_file)


FLUSH_INTERVAL = timedelta(seconds=10)
