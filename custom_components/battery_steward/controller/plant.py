"""Plant operations: safe stop, restore, plant enable, source and transport switches, plant state.

Every write here goes through the runner's `exclusive()` section, so a safe stop and a restore
(or any two plant commands) never interleave: the second waits for the first, or is refused
with a translated error after STOP_WAIT_S. The gate and the plant change together inside it.

Seed 001's safe-stop contract, with a time limit on every step: 1. gate dispatch off; 2. write
zero active and reactive power (for the steward profile: mode idle with 0 W and 0 var setpoints);
3. wait until measured |P| and |Q| are below the threshold, or the timeout passes; 4. disable the
plant, where the device can be disabled (`disable_supported` says whether it can). A device error
ends the sequence with a result that says why; nothing is raised.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
import time
from typing import Any, Protocol

from homeassistant.core import Context
from homeassistant.exceptions import HomeAssistantError

from ..connection import Connection
from ..const import DOMAIN
from ..coordinator import BatteryCoordinator
from ..device.driver import DeviceError, DeviceInfo, unsupported_fields, writable_fields
from ..engine.journal import JournalRecord, Result, Trigger
from ..engine.reconcile import restrict
from ..engine.state import Measurements, Mode, Setpoints
from ..helpers import device_errors
from .runner import STOP_WAIT_S, Device, Runner

SAFE_STOP_STEP_S = 0.5
STEP_TIMEOUT_S = 10.0


class PlantState(StrEnum):
    """Where the plant is in the safe-stop / restore cycle."""

    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    STARTING = "starting"


@dataclass(frozen=True, kw_only=True, slots=True)
class SafeStopResult:
    """What the service returns per battery."""

    threshold_reached: bool
    disable_ok: bool
    waited_s: float
    final_p_w: float | None
    final_q_var: float | None
    disable_supported: bool = True
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Under the threshold, and disabled where the device can be."""
        return self.threshold_reached and (self.disable_ok or not self.disable_supported)

    @property
    def reason(self) -> str:
        """Why the stop is not ok, in words."""
        if self.error:
            return self.error
        if not self.threshold_reached:
            return f"the measured power stayed at {self.final_p_w} W / {self.final_q_var} var"
        return "the plant did not report itself disabled"

    def as_dict(self) -> dict[str, Any]:
        """Response data."""
        return {
            "threshold_reached": self.threshold_reached,
            "disable_ok": self.disable_ok,
            "waited_s": round(self.waited_s, 2),
            "final_p_w": self.final_p_w,
            "final_q_var": self.final_q_var,
            "disable_supported": self.disable_supported,
            "error": self.error,
        }


async def safe_stop(
    device: Device,
    info: DeviceInfo,
    *,
    threshold: float,
    timeout_s: float,
    step_s: float = SAFE_STOP_STEP_S,
    interrupt: asyncio.Event | None = None,
) -> SafeStopResult:
    """Steps 2-4 of the contract; the caller has closed the dispatch gate and holds the lock.

    When `interrupt` is set (the integration is stopping) the wait of step 3 ends early and the
    plant is disabled at once, so an unload never waits out a long timeout. Only the fields the
    device can be told are zeroed (an entity bridge may have no power setpoint, a custom map no
    idle mode), and step 4 is skipped where the device cannot be disabled.
    """
    capabilities = info.capabilities
    target = Setpoints(mode=Mode.IDLE, power_w=0.0, reactive_var=0.0)
    zero = restrict(target, writable_fields(capabilities) - unsupported_fields(target, capabilities))
    started = time.monotonic()
    p: float | None = None
    q: float | None = None

    def result(reached: bool, disabled: bool, error: str | None = None) -> SafeStopResult:
        return SafeStopResult(
            threshold_reached=reached,
            disable_ok=disabled,
            waited_s=time.monotonic() - started,
            final_p_w=p,
            final_q_var=q,
            disable_supported=capabilities.enable,
            error=error,
        )

    try:
        async with asyncio.timeout(STEP_TIMEOUT_S):
            await device.write(zero)
    except (DeviceError, TimeoutError) as err:
        return result(False, False, f"writing zero setpoints failed: {err or 'timeout'}")
    reached = False
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            async with asyncio.timeout(STEP_TIMEOUT_S):
                reading = await device.read()
        except (DeviceError, TimeoutError) as err:
            return result(False, False, f"reading the battery failed: {err or 'timeout'}")
        p, q = reading.active_power_w, reading.reactive_power_var
        if abs(p) < threshold and abs(q) < threshold:
            reached = True
            break
        if time.monotonic() >= deadline or (interrupt is not None and interrupt.is_set()):
            break
        await asyncio.sleep(step_s)
    if not capabilities.enable:
        return result(reached, False)
    try:
        async with asyncio.timeout(STEP_TIMEOUT_S):
            await device.set_enabled(False)
            disabled = not (await device.read()).enabled
    except (DeviceError, TimeoutError) as err:
        return result(reached, False, f"disabling failed: {err or 'timeout'}")
    return result(reached, disabled)


