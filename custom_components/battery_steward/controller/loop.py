"""The level-triggered loop: one controller per battery makes the actual state agree with the desired.

The executor, the reconciler and the start-up misfire check of the seed systems are one run
started by different triggers (docs/architecture.md):

    desired = intent at now (schedule ⊕ override, engine.intent)
    write   = decide(trigger, desired, actual, suspended, gates) (engine.decide)
    journal the run; later verify that the measured state followed.

The runner (runner.py) runs one pass at a time and owns retries and every write; plant commands
are in plant.py, repair issues in issues.py. This module arms the triggers and does one pass.
"""

import asyncio
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
import logging
import time
from typing import Any

from homeassistant.core import CALLBACK_TYPE, Context, HassJob, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import (
    async_call_later,
    async_track_point_in_utc_time,
    async_track_time_interval,
)
from homeassistant.util import dt as dt_util

from ..connection import Connection
from ..const import (
    DOMAIN,
    EVENT_CHANGED,
    SOURCE_API,
    SOURCE_ENTITY,
    SOURCE_MANUAL,
    TRANSPORT_DEVICE,
    signal_state,
)
from ..coordinator import BatteryCoordinator
from ..device.driver import DeviceError, unsupported_fields
from ..engine.decide import Gates, decide, differing, plain
from ..engine.fight import Diagnosis, FightDetector
from ..engine.intent import Intent, Plan, override_active
from ..engine.items import DefaultItem, Item, OneOffItem, SeriesItem
from ..engine.journal import Journal, JournalRecord, Result, Trigger
from ..engine.planner import Schedule
from ..engine.reconcile import Tolerance, diff
from ..engine.state import Measurements, Mode, Setpoints, same_basis
from ..store import ControllerStore, StoredOverride
from .issues import ControllerIssues, expected_effect_missing
from .plant import Plant
from .runner import Device, Outcome, Runner, RunResult
from .settings import ControllerSettings

_LOGGER = logging.getLogger(__name__)

WATCHDOG_INTERVAL = timedelta(seconds=30)
HAND_BACK_NOTE = "stopping: control handed back (auto)"
CLOCK_JUMP_S = 5.0
OVERRIDE = "override"  # what a record names for a field an override set (no item behind it)


