"""The runner: one run at a time per battery, and the only path that writes to it.

Kubernetes controller-runtime's work queue, for one key: a trigger during a run marks it dirty
and causes exactly one re-run, journaled under the strongest trigger that asked (RERUN_PRECEDENCE);
a command waits for the pass that serves it. The run body returns its outcome (done, requeue
after N s, error) as controller-runtime's `Reconcile` returns a `Result`, and the runner alone
decides about retries: errors back off exponentially with a cap, success forgets the back-off.

A plant command (safe stop, restore, plant enable, transport swap) holds the same lock through
`exclusive()`, and every write, a run's or a command's, goes through the `Device` handle that only
a lock holder gets; so nothing writes between a command's steps, and two commands never interleave.
"""

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
import logging
import time
from typing import Any

from homeassistant.core import CALLBACK_TYPE, Context, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_call_later

from ..const import DOMAIN
from ..device.driver import BatteryDriver
from ..engine.decide import CORRECTING
from ..engine.journal import JournalRecord, Trigger
from ..engine.state import Measurements, Setpoints

_LOGGER = logging.getLogger(__name__)

BACKOFF_START_S = 5.0
BACKOFF_MAX_S = 300.0
# How long a command (or an unload) waits for a run or another command to finish.
STOP_WAIT_S = 30.0
# Which trigger a re-run is journaled under when several arrived during a run (first wins):
# a user's command beats the schedule, which beats the reconciler's own corrections.
RERUN_PRECEDENCE = (
    Trigger.OVERRIDE,
    Trigger.MANUAL,
    Trigger.CONFIG,
    Trigger.SCHEDULE,
    Trigger.STARTUP,
    Trigger.WATCHDOG,
    Trigger.RETRY,
    Trigger.VERIFY,
    Trigger.PATROL,
    Trigger.DRIFT,
)


class Outcome(StrEnum):
    """How a run ended, for the runner's retry decision."""

    DONE = "done"  # nothing more to do until the next trigger; the back-off is forgotten
    ERROR = "error"  # retry with exponential back-off (capped)
    TERMINAL = "terminal"  # do not retry: only a new trigger (a fix) runs again


@dataclass(frozen=True, kw_only=True, slots=True)
class RunResult:
    """What a run body returns: its journal record and its outcome."""

    record: JournalRecord | None = None
    outcome: Outcome = Outcome.DONE
    requeue_after_s: float | None = None  # run again after exactly this long (no back-off)


class Device:
    """Write access to the battery, handed only to the holder of the runner's lock."""

    def __init__(self, runner: Runner) -> None:
        """Bound to its runner: usable only while the lock is held."""
        self._runner = runner

    @property
    def driver(self) -> BatteryDriver:
        """The current driver (reads are fine from anywhere; writes go through this handle)."""
        return self._runner.driver()

    async def write(self, setpoints: Setpoints) -> None:
        """Write setpoints (the caller holds the lock)."""
        assert self._runner.lock.locked()
        await self.driver.write(setpoints)

    async def set_enabled(self, enabled: bool) -> None:
        """Enable or disable the plant (the caller holds the lock)."""
        assert self._runner.lock.locked()
        await self.driver.set_enabled(enabled)

    async def read(self) -> Measurements:
        """A fresh reading through the current driver."""
        return await self.driver.read()


# (trigger, scheduled instant, quiet re-run, device, the command's context or None)
type RunBody = Callable[[Trigger, datetime | None, bool, Device, Context | None], Awaitable[RunResult]]