class PlantHost(Protocol):
    """What plant operations need from the controller loop."""

    name: str
    dispatch_enabled: bool

    def record(
        self,
        trigger: Trigger,
        result: Result,
        *,
        error: str | None = None,
        note: str | None = None,
        context: Context | None = None,
    ) -> JournalRecord:
        """Add a journal record now (naming the user of `context`)."""
        ...

    def persist(self) -> None:
        """Save what must survive a restart (coalesced)."""
        ...

    def notify(self) -> None:
        """Tell the controller's entities."""
        ...

    def forget_writes(self) -> None:
        """Something wrote past a run: trust only readings from now on."""
        ...

    def schedule_sets_mode(self) -> bool:
        """Whether the desired state now names a mode."""
        ...

    async def async_run_checked(self, trigger: Trigger, *, context: Context | None = None) -> None:
        """Run and surface a failure as a translated error."""
        ...


class Plant:
    """The gate and the plant, changed together under the runner's lock."""

    def __init__(
        self,
        host: PlantHost,
        *,
        runner: Runner,
        coordinator: BatteryCoordinator,
        connection: Connection,
        stopping: asyncio.Event,
    ) -> None:
        """Idle until a command comes."""
        self._host = host
        self._runner = runner
        self._coordinator = coordinator
        self._stopping = stopping
        self.connection = connection
        self.transition: PlantState | None = None  # stopping or starting, while it lasts
        # The mode the plant ran in before a safe stop (which leaves it idle): restore puts it
        # back unless the schedule says which mode it wants.
        self.resume_mode: Mode | None = None
        self.switching = False

    @property
    def state(self) -> PlantState:
        """Where the plant is in the stop/start cycle.

        Stopping or starting while a safe stop or restore runs; otherwise running when the
        dispatch gate is open and the plant is enabled (as last read, where the device can be
        disabled), else stopped.
        """
        if self.transition is not None:
            return self.transition
        data: Measurements | None = self._coordinator.data
        disabled = (
            self._coordinator.info.capabilities.enable
            and data is not None
            and self._coordinator.last_update_success
            and not data.enabled
        )
        return PlantState.RUNNING if self._host.dispatch_enabled and not disabled else PlantState.STOPPED

    def _close_gate(self) -> None:
        self._host.dispatch_enabled = False
        self._host.persist()
        self._host.notify()

    async def async_safe_stop(
        self, *, threshold: float, timeout_s: float, context: Context | None = None
    ) -> SafeStopResult:
        """Gate off at once, then steps 2-4 holding the lock. Never raises.

        A restore or another stop waits for this one to end instead of interleaving with it.
        """
        self._close_gate()  # step 1 at once, whatever holds the lock
        try:
            async with self._runner.exclusive() as device:
                result = await self._async_safe_stop_locked(device, threshold, timeout_s, context)
        except HomeAssistantError:
            result = SafeStopResult(
                threshold_reached=False,
                disable_ok=False,
                waited_s=STOP_WAIT_S,
                final_p_w=None,
                final_q_var=None,
                disable_supported=self._coordinator.info.capabilities.enable,
                error=f"a run kept the battery busy for {STOP_WAIT_S:.0f} s",
            )
            self._host.record(
                Trigger.MANUAL,
                Result.FAILED,
                error=result.error,
                note=f"safe stop: {result.as_dict()}",
                context=context,
            )
        await self._coordinator.async_request_refresh()
        self._host.notify()
        return result

    async def _async_safe_stop_locked(
        self, device: Device, threshold: float, timeout_s: float, context: Context | None
    ) -> SafeStopResult:
        before: Measurements | None = self._coordinator.data
        if before is not None and before.mode is not Mode.IDLE and self.resume_mode is None:
            self.resume_mode = before.mode
        self.transition = PlantState.STOPPING
        self._close_gate()  # again: a restore may have opened it while this one waited
        try:
            result = await safe_stop(
                device,
                self._coordinator.info,
                threshold=threshold,
                timeout_s=timeout_s,
                interrupt=self._stopping,
            )
        finally:
            self.transition = None
        self._host.forget_writes()  # the safe stop wrote past the run: trust only readings
        self._host.record(
            Trigger.MANUAL,
            Result.SUCCESS if result.ok else Result.FAILED,
            error=result.error,
            note=f"safe stop: {result.as_dict()}",
            context=context,
        )
        await self._coordinator.async_refresh()
        return result

    async def async_restore(self, *, context: Context | None = None) -> None:
        """Re-enable the plant and hand control back to the schedule (not during a switch).

        Holds the lock from enabling to the journal record, so a safe stop started first ends
        before this enables anything.
        """
        self.refuse_while_switching()
        async with self._runner.exclusive() as device:
            self.transition = PlantState.STARTING
            self._host.notify()
            try:
                with device_errors():
                    await device.set_enabled(True)
                    self._host.dispatch_enabled = True
                    resume, self.resume_mode = self.resume_mode, None
                    self._host.persist()
                    note = "restored"
                    if resume is not None and not self._host.schedule_sets_mode():
                        try:
                            await device.write(Setpoints(mode=resume))
                        except DeviceError:
                            self.resume_mode = resume
                            raise
                        note = f"restored mode {resume.value}"
            finally:
                self.transition = None
            self._host.record(Trigger.MANUAL, Result.SUCCESS, note=note, context=context)
            await self._coordinator.async_refresh()
        await self._host.async_run_checked(Trigger.OVERRIDE, context=context)

    async def async_set_enabled(self, enabled: bool, *, context: Context | None = None) -> None:
        """Enable or disable the plant itself (not the safe-stop sequence: no zeroing, no wait)."""
        async with self._runner.exclusive() as device:
            with device_errors():
                await device.set_enabled(enabled)
            self._host.record(
                Trigger.MANUAL,
                Result.SUCCESS,
                note=f"plant {'enabled' if enabled else 'disabled'}",
                context=context,
            )
            await self._coordinator.async_refresh()
        self._host.notify()

    async def async_use_transport(self, name: str) -> None:
        """Swap the connection's driver, holding the lock: no run writes to the one swapped out."""
        async with self._runner.exclusive():
            with device_errors():
                await self.connection.async_use(name, self._coordinator.info)
            self._host.forget_writes()
            await self._coordinator.async_refresh()

    def refuse_while_switching(self) -> None:
        """A restore or a second switch while one is going is refused, translated."""
        if self.switching:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="switch_in_progress",
                translation_placeholders={"battery": self._host.name},
            )

    async def async_switch(
        self,
        unchanged: bool,
        stop: Callable[[], Awaitable[SafeStopResult]],
        apply: Callable[[], Awaitable[None]],
    ) -> None:
        """Switching flag, safe stop, apply, clear the flag; refused while another switch runs.

        Seed 001: a failed safe stop keeps the old setting.
        """
        self.refuse_while_switching()
        if unchanged:
            return
        self.switching = True
        self._host.notify()
        try:
            result = await stop()
            if not result.ok:
                raise HomeAssistantError(
                    translation_domain=DOMAIN,
                    translation_key="switch_failed",
                    translation_placeholders={"battery": self._host.name, "reason": result.reason},
                )
            await apply()
        finally:
            self.switching = False
            self._host.notify()
