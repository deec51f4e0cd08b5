"""State types shared by the engine, the device layer and the Home Assistant shell."""

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Self


class Mode(StrEnum):
    """Operating mode of a battery, as Battery Steward names it for every device."""

    AUTO = "auto"
    FORCE_CHARGE = "force_charge"
    FORCE_DISCHARGE = "force_discharge"
    IDLE = "idle"


@dataclass(frozen=True, kw_only=True, slots=True)
class Setpoints:
    """A (possibly partial) desired state: None means "this item does not set the field"."""

    mode: Mode | None = None
    reserve_pct: float | None = None
    power_w: float | None = None  # + discharge, - charge
    reactive_var: float | None = None

    def overlay(self, other: Self) -> Self:
        """Return self with every field that `other` sets replaced by other's value."""
        changes = {name: value for name in SETPOINT_FIELDS if (value := getattr(other, name)) is not None}
        return replace(self, **changes) if changes else self

    def set_fields(self) -> frozenset[str]:
        """Names of the fields this value sets."""
        # SETPOINT_FIELDS rather than dataclasses.fields(): the planner and every poll call this
        # often, and fields() costs more than the rest together.
        return frozenset(name for name in SETPOINT_FIELDS if getattr(self, name) is not None)


SETPOINT_FIELDS: tuple[str, ...] = ("mode", "reserve_pct", "power_w", "reactive_var")


@dataclass(frozen=True, kw_only=True, slots=True)
class Limits:
    """What a device accepts; writes outside these are refused before anything is sent."""

    max_charge_w: float
    max_discharge_w: float
    max_apparent_va: float
    reserve_min_pct: float = 0.0
    reserve_max_pct: float = 100.0
    # Resolution of the registers behind each field (0: finer than any tolerance): a value is
    # stored rounded to its step, so comparisons must not see the rounding as a difference.
    power_step_w: float = 0.0
    reserve_step_pct: float = 0.0
    reactive_step_var: float = 0.0

    @property
    def max_reactive_var(self) -> float:
        """Reactive power is bounded by the apparent-power rating alone."""
        return self.max_apparent_va


@dataclass(frozen=True, kw_only=True, slots=True)
class Measurements:
    """One consistent reading of a battery."""

    soc_pct: float
    active_power_w: float  # measured, + discharge, - charge
    reactive_power_var: float
    mode: Mode | None  # None: the device is in a mode Battery Steward has no name for
    reserve_pct: float
    power_setpoint_w: float
    reactive_setpoint_var: float
    enabled: bool
    voltage_v: float | None = None
    temperature_c: float | None = None
    charge_energy_kwh: float | None = None
    discharge_energy_kwh: float | None = None

    def actual_setpoints(self) -> Setpoints:
        """The device's current commanded state, comparable with a desired Setpoints."""
        return Setpoints(
            mode=self.mode,
            reserve_pct=self.reserve_pct,
            power_w=self.power_setpoint_w,
            reactive_var=self.reactive_setpoint_var,
        )


def same_basis(last: tuple[Any, ...] | None, now: tuple[Any, ...]) -> bool:
    """Whether what a memo was worked out from is unchanged: item by item, the same object or equal.

    Identity first: a plan or a reading kept as the same object compares at once.
    """
    return last is not None and all(a is b or a == b for a, b in zip(last, now, strict=True))
