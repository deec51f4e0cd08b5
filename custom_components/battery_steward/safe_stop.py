"""Seed 001's safe-stop contract, with a time limit on every step.

1. (caller) gate dispatch off; 2. write zero active and reactive power (for the steward profile:
mode idle with 0 W and 0 var setpoints); 3. wait until measured |P| and |Q| are below the
threshold, or the timeout passes; 4. disable the plant, where the device can be disabled
(`disable_supported` says whether it can). A device error ends the sequence with a result that
says why; nothing is raised.
"""

import asyncio
from dataclasses import dataclass
import time
from typing import Any

from .device.driver import (
    FULL_CAPABILITIES,
    BatteryDriver,
    Capabilities,
    DeviceError,
    unsupported_fields,
    writable_fields,
)
from .engine.reconcile import restrict
from .engine.state import Mode, Setpoints

SAFE_STOP_STEP_S = 0.5
STEP_TIMEOUT_S = 10.0


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
    driver: BatteryDriver,
    *,
    threshold: float,
    timeout_s: float,
    step_s: float,
    interrupt: asyncio.Event | None = None,
    capabilities: Capabilities = FULL_CAPABILITIES,
) -> SafeStopResult:
    """Steps 2-4 of the contract; the caller has closed the dispatch gate.

    When `interrupt` is set (the integration is stopping) the wait of step 3 ends early and the
    plant is disabled at once, so an unload never waits out a long timeout. Only the fields the
    device can be told are zeroed (an entity bridge may have no power setpoint, a custom map no
    idle mode), and step 4 is skipped where the device cannot be disabled. The caller holds the
    run lock, so no run writes between the steps.
    """
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
            await driver.write(zero)
    except (DeviceError, TimeoutError) as err:
        return result(False, False, f"writing zero setpoints failed: {err or 'timeout'}")
    reached = False
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            async with asyncio.timeout(STEP_TIMEOUT_S):
                reading = await driver.read()
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
            await driver.set_enabled(False)
            disabled = not (await driver.read()).enabled
    except (DeviceError, TimeoutError) as err:
        return result(reached, False, f"disabling failed: {err or 'timeout'}")
    return result(reached, disabled)
