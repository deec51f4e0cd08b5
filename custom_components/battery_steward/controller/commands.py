"""The controller's commands: what services, entities and repairs ask of a battery.

Each command changes the loop's inputs (the override, the gates, the series) and waits for the
run that serves it, or hands a plant operation to plant.py; the loop itself is loop.py.
"""

from datetime import timedelta
from typing import Any

from homeassistant.core import Context, callback
from homeassistant.util import dt as dt_util

from ..connection import Connection
from ..device.driver import check_power_mode
from ..engine.intent import override_active
from ..engine.items import SeriesItem
from ..engine.journal import Result, Trigger
from ..engine.state import Measurements, Mode, Setpoints
from ..helpers import device_errors
from ..store import StoredOverride
from .loop import OVERRIDE, ControlLoop
from .plant import PlantState, SafeStopResult


class BatteryController(ControlLoop):
    """One battery's controller: the loop, and the commands that feed it."""

    @callback
    def async_resume_field(self, field: str) -> None:
        """The user resolved the fight repair: correct the field again."""
        self.fight.resume(field)
        self.issues.fight_over(field)
        self.runner.request(Trigger.CONFIG)

    # ---------------------------------------------------------------- commands

    async def async_set_override(
        self,
        setpoints: Setpoints,
        *,
        duration: timedelta | None = None,
        until_cleared: bool = False,
        context: Context | None = None,
        item: str | None = None,
    ) -> None:
        """Hold setpoints until the next scheduled change, for a duration, or until cleared.

        `context` is the call's (its user is journaled); `item` the schedule item whose
        setpoints these are (run_item), named in the journal instead of "override".
        """
        with device_errors():
            self.coordinator.info.check(setpoints)  # a field the device lacks is refused, not stored
        now = dt_util.utcnow()
        if until_cleared:
            expires = None
        elif duration is not None:
            expires = now + duration
        else:
            expires = self.intent.override_until(now)
        merged = setpoints
        sources = dict.fromkeys(setpoints.set_fields(), item or OVERRIDE)
        if self.override is not None and override_active(self.override, now):
            merged = self.override.setpoints.overlay(setpoints)
            sources = {**self.override.sources, **sources}
        # A power alone runs in the mode the schedule gives, a mode alone with its power: they must agree.
        scheduled = self.desired_at(now)
        with device_errors():
            check_power_mode(
                Setpoints(
                    mode=merged.mode or scheduled.mode,
                    power_w=merged.power_w if merged.power_w is not None else scheduled.power_w,
                ),
                self.coordinator.info.capabilities,
            )
        self.override = StoredOverride(setpoints=merged, expires=expires, sources=sources)
        self.persist()
        self._rearm()
        await self.async_run_checked(Trigger.OVERRIDE, context=context)

    async def async_clear_override(self, *, context: Context | None = None) -> None:
        """Hand control back to the schedule."""
        self.override = None
        self.persist()
        self._rearm()
        await self.async_run_checked(Trigger.OVERRIDE, context=context)

    async def async_reconcile_now(self, *, context: Context | None = None) -> None:
        """A fresh read, then a run."""
        await self.coordinator.async_refresh()
        await self.async_run_checked(Trigger.MANUAL, context=context)

    @callback
    def async_set_reconciliation(self, enabled: bool, *, context: Context | None = None) -> None:
        """Start or stop correcting drift (the schedule still executes).

        Journaled with the user of `context`; the run that starts it again names them too.
        """
        if self.reconciliation_enabled == enabled:
            return
        self.reconciliation_enabled = enabled
        self.record(
            Trigger.MANUAL, Result.SUCCESS, note=f"reconciliation {_on_off(enabled)}", context=context
        )
        if enabled:
            self.runner.request(Trigger.PATROL, context=context)
        self._notify()

    @callback
    def async_set_dispatch(self, enabled: bool, *, context: Context | None = None) -> None:
        """Open or close the dispatch gate; closed means nothing is written. Survives restart.

        Journaled with the user of `context`; the run that opening it starts names them too.
        """
        if self.dispatch_enabled == enabled:
            return
        self.dispatch_enabled = enabled
        self.record(Trigger.MANUAL, Result.SUCCESS, note=f"dispatch {_on_off(enabled)}", context=context)
        if enabled:
            self.runner.request(Trigger.CONFIG, context=context)
        self._notify()

    async def async_set_series(self, series: SeriesItem) -> None:
        """New day-ahead rows for the api source (pushed by a service or fetched)."""
        self.series = series
        self.persist()
        self.async_plan_changed()

    # ---------------------------------------------------------------- plant commands (plant.py)

    async def async_safe_stop(
        self,
        *,
        threshold_w: float | None = None,
        timeout_s: float | None = None,
        context: Context | None = None,
    ) -> SafeStopResult:
        """Gate off, zero P and Q, wait under the threshold (or time out), disable. Never raises.

        Without a threshold or timeout, the battery's options decide (default 1 % of the rating
        and 60 s).
        """
        limits = self.coordinator.info.limits
        rating = max(limits.max_charge_w, limits.max_discharge_w)
        if threshold_w is None:
            threshold_w = self.settings.safe_stop_threshold_pct / 100 * rating
        return await self.plant.async_safe_stop(
            threshold=threshold_w,
            timeout_s=timeout_s if timeout_s is not None else self.settings.safe_stop_timeout_s,
            context=context,
        )

    async def async_restore(self, *, context: Context | None = None) -> None:
        """Re-enable the plant and hand control back to the schedule (not during a switch)."""
        await self.plant.async_restore(context=context)

    async def async_set_plant_enabled(self, enabled: bool, *, context: Context | None = None) -> None:
        """Enable or disable the plant itself (not the safe-stop sequence: no zeroing, no wait)."""
        await self.plant.async_set_enabled(enabled, context=context)

    async def async_set_transport(self, name: str, *, context: Context | None = None) -> None:
        """Switch between the device and the emulator, safety-gated like the source switch.

        The safe stop and the switch are journaled with the user of `context`.
        """
        assert self.transports is not None

        async def apply() -> None:
            await self.plant.async_use_transport(name)
            self.record(Trigger.MANUAL, Result.SUCCESS, note=f"transport {name}", context=context)

        await self.plant.async_switch(
            name == self.transports.current, lambda: self.async_safe_stop(context=context), apply
        )

    async def async_set_source(self, source: str, *, context: Context | None = None) -> None:
        """Switch the schedule source, safety-gated as seed 001 says.

        Set the switching flag, safe-stop the plant, apply the new source, clear the flag. A
        request while a switch is going is refused; a failed safe stop keeps the old source.
        The safe stop and the switch are journaled with the user of `context`.
        """

        async def apply() -> None:
            self.source = source
            self.record(Trigger.MANUAL, Result.SUCCESS, note=f"schedule source {source}", context=context)
            self.plan = self._build_plan()
            self._rearm()

        await self.plant.async_switch(
            source == self.source, lambda: self.async_safe_stop(context=context), apply
        )

    @property
    def plant_state(self) -> PlantState:
        """Where the plant is in the stop/start cycle (see Plant.state)."""
        return self.plant.state

    @property
    def transports(self) -> Connection | None:
        """The connection, where it offers a choice of transport (device or emulator)."""
        connection = self.plant.connection
        return connection if connection.has_emulator else None

    @property
    def resume_mode(self) -> Mode | None:
        """The mode a restore puts back (what the plant ran in before a safe stop)."""
        return self.plant.resume_mode

    @property
    def switching(self) -> bool:
        """Whether a source or transport switch is going."""
        return self.plant.switching

    @switching.setter
    def switching(self, value: bool) -> None:
        self.plant.switching = value

    # ---------------------------------------------------------------- public state

    @property
    def in_sync(self) -> bool | None:
        """Whether the battery is in the desired state (None when it cannot be read)."""
        data: Measurements | None = self.coordinator.data
        if data is None or not self.coordinator.last_update_success:
            return None
        return not self._differing(data)

    @property
    def skipped_runs(self) -> int:
        """Patrols skipped because a run was still going."""
        return self.runner.skipped_runs

    def statistics(self) -> dict[str, Any]:
        """Journal counts, skipped patrols and run durations."""
        durations = list(self.runner.run_durations)
        return {
            **self.journal.statistics(),
            "skipped_runs": self.runner.skipped_runs,
            "runs_timed": len(durations),
            "max_run_s": round(max(durations), 3) if durations else None,
            "mean_run_s": round(sum(durations) / len(durations), 3) if durations else None,
        }


def _on_off(enabled: bool) -> str:
    return "on" if enabled else "off"