class Runner:
    """Runs, waiters, re-runs, retries and exclusive commands for one battery."""

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        name: str,
        driver: Callable[[], BatteryDriver],
        body: RunBody,
        after_run: Callable[[], None],
    ) -> None:
        """`body` is one pass; `after_run` tells the entities once the runs are over."""
        self.hass = hass
        self.name = name
        self.driver = driver
        self._body = body
        self._after_run = after_run
        self.lock = asyncio.Lock()
        self.device = Device(self)
        self.active = False
        self.skipped_runs = 0
        self.run_durations: deque[float] = deque(maxlen=100)
        self._dirty = False
        self._running = False  # a run loop (not a command) holds the lock
        self._pending: dict[Trigger, tuple[datetime | None, Context | None]] = {}
        self._next_pass: asyncio.Future[JournalRecord | None] | None = None
        self._tasks: set[asyncio.Task[object]] = set()
        self._retry: CALLBACK_TYPE | None = None
        self._backoff_s = 0.0

    @property
    def running(self) -> bool:
        """Whether a run (not a command) is under way: it tells the entities when it is over."""
        return self._running

    # ---------------------------------------------------------------- runs

    async def run(
        self,
        trigger: Trigger,
        *,
        scheduled: datetime | None = None,
        wait: bool = False,
        context: Context | None = None,
    ) -> JournalRecord | None:
        """One level-triggered run; a trigger during a run causes exactly one re-run.

        With `wait` (a command), the caller waits for the pass that served it and gets its
        journal record (None when that pass recorded nothing); without it, a trigger during a
        run or a command only marks the runner dirty and returns. `context` (a command's Home
        Assistant context) goes with its trigger to the pass that serves it.
        """
        if self.lock.locked() and (self._running or not wait):
            # A run under way re-runs once for it; a command holding the lock requests a run
            # when it is done. A command's caller (wait) behind a command queues for the lock.
            self._dirty = True
            self._pending.setdefault(trigger, (scheduled, context))
            if not wait:
                return None
            if self._next_pass is None:
                self._next_pass = asyncio.get_running_loop().create_future()
            return await asyncio.shield(self._next_pass)
        async with self.lock:
            if not self.active:
                return None
            first = await self._loop(trigger, scheduled, context)
        self._after_run()
        return first

    async def _loop(
        self, trigger: Trigger, scheduled: datetime | None, context: Context | None
    ) -> JournalRecord | None:
        self._running = True
        first: JournalRecord | None = None
        outcomes: list[RunResult] = []
        try:
            previous: Trigger | None = None
            while True:
                self._dirty = False
                self._pending.clear()
                waiting, self._next_pass = self._next_pass, None
                started = time.monotonic()
                quiet = previous is not None and (trigger is previous or trigger in CORRECTING)
                result = await self._body(trigger, scheduled, quiet, self.device, context)
                self.run_durations.append(time.monotonic() - started)
                outcomes.append(result)
                if previous is None:
                    first = result.record
                if waiting is not None and not waiting.done():
                    waiting.set_result(result.record)
                if not self._dirty or not self.active:
                    break
                previous = trigger
                trigger = min(self._pending, key=RERUN_PRECEDENCE.index, default=trigger)
                scheduled, context = self._pending.get(trigger, (None, None))
        finally:
            self._running = False
            self._pending.clear()
            if self._next_pass is not None and not self._next_pass.done():
                self._next_pass.set_result(None)
            self._next_pass = None
        self._decide_retry(outcomes[-1] if outcomes else RunResult())
        return first

    @callback
    def _decide_retry(self, result: RunResult) -> None:
        """Retries are the runner's: back off after an error, forget the back-off after success."""
        if result.outcome is Outcome.ERROR:
            if self._retry is None:
                self._backoff_s = min(BACKOFF_MAX_S, max(BACKOFF_START_S, self._backoff_s * 2))
                self._requeue(self._backoff_s)
        elif result.requeue_after_s is not None:
            self._requeue(result.requeue_after_s)
        elif result.outcome is Outcome.DONE and result.record is not None:
            self._backoff_s = 0.0

    @callback
    def _requeue(self, delay_s: float) -> None:
        if self._retry is not None or not self.active:
            return

        @callback
        def _retry(_now: datetime) -> None:
            self._retry = None
            self.request(Trigger.RETRY)

        self._retry = async_call_later(self.hass, delay_s, _retry)

    @callback
    def request(self, trigger: Trigger, *, context: Context | None = None) -> None:
        """Ask for a run in the background (a timer, a reading, an edit, a command's `context`)."""
        if self.active:
            self.track(self.run(trigger, context=context))

    @callback
    def track(self, coro: Coroutine[Any, Any, object]) -> None:
        """Run a coroutine as a task that stop() waits for."""
        task = self.hass.async_create_task(coro, eager_start=False)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------------- commands

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[Device]:
        """Hold the lock for a plant command: no run and no other command writes meanwhile.

        A second command waits for the first (at most STOP_WAIT_S, then a translated
        battery_busy error); a trigger that arrived meanwhile runs once the command is done.
        """
        try:
            async with asyncio.timeout(STOP_WAIT_S):
                await self.lock.acquire()
        except TimeoutError:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="battery_busy",
                translation_placeholders={"battery": self.name, "seconds": f"{STOP_WAIT_S:.0f}"},
            ) from None
        try:
            yield self.device
        finally:
            self.lock.release()
            if self._dirty:
                self.request(min(self._pending, key=RERUN_PRECEDENCE.index, default=Trigger.CONFIG))

    # ---------------------------------------------------------------- life cycle

    async def stop(self, save: Callable[[], Awaitable[None]]) -> None:
        """No more runs; let those under way finish (never cut a write in half), then save once.

        A command holds the lock without being a tracked task: wait for it too, or the record it
        is about to add is never saved.
        """
        self.active = False
        if self._retry is not None:
            self._retry()
            self._retry = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        locked = False
        try:
            async with asyncio.timeout(STOP_WAIT_S):
                locked = await self.lock.acquire()
        except TimeoutError:
            _LOGGER.warning(
                "%s: a run was still going after %.0f s; saving without it", self.name, STOP_WAIT_S
            )
        try:
            await save()
        finally:
            if locked:
                self.lock.release()