class ControlLoop:
    """Triggers, one pass of the loop, fight detection, verification and the journal.

    commands.BatteryController adds the commands (overrides, gates, plant) on top.
    """

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
        connection: Connection,
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
        self._stored_transport = TRANSPORT_DEVICE
        self.series: SeriesItem | None = None
        self.plan: Plan = self._build_plan()
        self._last_alive: datetime | None = None
        self.journal = Journal(settings.journal_size)
        self.journal.attribute = self.attribute
        self.fight = FightDetector(settings.fight)
        self.issues = ControllerIssues(hass, entry_id=entry_id, name=name)
        # With, per field, the item it came from (run_item; stored, so named after a restart too).
        self.override: StoredOverride | None = None
        self.reconciliation_enabled = True
        self.dispatch_enabled = True
        self.desired = Setpoints()
        self.next_change: datetime | None = None
        self._stopping = asyncio.Event()
        self.runner = Runner(
            hass, name=name, driver=lambda: connection.driver, body=self._async_pass, after_run=self._notify
        )
        self.plant = Plant(
            self, runner=self.runner, coordinator=coordinator, connection=connection, stopping=self._stopping
        )
        self._startup_done = False
        self._unsubs: list[CALLBACK_TYPE] = []
        self._timer: CALLBACK_TYPE | None = None
        self._verify: CALLBACK_TYPE | None = None
        self._written: dict[str, tuple[Any, float]] = {}
        # What _differing last worked out, and from what: a poll asks for it several times (the
        # drift check, the in-sync sensor), and most polls change none of it (poll_cost.py): the
        # basis holds the writes still too fresh for the reading, not the reading's start time.
        self._differing_memo: tuple[tuple[Any, ...], frozenset[str]] | None = None
        # What the last poll that signalled showed the controller's entities (see _on_coordinator_update).
        self._poll_shown: tuple[Any, ...] | None = None
        # Per field, what the battery had before our last write and what we wrote (the diagnosis).
        self._judged: dict[str, tuple[Any, Any]] = {}
        self._wall_minus_mono = time.time() - time.monotonic()
        self._utc_offset = dt_util.now().utcoffset()
        self._tolerance = Tolerance.for_limits(coordinator.info.limits)
        self._timer_job = HassJob(self._async_on_timer, f"{DOMAIN} schedule timer")

    # ---------------------------------------------------------------- life cycle

    async def async_start(self) -> None:
        """Restore persisted state, arm timers and listen to the coordinator."""
        stored = await self._store.async_load()
        self.journal = Journal(
            self.settings.journal_size, [JournalRecord.from_dict(r) for r in stored.journal]
        )
        self.journal.attribute = self.attribute  # before the first run: the start-up run names its items
        self.override = stored.override
        self.reconciliation_enabled = stored.reconciliation_enabled
        self.dispatch_enabled = stored.dispatch_enabled
        self.plant.resume_mode = Mode(stored.resume_mode) if stored.resume_mode in set(Mode) else None
        self.missed = set(stored.missed)
        self.source = stored.source
        self._stored_transport = stored.transport
        self.series = stored.series
        self._last_alive = stored.last_alive
        self.plan = self._build_plan()
        self.runner.active = True
        self._unsubs.append(self.coordinator.async_add_listener(self._on_coordinator_update))
        for action, interval, what in (
            (self._async_on_patrol, self.settings.patrol_interval, "patrol"),
            (self._on_watchdog, WATCHDOG_INTERVAL, "watchdog"),
        ):
            self._unsubs.append(
                async_track_time_interval(
                    self.hass, action, interval, name=f"{DOMAIN} {what}", cancel_on_shutdown=True
                )
            )
        if self.plant.connection.has_emulator and self._stored_transport != self.plant.connection.current:
            await self.plant.async_use_transport(self._stored_transport)
        self._rearm()
        if self.coordinator.last_update_success and self.coordinator.data is not None:
            await self._async_startup()

    async def async_stop(self) -> None:
        """Cancel every timer, let runs under way finish and save what must survive a restart."""
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()
        for handle in (self._timer, self._verify):
            if handle is not None:
                handle()
        self._timer = self._verify = None
        self._stopping.set()
        if self.settings.hand_back_on_stop and self.runner.active:
            self.runner.active = False  # no run may follow the hand-back and write the plan again
            await self._async_hand_back()
        await self.runner.stop(lambda: self._store.async_save_now(self._snapshot()))

    async def _async_hand_back(self) -> None:
        """Option "hand control back": write auto mode through the runner before stopping.

        With a power setpoint of 0 where the device has one: a Victron GX in ESS mode 2 would
        otherwise keep steering the grid to the last setpoint. Not with the dispatch gate closed
        (a safe stop said: write nothing), nor to a device that cannot be told auto; a failure is
        journaled and the stop goes on.
        """
        hand_back = Setpoints(mode=Mode.AUTO)
        if "power_w" in self.coordinator.info.writable and not self._unsupported(Setpoints(power_w=0.0)):
            hand_back = Setpoints(mode=Mode.AUTO, power_w=0.0)
        if not self.dispatch_enabled:
            self.record(Trigger.MANUAL, Result.SKIPPED, note="stopping: dispatch off, not handed back")
            return
        modes = self.coordinator.info.capabilities.modes
        if "mode" not in self.coordinator.info.writable or modes <= {Mode.AUTO} or Mode.AUTO not in modes:
            # Without a mode register a device is always in its own mode: nothing to hand back.
            self.record(Trigger.MANUAL, Result.SKIPPED, note="stopping: no auto mode to hand back to")
            return
        try:
            async with self.runner.exclusive() as device:
                await device.write(hand_back)
        except (DeviceError, HomeAssistantError) as err:
            _LOGGER.warning("%s: could not hand control back on stop: %s", self.name, err)
            self.record(Trigger.MANUAL, Result.FAILED, error=str(err), note=HAND_BACK_NOTE)
            return
        self.forget_writes()
        self.record(Trigger.MANUAL, Result.SUCCESS, note=HAND_BACK_NOTE)

    def _snapshot(self) -> dict[str, Any]:
        return {
            "journal": self.journal.as_list(),
            "override": self.override,
            "reconciliation_enabled": self.reconciliation_enabled,
            "dispatch_enabled": self.dispatch_enabled,
            "source": self.source,
            "transport": self.plant.connection.current,
            "series": self.series,
            "missed": sorted(self.missed),
            "last_alive": dt_util.utcnow().isoformat(),
            "resume_mode": self.plant.resume_mode.value if self.plant.resume_mode else None,
        }

    def persist(self) -> None:
        """Save soon (coalesced), while running."""
        if self.runner.active:
            self._store.async_save_later(self._snapshot)

    # ---------------------------------------------------------------- the intent

    @property
    def intent(self) -> Intent:
        """Schedule ⊕ override, as one function of time."""
        return Intent(self.plan, self.override)

    def desired_at(self, t: datetime) -> Setpoints:
        """Schedule at t overlaid with the override while it is active."""
        return self.intent.desired_at(t)

    def changes_between(
        self, start: datetime, end: datetime, *, limit: int | None = None
    ) -> list[tuple[datetime, Setpoints]]:
        """Every real change of the desired state (schedule and override) in (start, end]."""
        return self.intent.changes_between(start, end, limit=limit)

    def iter_changes(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, Setpoints]]:
        """The changes of changes_between, planned only as far as the caller reads."""
        return self.intent.iter_changes(start, end)

    @callback
    def _rearm(self, *, notify: bool = True) -> None:
        """One timer, at the next boundary (a change or the override's expiry); re-armed after each."""
        if self._timer is not None:
            self._timer()
            self._timer = None
        now = dt_util.utcnow()
        self._expire_override(now)
        intent = self.intent
        self.desired = intent.desired_at(now)
        self.next_change = intent.next_boundary_after(now)
        if self.next_change is not None and self.runner.active:
            self._timer = async_track_point_in_utc_time(self.hass, self._timer_job, self.next_change)
        if notify:
            self._notify()

    def _expire_override(self, now: datetime) -> None:
        if self.override is not None and not override_active(self.override, now):
            self.override = None
            self.persist()

    def sources_at(self, at: datetime) -> dict[str, str]:
        """Which item set each field of the desired state at `at` (field -> item id or OVERRIDE)."""
        sources = self.plan.sources_at(at) if isinstance(self.plan, Schedule) else {}
        if self.override is not None and override_active(self.override, at):
            sources |= {
                name: self.override.sources.get(name, OVERRIDE)
                for name in self.override.setpoints.set_fields()
            }
        return sources

    def attribute(self, fields: Iterable[str], at: datetime) -> dict[str, str]:
        """The item (or OVERRIDE) whose value each of `fields` held at `at` (the journal's hook)."""
        sources = self.sources_at(at)
        return {name: sources[name] for name in fields if name in sources}

    def _build_plan(self) -> Plan:
        self.items = self._items_factory()
        self.missed &= {item.id for item in self.items}
        if self.source == SOURCE_API:
            # No series yet is stale too: the api source then dispatches zero. The series sets the
            # mode and the powers at every instant; the default's other fields (the reserve) hold.
            defaults = [item for item in self.items if isinstance(item, DefaultItem)]
            return Schedule([*defaults, self.series or SeriesItem(id=SOURCE_API, rows=())])
        return Schedule([item for item in self.items if item.id not in self.missed])

    def _series_stale(self, now: datetime) -> bool:
        """The api or entity source's day-ahead series is stale (or missing) at now."""
        if self.source == SOURCE_API:
            return self.series is None or self.series.stale_at(now)
        if self.source == SOURCE_ENTITY:  # the plan feeds' series is the one item (plan_feeds.py)
            return any(isinstance(item, SeriesItem) and item.stale_at(now) for item in self.items)
        return False

    @callback
    def async_plan_changed(self) -> None:
        """Schedule items were edited: rebuild the plan, re-arm, and run."""
        self.plan = self._build_plan()
        self._rearm()
        self.runner.request(Trigger.CONFIG)

    # ---------------------------------------------------------------- triggers

    async def _async_on_timer(self, now: datetime) -> None:
        scheduled = self.next_change
        self._timer = None
        # Entities are told after the run (the runner notifies): updating them first (the
        # calendar re-plans) would delay the write (found by benchmarks/timing.py).
        self._rearm(notify=False)
        await self.async_run(Trigger.SCHEDULE, scheduled=scheduled)

    @callback
    def _on_coordinator_update(self) -> None:
        """Compare with the new reading; signal when the poll may change what entities show.

        The controller's entities show its state, which it signals itself when it changes; a
        poll changes only what follows from the reading: signalling them after every poll made
        each compute what it shows, for nothing most of the time (found by
        benchmarks/poll_cost.py). Entities whose display also depends on time hear of every poll
        themselves (coordinator.PollInterest, ControllerEntity._holds_until).
        """
        judged = False
        if self.runner.active and self.coordinator.last_update_success:
            if not self._startup_done:
                self.runner.track(self._async_startup())
                judged = True
            else:
                judged = bool(self._judged or self.fight.suspended)
                self._read_back()
                self._observe_fights()
                if self.reconciliation_enabled and self._drifted():
                    self.runner.request(Trigger.DRIFT)
                    judged = True
        data: Measurements | None = self.coordinator.data
        success = self.coordinator.last_update_success
        shown = (data, success, self._differing(data) if data is not None and success else None)
        last = self._poll_shown
        self._poll_shown = shown
        if judged or not same_basis(last, shown):
            self._notify()

    async def _async_on_patrol(self, now: datetime) -> None:
        if not self.reconciliation_enabled:
            return
        if self.runner.lock.locked():
            # The previous run is still going: skip this patrol and count it (seed 004).
            self.runner.skipped_runs += 1
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
            self._coalesced(Trigger.WATCHDOG, self.next_change, now, "clock jump")
            self._rearm()
            self.runner.request(Trigger.WATCHDOG)
        if self.runner.active:  # heartbeat: how long we were down is judged from the last one
            self._store.beat_later()

    async def _async_startup(self) -> None:
        if self._startup_done:
            return
        self._startup_done = True
        now = dt_util.utcnow()
        self._check_misfires(now)
        if self._last_alive is not None:
            first = self.intent.next_boundary_after(self._last_alive)
            self._coalesced(Trigger.STARTUP, first, now, "while Home Assistant was down")
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
            note = f"{item.name or item.id}: due {late:.0f} s ago, grace {item.misfire_grace_s:.0f} s"
            self._record(Trigger.STARTUP, item.at, now, Result.MISSED, note=note)
        if newly_missed:
            self.plan = self._build_plan()
            self._rearm()

    def _coalesced(self, trigger: Trigger, due: datetime | None, now: datetime, why: str) -> None:
        """Say so in a skipped record when scheduled changes due by `now` ran on no timer.

        The run `trigger` starts applies them at once, coalesced (APScheduler's coalescing);
        the record names the items of the state it catches up to.
        """
        if due is None or due > now:
            return
        count = sum(1 for _ in self.iter_changes(due - timedelta(microseconds=1), now))
        if not count:
            return
        note = (
            f"{why}: {count} scheduled change(s) due since {due.isoformat()}"
            f" coalesced into one {trigger.value} run"
        )
        self._record(trigger, due, now, Result.SKIPPED, note=note, items=self.sources_at(now))

    # ---------------------------------------------------------------- one pass

    async def async_run(
        self,
        trigger: Trigger,
        *,
        scheduled: datetime | None = None,
        wait: bool = False,
        context: Context | None = None,
    ) -> JournalRecord | None:
        """A run through the runner (one at a time; see Runner.run)."""
        return await self.runner.run(trigger, scheduled=scheduled, wait=wait, context=context)

    async def _async_pass(
        self,
        trigger: Trigger,
        scheduled: datetime | None,
        rerun: bool,
        device: Device,
        context: Context | None,
    ) -> RunResult:
        """One pass: the intent now, decide, write what it says, journal. Returns the outcome."""
        now = dt_util.utcnow()
        self._expire_override(now)
        intent = self.intent
        self.desired = intent.desired_at(now)
        data: Measurements | None = self.coordinator.data
        readable = data is not None and self.coordinator.last_update_success
        decision = decide(
            trigger=trigger,
            desired=self.desired,
            before=intent.just_before(scheduled) if trigger is Trigger.SCHEDULE and scheduled else None,
            actual=self._actual(data) if data is not None and readable else None,
            suspended=frozenset(self.fight.suspended),
            gates=Gates(dispatch=self.dispatch_enabled, reconciliation=self.reconciliation_enabled),
            tolerance=self._tolerance,
            writable=self.coordinator.info.writable,
            unsupported=self._unsupported,
            rerun=rerun,
            stale=self._series_stale(now),
        )
        if decision.result is Result.FAILED:
            record = self._record(
                trigger, scheduled, now, Result.FAILED, error=decision.error, context=context
            )
            return RunResult(record=record, outcome=Outcome.ERROR)
        if not decision.writes:
            if decision.result is None:
                return RunResult()
            return RunResult(
                record=self._record(
                    trigger, scheduled, now, decision.result, note=decision.note, context=context
                )
            )
        todo, fields = decision.write, decision.fields
        mono = time.monotonic()
        try:
            await device.write(todo)
        except DeviceError as err:
            record = self._record(
                trigger, scheduled, now, Result.FAILED, fields=fields, error=str(err), context=context
            )
            return RunResult(record=record, outcome=Outcome.ERROR)
        for name in todo.set_fields():
            self._written[name] = (getattr(todo, name), mono)
            before, value = fields[name]
            self._judged[name] = (before, value)
            self.fight.record_write(name, str(before), str(value))
            if decision.correcting and self.fight.record_correction(name, str(before), mono):
                self._fight_started(name)
        record = self._record(
            trigger, scheduled, now, Result.SUCCESS, fields=fields, note=decision.note, context=context
        )
        self.hass.bus.async_fire(
            EVENT_CHANGED,
            {
                "entry_id": self.entry_id,
                "trigger": trigger.value,
                "fields": {k: {"old": o, "new": n} for k, (o, n) in fields.items()},
                "items": dict(record.items),
            },
            context=context,
        )
        if {"mode", "power_w"} & todo.set_fields():
            self._schedule_verify()
        await self.coordinator.async_request_refresh()
        return RunResult(record=record)

    def _unsupported(self, setpoints: Setpoints) -> set[str]:
        return unsupported_fields(setpoints, self.coordinator.info.capabilities)

    def _fresh_writes(self) -> dict[str, Any]:
        """The fields we wrote after the reading was taken, or so soon before that it may not show them."""
        if not self._written:
            return {}
        fresh_from = self.coordinator.read_started - self.settings.settle_s
        return {name: value for name, (value, at) in self._written.items() if at > fresh_from}

    def _actual(self, data: Measurements, written: dict[str, Any] | None = None) -> Setpoints:
        """The reading, with the fresh writes (_fresh_writes, unless given) overlaid.

        A reading that started before a write, or so soon after it that the device may not
        show it yet, is not evidence of drift for that field.
        """
        actual = data.actual_setpoints()
        written = self._fresh_writes() if written is None else written
        return replace(actual, **written) if written else actual

    def _differing(self, data: Measurements) -> frozenset[str]:
        written = self._fresh_writes()
        basis = (data, self.desired, written, self.settings)
        memo = self._differing_memo
        if memo is not None and same_basis(memo[0], basis):
            return memo[1]
        todo, _ = differing(
            self.desired,
            self._actual(data, written),
            self._tolerance,
            self.coordinator.info.writable,
            self._unsupported,
        )
        fields = todo.set_fields()
        self._differing_memo = (basis, fields)
        return fields

    def _drifted(self) -> bool:
        data: Measurements | None = self.coordinator.data
        return data is not None and bool(self._differing(data) - self.fight.suspended)

    def forget_writes(self) -> None:
        """Something wrote past a run (a safe stop, a transport swap): trust only readings."""
        self._written.clear()

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
        items: dict[str, str] | None = None,
        context: Context | None = None,
    ) -> JournalRecord:
        record = self.journal.add(
            trigger=trigger,
            scheduled=scheduled,
            executed=executed,
            result=result,
            fields=fields,
            error=error,
            note=note,
            items=items,
            user_id=context.user_id if context is not None else None,
        )
        if result is Result.FAILED:
            _LOGGER.debug("%s: %s run failed: %s", self.name, trigger, error)
        self.persist()
        return record

    def record(
        self,
        trigger: Trigger,
        result: Result,
        *,
        error: str | None = None,
        note: str | None = None,
        context: Context | None = None,
    ) -> JournalRecord:
        """A journal record now, not tied to a scheduled instant (plant commands)."""
        return self._record(trigger, None, dt_util.utcnow(), result, error=error, note=note, context=context)

    async def async_run_checked(self, trigger: Trigger, *, context: Context | None = None) -> None:
        """Run (or wait for the pass that serves this command) and surface its failure.

        The failure is a translated error; a run under way for another trigger is waited for,
        never mistaken for this command's own.
        """
        record = await self.async_run(trigger, wait=True, context=context)
        if record is not None and record.result is Result.FAILED:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="run_failed",
                translation_placeholders={"battery": self.name, "error": record.error or ""},
            )

    def schedule_sets_mode(self) -> bool:
        """Whether the desired state now names a mode (restore then leaves the mode to the run)."""
        return self.desired_at(dt_util.utcnow()).mode is not None

    # ---------------------------------------------------------------- verification and fights

    @callback
    def _schedule_verify(self) -> None:
        if self._verify is not None:
            self._verify()
            self._verify = None
        if not self.runner.active:
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
        info = self.coordinator.info
        problem = expected_effect_missing(
            data, info.limits.max_discharge_w, rate_settable=info.capabilities.power_setpoint
        )
        if problem is not None:
            self.record(Trigger.VERIFY, Result.NO_EFFECT, note=problem)
        self.issues.no_effect(problem)

    def _fight_started(self, name: str) -> None:
        """The field needed too many corrections: say why (engine.fight.diagnosis)."""
        values = self.fight.values_seen(name)
        if self.fight.diagnosis(name) is Diagnosis.NO_EFFECT:
            _LOGGER.warning(
                "%s: the battery accepts writes of %s and keeps its value; stopped writing it",
                self.name,
                name,
            )
            self.issues.no_effect_field(name, values)
            return
        _LOGGER.warning("%s: something else keeps changing %s; stopped correcting it", self.name, name)
        self.issues.fight(name, values)

    def _read_back(self) -> None:
        """Feed each written field's reading to the diagnosis, once the write can show in it.

        A reading within tolerance of what we wrote (or of what the battery had before) counts as
        that value: a register's rounding is not a change someone else made. A reading that may
        predate the write (within the settle time) counts only when it already shows ours.
        """
        data: Measurements | None = self.coordinator.data
        if data is None or not self._judged:
            return
        actual = data.actual_setpoints()
        fresh_from = self.coordinator.read_started - self.settings.settle_s
        for name, (before, value) in self._judged.items():
            have = next((t for t in (value, before) if self._matches(name, t, actual)), None)
            if have != value:
                written = self._written.get(name)
                if written is not None and written[1] > fresh_from:
                    continue  # the reading may predate the write: only ours is evidence yet
                if have is None:
                    have = plain(getattr(actual, name))
            self.fight.read_back(name, str(have))

    def _matches(self, name: str, token: Any, actual: Setpoints) -> bool:
        if token is None:
            return False
        return not diff(Setpoints(**{name: _typed(name, token)}), actual, self._tolerance).set_fields()

    def _observe_fights(self) -> None:
        data: Measurements | None = self.coordinator.data
        if data is None or not self.fight.suspended:
            return
        actual = data.actual_setpoints()
        for name in self.fight.suspended:
            if self.fight.observe(name, str(plain(getattr(actual, name))), time.monotonic()):
                self.issues.fight_over(name)
                _LOGGER.info("%s: %s stopped drifting; correcting it again", self.name, name)

    @callback
    def notify(self) -> None:
        """Tell the controller's entities that its state changed."""
        async_dispatcher_send(self.hass, signal_state(self.entry_id))

    _notify = notify


def _typed(name: str, value: Any) -> Any:
    """A journal value (plain) back as the Setpoints field's type."""
    if name == "mode":
        return Mode(value) if value in set(Mode) else None
    return None if value is None else float(value)
