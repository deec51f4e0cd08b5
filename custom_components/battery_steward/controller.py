"""One controller per battery: makes the actual state agree with the desired state.

The executor, the reconciler and the start-up misfire check of the seed systems are one
level-triggered run started by different triggers (see docs/architecture.md):

    desired = plan(now) overlaid with the override
    write   = diff(desired, actual) minus suspended (fighting) and settling fields
    journal the run; later verify that the measured state followed.

Never two runs at once: a lock plus a dirty flag, so a trigger during a run causes exactly one
re-run. Device errors back off exponentially (capped) through a retry timer.
"""

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import islice
import logging
import time
from typing import Any, Protocol

from homeassistant.core import CALLBACK_TYPE, HassJob, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import (
    async_call_later,
    async_track_point_in_utc_time,
    async_track_time_interval,
)
from homeassistant.util import dt as dt_util

from .const import DOMAIN, EVENT_CHANGED, SOURCE_API, SOURCE_MANUAL, signal_state
from .coordinator import BatteryCoordinator
from .device.driver import DeviceError, unsupported_fields
from .engine.fight import FightDetector, FightSettings
from .engine.items import Item, OneOffItem, SeriesItem
from .engine.journal import Journal, JournalRecord, Result, Trigger
from .engine.planner import Schedule
from .engine.reconcile import Tolerance, diff, restrict
from .engine.state import SETPOINT_FIELDS, Measurements, Mode, Setpoints
from .helpers import translate_device_error
from .safe_stop import SAFE_STOP_STEP_S, SafeStopResult, safe_stop
from .store import ControllerStore, StoredOverride
from .transport import TRANSPORT_DEVICE, Transports

_LOGGER = logging.getLogger(__name__)

WATCHDOG_INTERVAL = timedelta(seconds=30)
STALE_NOTE = "day-ahead series is stale: dispatching zero"
CLOCK_JUMP_S = 5.0
BACKOFF_START_S = 5.0
BACKOFF_MAX_S = 300.0
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
# How long an unload waits for a run or safe stop under way to finish before saving anyway.
STOP_WAIT_S = 30.0


class PlantState(StrEnum):
    """Where the plant is in the safe-stop / restore cycle."""

    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    STARTING = "starting"


