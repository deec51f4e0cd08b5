"""Compare desired with actual, per field, with tolerance: what a run has to write."""

from dataclasses import dataclass

from .state import Limits, Mode, Setpoints


@dataclass(frozen=True, kw_only=True, slots=True)
class Tolerance:
    """How far actual may be from desired before it counts as different."""

    reserve_pct: float = 0.5
    power_w: float = 10.0
    reactive_var: float = 10.0

    @classmethod
    def for_limits(cls, limits: Limits) -> Tolerance:
        """0.2 % of the rating, at least 10 W / 10 var, and never finer than half a register step.

        A register that counts in 100 W steps stores 1234 W as 1200 W: a tolerance under 50 W
        would see a difference the device cannot remove, rewrite it at every poll and mistake
        the rounding for someone else changing the battery.
        """
        return cls(
            reserve_pct=max(0.5, _half_step(limits.reserve_step_pct)),
            power_w=max(
                10.0,
                0.002 * max(limits.max_charge_w, limits.max_discharge_w),
                _half_step(limits.power_step_w),
            ),
            reactive_var=max(10.0, 0.002 * limits.max_apparent_va, _half_step(limits.reactive_step_var)),
        )


def _half_step(step: float) -> float:
    """Half a register step, a hair wider so a value exactly between two steps is not a difference."""
    return abs(step) / 2 * 1.001


def diff(desired: Setpoints, actual: Setpoints, tolerance: Tolerance) -> Setpoints:
    """The fields desired sets whose actual value differs beyond tolerance (desired values)."""
    mode: Mode | None = None
    if desired.mode is not None and desired.mode != actual.mode:
        mode = desired.mode

    def differs(want: float | None, have: float | None, tol: float) -> float | None:
        if want is None:
            return None
        if have is None or abs(want - have) > tol:
            return want
        return None

    return Setpoints(
        mode=mode,
        reserve_pct=differs(desired.reserve_pct, actual.reserve_pct, tolerance.reserve_pct),
        power_w=differs(desired.power_w, actual.power_w, tolerance.power_w),
        reactive_var=differs(desired.reactive_var, actual.reactive_var, tolerance.reactive_var),
    )


def restrict(setpoints: Setpoints, fields: frozenset[str]) -> Setpoints:
    """Only the named fields of setpoints."""
    return Setpoints(
        mode=setpoints.mode if "mode" in fields else None,
        reserve_pct=setpoints.reserve_pct if "reserve_pct" in fields else None,
        power_w=setpoints.power_w if "power_w" in fields else None,
        reactive_var=setpoints.reactive_var if "reactive_var" in fields else None,
    )
