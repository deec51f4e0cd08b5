"""What the Home Assistant shell needs from a battery, whatever the transport."""

from dataclasses import dataclass, field as dc_field
from typing import Protocol

from ..engine.state import Limits, Measurements, Mode, Setpoints


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


class MalformedReplyError(DeviceError):
    """The device's reply does not fit the request.

    Fewer registers than asked, a byte count that lies, or another function code.
    """


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
class Capabilities:
    """What a device can do; the shell creates only the entities a device can back.

    A field a device cannot set reads back as its neutral value (0) and a write of anything else
    is refused before a byte is sent, so the reconciler never fights a missing register.
    """

    modes: frozenset[Mode] = frozenset(Mode)  # operating modes the device can be put in
    reserve: bool = True  # backup reserve (%) readable and writable
    power_setpoint: bool = True  # active power setpoint writable
    active_power: bool = True  # active power measured
    reactive_power: bool = True  # reactive power measured and its setpoint writable
    enable: bool = True  # the plant can be disabled (safe stop step 4)
    voltage: bool = True  # battery voltage measured
    temperature: bool = True  # temperature measured
    energy: bool = True  # charge/discharge energy counters


FULL_CAPABILITIES = Capabilities()


class UnsupportedFieldError(DeviceError):
    """A setpoint field the device has no register for; raised before anything is sent."""

    translation_key = "field_not_supported"

    def __init__(self, field: str, value: object) -> None:
        """Name the field so the message can say what the device lacks."""
        super().__init__(f"the device cannot set {field} (asked for {value})")
        self.field = field
        self.value = value


# The capability that lets a device be told each numeric setpoint field.
_FIELD_CAPABILITY = {"reserve_pct": "reserve", "power_w": "power_setpoint", "reactive_var": "reactive_power"}


def writable_fields(capabilities: Capabilities) -> frozenset[str]:
    """The setpoint fields a device with these capabilities can be told."""
    numeric = {name for name, cap in _FIELD_CAPABILITY.items() if getattr(capabilities, cap)}
    return frozenset(numeric | ({"mode"} if capabilities.modes else set()))


def unsupported_fields(setpoints: Setpoints, capabilities: Capabilities) -> set[str]:
    """Fields of `setpoints` the device cannot set (the neutral value 0 of a missing field is fine)."""
    unsupported: set[str] = set()
    if setpoints.mode is not None and setpoints.mode not in capabilities.modes:
        unsupported.add("mode")
    for name, cap in _FIELD_CAPABILITY.items():
        value = getattr(setpoints, name)
        if not getattr(capabilities, cap) and value is not None and value != 0:
            unsupported.add(name)
    return unsupported


def check_capabilities(setpoints: Setpoints, capabilities: Capabilities) -> None:
    """Refuse a field the device cannot set, unless it asks for the neutral value it reads back."""
    for name in sorted(unsupported_fields(setpoints, capabilities)):
        value = getattr(setpoints, name)
        raise UnsupportedFieldError(name, value.value if isinstance(value, Mode) else value)


@dataclass(frozen=True, kw_only=True, slots=True)
class DeviceInfo:
    """Identification read once at set-up."""

    manufacturer: str
    model: str
    serial: str
    firmware: str
    capacity_kwh: float
    limits: Limits
    capabilities: Capabilities = dc_field(default_factory=Capabilities)

    @property
    def writable(self) -> frozenset[str]:
        """The setpoint fields the device can be told (derived from its capabilities)."""
        return writable_fields(self.capabilities)

    def check(self, setpoints: Setpoints) -> None:
        """Refuse, before anything is sent, a field the device lacks or a value outside its limits."""
        check_capabilities(setpoints, self.capabilities)
        check_limits(setpoints, self.limits)


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

    async def set_enabled(self, enabled: bool) -> None:
        """Enable or disable the plant; a no-op on a device without that capability."""
        ...

    async def close(self) -> None:
        """Close the connection; safe to call twice."""
        ...