class Plan(Protocol):
    """What the controller needs from the engine's schedule."""

    def desired_at(self, t: datetime) -> Setpoints:
        """The desired state at instant t (UTC)."""
        ...

    def next_change_after(self, t: datetime) -> datetime | None:
        """The first instant after t where the desired state changes."""
        ...

    def next_event_after(self, t: datetime) -> datetime | None:
        """The next instant any item fires, even when it sets the same values again."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class ControllerSettings:
    """Options that shape a controller."""

    patrol_interval: timedelta = timedelta(minutes=15)
    settle_s: float = 0.5
    verify_timeout_s: float = 30.0
    fight: FightSettings = field(default_factory=FightSettings)
    journal_size: int = 2000
    # Safe stop (the button, source and transport switches, the action's defaults).
    safe_stop_threshold_pct: float = 1.0
    safe_stop_timeout_s: float = 60.0


class BatteryController:
    """Timers, runs, override, fight detection, effect verification and the journal."""

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        entry_id: str,
        name: str,
        coordinator: BatteryCoordinator,
        store: ControllerStore,
        items_factory: Callable[[], list[Item]],
        settings: ControllerSettings,
    ) -> None:
        """Nothing runs until async_start."""
        self.hass = hass
        self.entry_id = entry_id
        self.name = name
        self.coordinator = coordinator
        self.settings = settings
        self._store = store
        self._items_factory = items_factory
        self.missed: set[str] = set()
        self.items: list[Item] = []
        self.source = SOURCE_MANUAL
        self.transports: Transports | None = None
        self._stored_transport = TRANSPORT_DEVICE
        self.series: SeriesItem | None = None
        self.plan: Plan = self._build_plan()
        self._last_alive: datetime | None = None
        self.journal = Journal(settings.journal_size)
        self.fight = FightDetector(settings.fight)
        self.override: StoredOverride | None = None
        self.reconciliation_enabled = True
        self.dispatch_enabled = True
        self._transition: PlantState | None = None  # stopping or starting, while it lasts
        # The mode the plant ran in before a safe stop (which leaves it idle): restore puts it
        # back unless the schedule says which mode it wants.
        self.resume_mode: Mode | None = None
        self.switching = False
        self.desired = Setpoints()
        self.next_change: datetime | None = None
        self.skipped_runs = 0
        self.run_durations: deque[float] = deque(maxlen=100)
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._dirty = False
        self._running = False  # a run loop (not a safe stop) holds the lock
        self._pending: dict[Trigger, datetime | None] = {}
        self._next_pass: asyncio.Future[JournalRecord | None] | None = None
        self._started = False
        self._startup_done = False
        self._unsubs: list[CALLBACK_TYPE] = []
        self._tasks: set[asyncio.Task[object]] = set()
        self._timer: CALLBACK_TYPE | None = None
        self._retry: CALLBACK_TYPE | None = None
        self._verify: CALLBACK_TYPE | None = None
        self._backoff_s = 0.0
        self._written: dict[str, tuple[Any, float]] = {}
        self._wall_minus_mono = time.time() - time.monotonic()
        self._utc_offset = dt_util.now().utcoffset()
        self._tolerance = Tolerance.for_limits(coordinator.info.limits)
        self._timer_job = HassJob(self._async_on_timer, f"{DOMAIN} schedule timer")

    # ---------------------------------------------------------------- life cycle

    async def async_start(self) -> None:
        """Restore persisted state, arm timers and listen to the coordinator."""
        stored = await self._store.async_load()
        self.journal = Journal(
            self.settings.journal_size,
            [JournalRecord.from_dict(rec) for rec in stored.journal],
        )
        self.override = stored.override
        self.reconciliation_enabled = stored.reconciliation_enabled
        self.dispatch_enabled = stored.dispatch_enabled
        self.resume_mode = Mode(stored.resume_mode) if stored.resume_mode in set(Mode) else None
        self.missed = set(stored.missed)
        self.source = stored.source
        self._stored_transport = stored.transport
        self.series = stored.series
        self._last_alive = stored.last_alive
        self.plan = self._build_plan()
        self._started = True
        self._unsubs.append(self.coordinator.async_add_listener(self._on_coordinator_update))
        self._unsubs.append(
            async_track_time_interval(
                self.hass,
                self._async_on_patrol,
                self.settings.patrol_interval,
                name=f"{DOMAIN} patrol",
                cancel_on_shutdown=True,
            )
        )
        self._unsubs.append(
            async_track_time_interval(
                self.hass,
                self._on_watchdog,
                WATCHDOG_INTERVAL,
                name=f"{DOMAIN} watchdog",
                cancel_on_shutdown=True,
            )
        )
        if self.transports is not None and self._stored_transport != self.transports.current:
            await self._async_use_transport(self._stored_transport)
        self._rearm()
        if self.coordinator.last_update_success and self.coordinator.data is not None:
            await self._async_startup()

    async def async_stop(self) -> None:
        """Cancel every timer and save what must survive a restart."""
        self._started = False
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()
        for handle in (self._timer, self._retry, self._verify):
            if handle is not None:
                handle()
        self._timer = self._retry = self._verify = None
        self._stopping.set()
        # Let runs already under way finish (never cut a write in half), then save once.
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        # A run started by a command, or a safe stop, holds the lock without being a tracked
        # task: wait for it too, or the record it is about to add is never saved and its
        # sequence number is given again after the restart.
        locked = False
        try:
            async with asyncio.timeout(STOP_WAIT_S):
                locked = await self._lock.acquire()
        except TimeoutError:
            _LOGGER.warning(
                "%s: a run was still going after %.0f s; saving without it", self.name, STOP_WAIT_S
            )
        try:
            await self._store.async_save_now(self._snapshot())
        finally:
            if locked:
                self._lock.release()

    def _snapshot(self) -> dict[str, Any]:
        return {
            "journal": self.journal.as_list(),
            "override": self.override,
            "reconciliation_enabled": self.reconciliation_enabled,
            "dispatch_enabled": self.dispatch_enabled,
            "source": self.source,
            "transport": self.transports.current if self.transports else TRANSPORT_DEVICE,
            "series": self.series,
            "missed": sorted(self.missed),
            "last_alive": dt_util.utcnow().isoformat(),
            "resume_mode": self.resume_mode.value if self.resume_mode else None,
        }

    def _persist(self) -> None:
        if self._started:
            self._store.async_save_later(self._snapshot)

    # ---------------------------------------------------------------- planning

    def desired_at(self, t: datetime) -> Setpoints:
        """Schedule at t overlaid with the override while it is active."""
        desired = self.plan.desired_at(t)
        if self.override is not None and (self.override.expires is None or t < self.override.expires):
            desired = desired.overlay(self.override.setpoints)
        return desired

    def changes_between(
        self, start: datetime, end: datetime, *, limit: int | None = None
    ) -> list[tuple[datetime, Setpoints]]:
        """Every real change of the desired state (schedule and override) in (start, end].

        With limit, only the first limit changes.
        """
        return list(islice(self.iter_changes(start, end), limit))

    def iter_changes(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, Setpoints]]:
        """The changes of changes_between, planned only as far as the caller reads."""
        t, current = start, self.desired_at(start)
        while (at := self._next_wakeup(t)) is not None and at <= end:
            desired = self.desired_at(at)
            if desired != current:
                yield at, desired
                current = desired
            t = at

    def _next_wakeup(self, now: datetime) -> datetime | None:
        candidates = [self.plan.next_change_after(now)]
        if self.override is not None and self.override.expires is not None:
            candidates.append(self.override.expires)
        future = [c for c in candidates if c is not None and c > now]
        return min(future) if future else None

    @callback
    def _rearm(self, *, notify: bool = True) -> None:
        """One timer, at the next instant anything changes; re-armed after every fire and edit."""
        if self._timer is not None:
            self._timer()
            self._timer = None
        now = dt_util.utcnow()
        self._expire_override(now)
        self.desired = self.desired_at(now)
        self.next_change = self._next_wakeup(now)
        if self.next_change is not None and self._started:
            self._timer = async_track_point_in_utc_time(self.hass, self._timer_job, self.next_change)
        if notify:
            self._notify()

    def _expire_override(self, now: datetime) -> None:
        if self.override is not None and self.override.expires is not None and now >= self.override.expires:
            self.override = None
            self._persist()

    def _build_plan(self) -> Plan:
        self.items = self._items_factory()
        known = {item.id for item in self.items}
        self.missed &= known
        if self.source == SOURCE_API:
            # No series yet is stale too: the api source then dispatches zero.
            return Schedule([self.series or SeriesItem(id=SOURCE_API, rows=())])
        return Schedule([item for item in self.items if item.id not in self.missed])

    @callback
    def async_plan_changed(self) -> None:
        """Schedule items were edited: rebuild the plan, re-arm, and run."""
        self.plan = self._build_plan()
        self._rearm()
        self._schedule_run(Trigger.CONFIG)

    # ---------------------------------------------------------------- triggers

    async def _async_on_timer(self, now: datetime) -> None:
        scheduled = self.next_change
        self._timer = None
        # Entities are told after the run (async_run notifies): updating them first (the
        # calendar re-plans) would delay the write (found by benchmarks/timing.py).
        self._rearm(notify=False)
        await self.async_run(Trigger.SCHEDULE, scheduled=scheduled)

    @callback
    def _on_coordinator_update(self) -> None:
        """Compare with the new reading; always ends by signalling (controller entities rely on it)."""
        if not self._started or not self.coordinator.last_update_success:
            self._notify()
            return
        if not self._startup_done:
            self._track(self._async_startup())
            self._notify()
            return
        self._observe_fights()
        if self.reconciliation_enabled and self._drifted():
            self._schedule_run(Trigger.DRIFT)
        self._notify()

    async def _async_on_patrol(self, now: datetime) -> None:
        if not self.reconciliation_enabled:
            return
        if self._lock.locked():
            # The previous run is still going: skip this patrol and count it (seed 004).
            self.skipped_runs += 1
            return
        await self.coordinator.async_refresh()
        await self.async_run(Trigger.PATROL)

    @callback
    def _on_watchdog(self, now: datetime) -> None:
        """Re-plan when wall-clock time jumped or the UTC offset changed."""
        wall_minus_mono = time.time() - time.monotonic()
        offset = dt_util.now().utcoffset()
        jumped = abs(wall_minus_mono - self._wall_minus_mono) > CLOCK_JUMP_S
        self._wall_minus_mono = wall_minus_mono
        if jumped or offset != self._utc_offset:
            self._utc_offset = offset
            self._rearm()
            self._schedule_run(Trigger.WATCHDOG)
        self._persist()  # heartbeat: how long we were down is judged from the last save

    async def _async_startup(self) -> None:
        if self._startup_done:
            return
        self._startup_done = True
        self._check_misfires(dt_util.utcnow())
        await self.async_run(Trigger.STARTUP)

    def _check_misfires(self, now: datetime) -> None:
        """One-off changes due while Home Assistant was down (APScheduler semantics).

        Within the item's grace time the start-up run applies it; later than that it is recorded
        as missed and left out of the plan.
        """
        if self._last_alive is None:
            return
        newly_missed = False
        for item in self.items:
            if not isinstance(item, OneOffItem) or not item.enabled or item.id in self.missed:
                continue
            if not self._last_alive < item.at <= now:
                continue
            late = (now - item.at).total_seconds()
            if late <= item.misfire_grace_s:
                continue
            self.missed.add(item.id)
            newly_missed = True
            self._record(
                Trigger.STARTUP,
                item.at,
                now,
                Result.MISSED,
                note=f"{item.name or item.id}: due {late:.0f} s ago, grace {item.misfire_grace_s:.0f} s",
            )
        if newly_missed:
            self.plan = self._build_plan()
            self._rearm()

    @callback
    def _schedule_run(self, trigger: Trigger) -> None:
        if self._started:
            self._track(self.async_run(trigger))

    @callback
    def _track(self, coro: Coroutine[Any, Any, object]) -> None:
        task = self.hass.async_create_task(coro, eager_start=False)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------------- the run

    async def async_run(
        self, trigger: Trigger, *, scheduled: datetime | None = None, wait: bool = False
    ) -> JournalRecord | None:
        """One level-triggered run; a trigger during a run causes exactly one re-run.

        The re-run is journaled under the strongest trigger that asked for it (an override beats
        a drift correction, see RERUN_PRECEDENCE). With `wait` (a command), the caller waits for
        the pass that served it and gets its journal record (None when that pass recorded
        nothing); without it, a trigger during a run only marks the run dirty and returns.
        """
        if self._lock.locked():
            if self._running:
                self._dirty = True
                self._pending.setdefault(trigger, scheduled)
                if not wait:
                    return None
                if self._next_pass is None:
                    self._next_pass = asyncio.get_running_loop().create_future()
                return await asyncio.shield(self._next_pass)
            if not wait:
                # Held by a safe stop: it hands over to the schedule itself when it ends.
                self._dirty = True
                return None
        async with self._lock:
            if not self._started:
                return None
            self._running = True
            first: JournalRecord | None = None
            try:
                previous: Trigger | None = None
                while True:
                    self._dirty = False
                    self._pending.clear()
                    waiting, self._next_pass = self._next_pass, None
                    started = time.monotonic()
                    quiet = previous is not None and (trigger is previous or self._correcting(trigger))
                    record = await self._async_run_once(trigger, scheduled, rerun=quiet)
                    self.run_durations.append(time.monotonic() - started)
                    if previous is None:
                        first = record
                    if waiting is not None and not waiting.done():
                        waiting.set_result(record)
                    if not self._dirty or not self._started:
                        break
                    previous = trigger
                    trigger = min(self._pending, key=RERUN_PRECEDENCE.index, default=trigger)
                    scheduled = self._pending.get(trigger)
            finally:
                self._running = False
                self._pending.clear()
                if self._next_pass is not None and not self._next_pass.done():
                    self._next_pass.set_result(None)
                self._next_pass = None
        self._notify()
        return first

    def _correcting(self, trigger: Trigger) -> bool:
        return trigger in (Trigger.DRIFT, Trigger.PATROL)

    async def _async_run_once(
        self, trigger: Trigger, scheduled: datetime | None, *, rerun: bool = False
    ) -> JournalRecord | None:
        """One pass, and its journal record (if it made one).

        A quiet re-run (the same trigger again, or a correction) journals only what it writes.
        """
        now = dt_util.utcnow()
        self._expire_override(now)
        self.desired = self.desired_at(now)
        data: Measurements | None = self.coordinator.data
        if data is None or not self.coordinator.last_update_success:
            record = self._record(trigger, scheduled, now, Result.FAILED, error="battery unavailable")
            self._schedule_retry()
            return record
        if self._correcting(trigger) and not self.reconciliation_enabled:
            return None
        if not self.dispatch_enabled:
            # The dispatch gate is off: write nothing, whatever the plan says.
            if trigger in (Trigger.SCHEDULE, Trigger.OVERRIDE, Trigger.MANUAL) and not rerun:
                return self._record(trigger, scheduled, now, Result.SKIPPED, note="dispatch off")
            return None
        actual = self._actual(data)
        # A schedule may set a field this device lacks: write the rest, and say so in the journal.
        todo, lacking = self._diff(actual)
        # Fields fight detection suspended are not corrected; an override is asked for explicitly.
        skip = set() if trigger is Trigger.OVERRIDE else set(self.fight.suspended)
        if trigger is Trigger.SCHEDULE and scheduled is not None:
            before = self.desired_at(scheduled - timedelta(microseconds=1))
            unchanged = {
                name for name in SETPOINT_FIELDS if getattr(before, name) == getattr(self.desired, name)
            }
            # A scheduled change of a suspended field is written once at its instant (not a
            # correction); without reconciliation the executor writes only what changes now.
            skip = unchanged if not self.reconciliation_enabled else skip & unchanged
        todo = restrict(todo, todo.set_fields() - skip)
        note = f"the device cannot set {', '.join(sorted(lacking))}" if lacking else None
        if self.source == SOURCE_API and (self.series is None or self.series.stale_at(now)):
            note = STALE_NOTE
        if not todo.set_fields():
            if trigger is not Trigger.DRIFT and not rerun:
                return self._record(trigger, scheduled, now, Result.SUCCESS, note=note or "in sync")
            return None
        fields = {
            name: (_plain(getattr(actual, name)), _plain(getattr(todo, name))) for name in todo.set_fields()
        }
        mono = time.monotonic()
        try:
            await self.coordinator.driver.write(todo)
        except DeviceError as err:
            record = self._record(trigger, scheduled, now, Result.FAILED, fields=fields, error=str(err))
            self._schedule_retry()
            return record
        self._backoff_s = 0.0
        for name in todo.set_fields():
            self._written[name] = (getattr(todo, name), mono)
        for name in todo.set_fields():
            if self._correcting(trigger) and self.fight.record_correction(name, str(fields[name][0]), mono):
                self._raise_fight(name)
        record = self._record(trigger, scheduled, now, Result.SUCCESS, fields=fields, note=note)
        self.hass.bus.async_fire(
            EVENT_CHANGED,
            {
                "entry_id": self.entry_id,
                "trigger": trigger.value,
                "fields": {k: {"old": o, "new": n} for k, (o, n) in fields.items()},
            },
        )
        if {"mode", "power_w"} & todo.set_fields():
            self._schedule_verify()
        await self.coordinator.async_request_refresh()
        return record

    def _actual(self, data: Measurements) -> Setpoints:
        """The reading, with fields we wrote after it was taken (plus the settle time) overlaid.

        A reading that started before a write, or so soon after it that the device may not
        show it yet, is not evidence of drift for that field.
        """
        actual = data.actual_setpoints()
        fresh_from = self.coordinator.read_started - self.settings.settle_s
        written = {name: value for name, (value, at) in self._written.items() if at > fresh_from}
        return replace(actual, **written) if written else actual

    def _diff(self, actual: Setpoints) -> tuple[Setpoints, set[str]]:
        """What differs among the fields the device can be told, and the differing ones it cannot."""
        todo = diff(self.desired, actual, self._tolerance)
        lacking = unsupported_fields(todo, self.coordinator.info.capabilities)
        return restrict(todo, (todo.set_fields() & self.coordinator.info.writable) - lacking), lacking

    def _drifted(self) -> bool:
        data: Measurements | None = self.coordinator.data
        if data is None:
            return False
        return bool(self._diff(self._actual(data))[0].set_fields() - self.fight.suspended)

    def _record(
        self,
        trigger: Trigger,
        scheduled: datetime | None,
        executed: datetime,
        result: Result,
        *,
        fields: dict[str, tuple[Any, Any]] | None = None,
        error: str | None = None,
        note: str | None = None,
    ) -> JournalRecord:
        record = self.journal.add(
            trigger=trigger,
            scheduled=scheduled,
            executed=executed,
            result=result,
            fields=fields,
            error=error,
            note=note,
        )
        if result is Result.FAILED:
            _LOGGER.debug("%s: %s run failed: %s", self.name, trigger, error)
        self._persist()
        return record

    @callback
    def _schedule_retry(self) -> None:
        if self._retry is not None or not self._started:
            return
        self._backoff_s = min(BACKOFF_MAX_S, max(BACKOFF_START_S, self._backoff_s * 2))

        @callback
        def _retry(_now: datetime) -> None:
            self._retry = None
            self._schedule_run(Trigger.RETRY)

        self._retry = async_call_later(self.hass, self._backoff_s, _retry)

    # ---------------------------------------------------------------- verification

    @callback
    def _schedule_verify(self) -> None:
        if self._verify is not None:
            self._verify()
            self._verify = None
        if not self._started:
            return

        async def _verify(_now: datetime) -> None:
            self._verify = None
            await self.coordinator.async_refresh()
            self._check_effect()

        self._verify = async_call_later(self.hass, self.settings.verify_timeout_s, _verify)

    def _check_effect(self) -> None:
        data: Measurements | None = self.coordinator.data
        if data is None or not self.coordinator.last_update_success:
            return
        if not self.coordinator.info.capabilities.active_power:
            return  # nothing measured to verify against
        problem = expected_effect_missing(data, self.coordinator.info.limits.max_discharge_w)
        issue_id = f"no_effect_{self.entry_id}"
        if problem is None:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
            return
        self._record(Trigger.VERIFY, None, dt_util.utcnow(), Result.NO_EFFECT, note=problem)
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="no_effect",
            translation_placeholders={"battery": self.name, "detail": problem},
        )

    # ---------------------------------------------------------------- fights

    def _raise_fight(self, field: str) -> None:
        _LOGGER.warning("%s: something else keeps changing %s; stopped correcting it", self.name, field)
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            f"fight_{self.entry_id}_{field}",
            is_fixable=True,
            severity=ir.IssueSeverity.WARNING,
            translation_key="fight",
            translation_placeholders={
                "battery": self.name,
                "field": field,
                "values": ", ".join(self.fight.values_seen(field)),
            },
            data={"entry_id": self.entry_id, "field": field},
        )

    def _observe_fights(self) -> None:
        data: Measurements | None = self.coordinator.data
        if data is None:
            return
        actual = data.actual_setpoints()
        for name in self.fight.suspended:
            if self.fight.observe(name, str(_plain(getattr(actual, name))), time.monotonic()):
                ir.async_delete_issue(self.hass, DOMAIN, f"fight_{self.entry_id}_{name}")
                _LOGGER.info("%s: %s stopped drifting; correcting it again", self.name, name)

    @callback
    def async_resume_field(self, field: str) -> None:
        """The user resolved the fight repair: correct the field again."""
        self.fight.resume(field)
        ir.async_delete_issue(self.hass, DOMAIN, f"fight_{self.entry_id}_{field}")
        self._schedule_run(Trigger.CONFIG)

    # ---------------------------------------------------------------- commands

    async def async_set_override(
        self, setpoints: Setpoints, *, duration: timedelta | None = None, until_cleared: bool = False
    ) -> None:
        """Hold setpoints until the next scheduled change, for a duration, or until cleared."""
        try:
            self.coordinator.info.check(setpoints)  # a field the device lacks is refused, not stored
        except DeviceError as err:
            raise translate_device_error(err) from err
        now = dt_util.utcnow()
        if until_cleared:
            expires = None
        elif duration is not None:
            expires = now + duration
        else:
            expires = self.plan.next_event_after(now)
        merged = setpoints
        if self.override is not None and (self.override.expires is None or now < self.override.expires):
            merged = self.override.setpoints.overlay(setpoints)
        self.override = StoredOverride(setpoints=merged, expires=expires)
        self._persist()
        self._rearm()
        await self._async_run_checked(Trigger.OVERRIDE)

    async def async_clear_override(self) -> None:
        """Hand control back to the schedule."""
        self.override = None
        self._persist()
        self._rearm()
        await self._async_run_checked(Trigger.OVERRIDE)

    async def async_reconcile_now(self) -> None:
        """A fresh read, then a run."""
        await self.coordinator.async_refresh()
        await self._async_run_checked(Trigger.MANUAL)

    async def _async_run_checked(self, trigger: Trigger) -> None:
        """Run (or wait for the pass that serves this command) and surface its failure.

        The failure is a translated error; a run under way for another trigger is waited for,
        never mistaken for this command's own.
        """
        record = await self.async_run(trigger, wait=True)
        if record is not None and record.result is Result.FAILED:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="run_failed",
                translation_placeholders={"battery": self.name, "error": record.error or ""},
            )

    @callback
    def async_set_reconciliation(self, enabled: bool) -> None:
        """Start or stop correcting drift (the schedule still executes)."""
        if self.reconciliation_enabled == enabled:
            return
        self.reconciliation_enabled = enabled
        self._persist()
        if enabled:
            self._schedule_run(Trigger.PATROL)
        self._notify()

    @callback
    def async_set_dispatch(self, enabled: bool) -> None:
        """Open or close the dispatch gate; closed means nothing is written. Survives restart."""
        if self.dispatch_enabled == enabled:
            return
        self.dispatch_enabled = enabled
        self._persist()
        if enabled:
            self._schedule_run(Trigger.CONFIG)
        self._notify()

    @asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[None]:
        """Hold the run lock for a plant command: no run and no other command writes meanwhile.

        Safe stop, restore and plant enable change the gate and the plant together; holding the
        lock across both makes them atomic, and a second command waits for the first (at most
        STOP_WAIT_S, then a translated busy error). A trigger that arrived meanwhile runs after.
        """
        try:
            async with asyncio.timeout(STOP_WAIT_S):
                await self._lock.acquire()
        except TimeoutError:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="battery_busy",
                translation_placeholders={"battery": self.name, "seconds": f"{STOP_WAIT_S:.0f}"},
            ) from None
        try:
            yield
        finally:
            self._lock.release()
            if self._dirty:
                self._schedule_run(Trigger.CONFIG)

    async def async_safe_stop(
        self, *, threshold_w: float | None = None, timeout_s: float | None = None
    ) -> SafeStopResult:
        """Gate off, zero P and Q, wait under the threshold (or time out), disable. Never raises.

        Without a threshold or timeout, the battery's options decide (default 1 % of the rating
        and 60 s). The gate closes at once; the steps run holding the run lock, so a restore or
        another stop waits for this one to end instead of interleaving with it.
        """
        limits = self.coordinator.info.limits
        rating = max(limits.max_charge_w, limits.max_discharge_w)
        threshold = (
            threshold_w if threshold_w is not None else self.settings.safe_stop_threshold_pct / 100 * rating
        )
        if timeout_s is None:
            timeout_s = self.settings.safe_stop_timeout_s
        self.dispatch_enabled = False  # step 1 at once, whatever holds the lock
        self._persist()
        self._notify()
        try:
            async with self._exclusive():
                result = await self._async_safe_stop_locked(threshold, timeout_s)
        except HomeAssistantError:
            result = SafeStopResult(
                threshold_reached=False,
                disable_ok=False,
                waited_s=STOP_WAIT_S,
                final_p_w=None,
                final_q_var=None,
                disable_supported=self.coordinator.info.capabilities.enable,
                error=f"a run kept the battery busy for {STOP_WAIT_S:.0f} s",
            )
            self._record(
                Trigger.MANUAL,
                None,
                dt_util.utcnow(),
                Result.FAILED,
                error=result.error,
                note=f"safe stop: {result.as_dict()}",
            )
        await self.coordinator.async_request_refresh()
        self._notify()
        return result

    async def _async_safe_stop_locked(self, threshold: float, timeout_s: float) -> SafeStopResult:
        before: Measurements | None = self.coordinator.data
        if before is not None and before.mode is not Mode.IDLE and self.resume_mode is None:
            self.resume_mode = before.mode
        self.dispatch_enabled = False  # again: a restore may have opened it while this one waited
        self._transition = PlantState.STOPPING
        self._persist()
        self._notify()
        try:
            result = await safe_stop(
                self.coordinator.driver,
                threshold=threshold,
                timeout_s=timeout_s,
                step_s=SAFE_STOP_STEP_S,
                interrupt=self._stopping,
                capabilities=self.coordinator.info.capabilities,
            )
        finally:
            self._transition = None
        self._written.clear()  # the safe stop wrote past the run: trust only readings
        self._record(
            Trigger.MANUAL,
            None,
            dt_util.utcnow(),
            Result.SUCCESS if result.ok else Result.FAILED,
            error=result.error,
            note=f"safe stop: {result.as_dict()}",
        )
        await self.coordinator.async_refresh()
        return result

    async def async_restore(self) -> None:
        """Re-enable the plant and hand control back to the schedule (not during a switch).

        Holds the run lock from enabling to the journal record, so it never interleaves with a
        safe stop: one started first ends before this enables anything.
        """
        self._refuse_while_switching()
        async with self._exclusive():
            self._transition = PlantState.STARTING
            self._notify()
            try:
                await self.coordinator.driver.set_enabled(True)
                self.dispatch_enabled = True
                resume, self.resume_mode = self.resume_mode, None
                self._persist()
                note = "restored"
                if resume is not None and self.desired_at(dt_util.utcnow()).mode is None:
                    try:
                        await self.coordinator.driver.write(Setpoints(mode=resume))
                    except DeviceError:
                        self.resume_mode = resume
                        raise
                    note = f"restored mode {resume.value}"
            except DeviceError as err:
                raise translate_device_error(err) from err
            finally:
                self._transition = None
            self._record(Trigger.MANUAL, None, dt_util.utcnow(), Result.SUCCESS, note=note)
            await self.coordinator.async_refresh()
        await self._async_run_checked(Trigger.OVERRIDE)

    @property
    def plant_state(self) -> PlantState:
        """Where the plant is in the stop/start cycle.

        Stopping or starting while a safe stop or restore runs; otherwise running when the
        dispatch gate is open and the plant is enabled (as last read, where the device can be
        disabled), else stopped.
        """
        if self._transition is not None:
            return self._transition
        data: Measurements | None = self.coordinator.data
        disabled = (
            self.coordinator.info.capabilities.enable
            and data is not None
            and self.coordinator.last_update_success
            and not data.enabled
        )
        return PlantState.RUNNING if self.dispatch_enabled and not disabled else PlantState.STOPPED

    async def async_set_plant_enabled(self, enabled: bool) -> None:
        """Enable or disable the plant itself (not the safe-stop sequence: no zeroing, no wait)."""
        async with self._exclusive():
            try:
                await self.coordinator.driver.set_enabled(enabled)
            except DeviceError as err:
                raise translate_device_error(err) from err
            self._record(
                Trigger.MANUAL,
                None,
                dt_util.utcnow(),
                Result.SUCCESS,
                note=f"plant {'enabled' if enabled else 'disabled'}",
            )
            await self.coordinator.async_refresh()
        self._notify()

    async def async_set_series(self, series: SeriesItem) -> None:
        """New day-ahead rows for the api source (pushed by a service or fetched)."""
        self.series = series
        self._persist()
        self.async_plan_changed()

    async def _async_use_transport(self, name: str) -> None:
        assert self.transports is not None
        async with self._exclusive():  # no run writes to the driver being swapped out
            try:
                driver = await self.transports.async_driver(name, self.coordinator.info)
            except DeviceError as err:
                raise translate_device_error(err) from err
            self.coordinator.driver = driver
            self.transports.current = name
            self._written.clear()
            await self.coordinator.async_refresh()

    async def async_set_transport(self, name: str) -> None:
        """Switch between the device and the emulator, safety-gated like the source switch."""
        assert self.transports is not None

        async def apply() -> None:
            await self._async_use_transport(name)
            self._persist()

        await self._async_switch(name == self.transports.current, apply)

    async def async_set_source(self, source: str) -> None:
        """Switch the schedule source, safety-gated as seed 001 says.

        Set the switching flag, safe-stop the plant, apply the new source, clear the flag. A
        request while a switch is going is refused; a failed safe stop keeps the old source.
        """

        async def apply() -> None:
            self.source = source
            self._persist()
            self.plan = self._build_plan()
            self._rearm()

        await self._async_switch(source == self.source, apply)

    def _refuse_while_switching(self) -> None:
        if self.switching:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="switch_in_progress",
                translation_placeholders={"battery": self.name},
            )

    async def _async_switch(self, unchanged: bool, apply: Callable[[], Awaitable[None]]) -> None:
        """Switching flag, safe stop, apply, clear the flag; refused while another switch runs."""
        self._refuse_while_switching()
        if unchanged:
            return
        self.switching = True
        self._notify()
        try:
            result = await self.async_safe_stop()
            if not result.ok:
                raise HomeAssistantError(
                    translation_domain=DOMAIN,
                    translation_key="switch_failed",
                    translation_placeholders={"battery": self.name, "reason": result.reason},
                )
            await apply()
        finally:
            self.switching = False
            self._notify()

    # ---------------------------------------------------------------- public state

    @property
    def in_sync(self) -> bool | None:
        """Whether the battery is in the desired state (None when it cannot be read)."""
        data: Measurements | None = self.coordinator.data
        if data is None or not self.coordinator.last_update_success:
            return None
        return not self._diff(self._actual(data))[0].set_fields()

    def statistics(self) -> dict[str, Any]:
        """Journal counts, skipped patrols and run durations."""
        durations = list(self.run_durations)
        return {
            **self.journal.statistics(),
            "skipped_runs": self.skipped_runs,
            "runs_timed": len(durations),
            "max_run_s": round(max(durations), 3) if durations else None,
            "mean_run_s": round(sum(durations) / len(durations), 3) if durations else None,
        }

    @callback
    def _notify(self) -> None:
        async_dispatcher_send(self.hass, signal_state(self.entry_id))


def expected_effect_missing(data: Measurements, rating_w: float) -> str | None:
    """Why the measured power does not match the commanded mode and rate, or None when it does.

    In a force mode with a power setpoint the battery must reach at least half of it (with 0, "the
    full rate", any clear flow will do: ratings are not always reached), unless it is full
    (charging) or at its reserve (discharging).
    """
    threshold = max(20.0, 0.01 * rating_w)
    if not data.enabled:
        return None
    rate = min(abs(data.power_setpoint_w), rating_w) or rating_w
    enough = max(threshold, 0.5 * abs(data.power_setpoint_w)) if data.power_setpoint_w else threshold
    if data.mode is Mode.FORCE_CHARGE and data.soc_pct < 99.0:
        if data.active_power_w > -enough:
            return f"force charge at {rate:.0f} W commanded, measured {data.active_power_w:.0f} W"
    elif data.mode is Mode.FORCE_DISCHARGE and data.soc_pct > data.reserve_pct + 1.0:
        if data.active_power_w < enough:
            return f"force discharge at {rate:.0f} W commanded, measured {data.active_power_w:.0f} W"
    elif data.mode is Mode.IDLE and abs(data.active_power_w) > threshold:
        return f"idle commanded, measured {data.active_power_w:.0f} W"
    return None


def _plain(value: Any) -> Any:
    """JSON-safe value for the journal."""
    if isinstance(value, Mode):
        return value.value
    return value
