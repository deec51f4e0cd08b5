"""What the Home Assistant shell needs from a battery, whatever the transport."""

from dataclasses import dataclass
from typing import Protocol

from ..engine.state import Limits, Measurements, Setpoints


class DeviceError(Exception):
    """Base of every error a driver raises; carries a translation key for the shell."""

    translation_key = "device_error"


class DeviceConnectionError(DeviceError):
    """The device could not be reached, or stopped answering."""

    translation_key = "cannot_connect"


class DeviceResponseError(DeviceError):
    """The device answered with an error (e.g. a Modbus exception response)."""

    translation_key = "device_refused"

    def __init__(self, message: str, *, code: int | None = None) -> None:
        """Keep the device's own error code for diagnostics."""
        super().__init__(message)
        self.code = code


class UnsupportedDeviceError(DeviceError):
    """The device answered but is not what the chosen profile expects."""

    translation_key = "unsupported_device"


class LimitError(DeviceError):
    """A value is outside the device's limits; raised before anything is sent."""

    translation_key = "value_out_of_range"

    def __init__(self, field: str, value: float, minimum: float, maximum: float) -> None:
        """Name the field and its range so the message can say what is allowed."""
        super().__init__(f"{field}={value} is outside {minimum}..{maximum}")
        self.field = field
        self.value = value
        self.minimum = minimum
        self.maximum = maximum


@dataclass(frozen=True, kw_only=True, slots=True)
class DeviceInfo:
    """Identification read once at set-up."""

    manufacturer: str
    model: str
    serial: str
    firmware: str
    capacity_kwh: float
    limits: Limits


def check_limits(setpoints: Setpoints, limits: Limits) -> None:
    """Refuse any field outside the device's limits, before a single byte is sent."""
    checks: list[tuple[str, float | None, float, float]] = [
        ("reserve_pct", setpoints.reserve_pct, limits.reserve_min_pct, limits.reserve_max_pct),
        ("power_w", setpoints.power_w, -limits.max_charge_w, limits.max_discharge_w),
        (
            "reactive_var",
            setpoints.reactive_var,
            -limits.max_reactive_var,
            limits.max_reactive_var,
        ),
    ]
    for field, value, low, high in checks:
        if value is not None and not low <= value <= high:
            raise LimitError(field, value, low, high)


class BatteryDriver(Protocol):
    """One battery: identify once, read often, write only what differs."""

    async def identify(self) -> DeviceInfo:
        """Read identification and limits; raise UnsupportedDeviceError for a foreign device."""
        ...

    async def read(self) -> Measurements:
        """Read every polled value in as few requests as possible."""
        ...

    async def write(self, setpoints: Setpoints) -> None:
        """Write the fields `setpoints` sets; LimitError before sending when out of range."""
        ...

    async def close(self) -> None:
        """Close the connection; safe to call twice."""
        ...
