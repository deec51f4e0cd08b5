"""Victron GX in ESS mode (`victron`).

From Victron's CCGX Modbus-TCP register list (as shipped in
sfstar/hass-victron `resources/CCGX-Modbus-TCP-register-list-3.66.xlsx`), hass-victron `const.py`,
evcc's `victron-energy.yaml` template and Victron's "ESS mode 2 and 3" page.

Every register lives at unit id 100 (com.victronenergy.system and .settings; "Use unit-id 100 for
the com.victronenergy.system data"), whatever unit id the entry has: the registers carry their own
unit. Holding registers, FC3 reads (hass-victron) and FC6 writes, 16-bit values.

ESS mode 2 drives the grid, not the battery: register 2700 is the grid setpoint the GX's control
loop steers to (+ take from the grid, - feed in). Battery Steward's power setpoint is written as
its negation, so the battery delivers the house load plus the setpoint: with no house load it
charges or discharges at exactly the setpoint. The modes switch directions off: 2704 (maximum
inverter power) 0 stops discharging, 2705 (DVCC maximum charge current) 0 stops charging, -1 lifts
either limit ("ESS mode 2 and 3", control points d and e). These are settings: they persist on the
GX and do not time out.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, override

from ...engine.state import Measurements, Mode, Setpoints
from .. import registers as r
from ..blocks import Layout, plan_blocks
from ..driver import Capabilities, DeviceInfo, DeviceResponseError, UnsupportedDeviceError
from .base import Profile, RegisterIO, decoded, put, rated_limits, values_of

UNIT = 100  # com.victronenergy.system / .settings
NO_LIMIT = -1
ESS_OPTIMISED = (1, 2)  # 2902: 1 = with phase compensation, 2 = without; 3 = external control
DEFAULT_CAPACITY_KWH = 10.0
DEFAULT_MAX_POWER_W = 5000

U16, I16, STR = r.RegType.U16, r.RegType.I16, r.RegType.STR


def _reg(
    name: str, address: int, kind: r.RegType, scale: float = 1.0, *, writable: bool = False
) -> r.Register:
    length = 6 if kind is STR else 0
    return r.Register(
        name=name, address=address, type=kind, scale=scale, writable=writable, length=length, unit=UNIT
    )


# Register list: address, type, scale factor (raw = value x factor, so our scale is its inverse).
SERIAL = _reg("serial", 800, STR)  # "Serial (System)", string[6]: the GX's MAC address
BATTERY_VOLTAGE = _reg("battery_voltage", 840, U16, 0.1)  # factor 10
BATTERY_POWER = _reg("battery_power", 842, I16)  # "Positive: battery being charged"
SOC = _reg("soc", 843, U16)  # "Battery State of Charge (System)", %
GRID_SETPOINT = _reg("grid_setpoint", 2700, I16, writable=True)  # "ESS control loop setpoint", W
MAX_DISCHARGE = _reg("max_discharge", 2704, I16, 10, writable=True)  # factor 0.1: 10 W steps
MAX_CHARGE_CURRENT = _reg("max_charge_current", 2705, I16, writable=True)  # A, -1 disables the limit
MIN_SOC = _reg("min_soc", 2901, U16, 0.1, writable=True)  # "ESS Minimum SoC", factor 10
ESS_MODE = _reg("ess_mode", 2902, U16, writable=True)  # "ESS Mode" (Hub4Mode)

IDENTITY = (SERIAL, ESS_MODE)
POLLED = (
    BATTERY_VOLTAGE,
    BATTERY_POWER,
    SOC,
    GRID_SETPOINT,
    MAX_DISCHARGE,
    MAX_CHARGE_CURRENT,
    MIN_SOC,
    ESS_MODE,
)

# (discharge allowed, charge allowed) per mode.
_FLOWS = {
    Mode.AUTO: (True, True),
    Mode.FORCE_CHARGE: (False, True),
    Mode.FORCE_DISCHARGE: (True, False),
    Mode.IDLE: (False, False),
}
_MODES = {flows: mode for mode, flows in _FLOWS.items()}


@dataclass(frozen=True, kw_only=True, slots=True)
class VictronSettings:
    """What the GX's system registers do not tell: the battery's size and the inverter's rating."""

    capacity_kwh: float = DEFAULT_CAPACITY_KWH
    max_power_w: int = DEFAULT_MAX_POWER_W

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> VictronSettings:
        """Settings from a config entry; ValueError for a value that cannot be."""
        made = cls(
            capacity_kwh=float(settings.get("capacity_kwh", DEFAULT_CAPACITY_KWH)),
            max_power_w=int(settings.get("max_power_w", DEFAULT_MAX_POWER_W)),
        )
        if made.capacity_kwh <= 0 or made.max_power_w <= 0:
            raise ValueError(f"invalid Victron settings {dict(settings)}")
        return made


class VictronProfile(Profile):
    """A Victron ESS through its GX device's Modbus-TCP server."""

    name = "victron"
    capabilities = Capabilities(reactive_power=False, enable=False, temperature=False, energy=False)

    def __init__(self, settings: VictronSettings | None = None) -> None:
        """Plan the reads once (unit 100, no gap bridged)."""
        self.settings = settings or VictronSettings()
        self._identity_blocks = plan_blocks(IDENTITY)
        self._poll = Layout.of(plan_blocks(POLLED), POLLED)

    @override
    async def identify(self, io: RegisterIO) -> DeviceInfo:
        try:
            v = values_of(self._identity_blocks, await io.read_blocks(self._identity_blocks), IDENTITY)
        except DeviceResponseError as err:
            raise UnsupportedDeviceError(
                f"{io.label}: no Victron GX system registers at unit 100 ({err})"
            ) from err
        if not v["serial"]:
            raise UnsupportedDeviceError(f"{io.label}: no GX serial at register 800")
        if int(v["ess_mode"]) not in ESS_OPTIMISED:
            # 3 = external control: the grid setpoint is not used then (ESS mode 3 is another API).
            raise UnsupportedDeviceError(f"{io.label}: ESS mode {v['ess_mode']} is not ESS mode 2")
        power = float(self.settings.max_power_w)
        return DeviceInfo(
            manufacturer="Victron Energy",
            model="GX (ESS)",
            serial=str(v["serial"]),
            firmware="",
            capacity_kwh=self.settings.capacity_kwh,
            limits=rated_limits(power, power),
            capabilities=self.capabilities,
        )

    @override
    async def read(self, io: RegisterIO) -> Measurements:
        v = decoded(self._poll, await io.read_blocks(self._poll.blocks))
        flows = (float(v["max_discharge"]) != 0, float(v["max_charge_current"]) != 0)
        return Measurements(
            soc_pct=float(v["soc"]),
            active_power_w=-float(v["battery_power"]),  # Victron: + charging; ours: + discharging
            reactive_power_var=0.0,
            mode=_MODES[flows],
            reserve_pct=float(v["min_soc"]),
            power_setpoint_w=-float(v["grid_setpoint"]),
            reactive_setpoint_var=0.0,
            enabled=True,
            voltage_v=float(v["battery_voltage"]),
        )

    @override
    def unit_for(self, address: int) -> int | None:
        return UNIT  # every register this profile writes is a com.victronenergy.settings one

    @override
    async def write(self, io: RegisterIO, setpoints: Setpoints, info: DeviceInfo) -> None:
        if setpoints.reserve_pct is not None:
            await put(io, MIN_SOC, setpoints.reserve_pct)
        if setpoints.power_w is not None:
            await put(io, GRID_SETPOINT, -round(setpoints.power_w))
        if setpoints.mode is not None:
            discharge, charge = _FLOWS[setpoints.mode]
            # -1 lifts a limit; written as the raw register value, so the scale cannot change it.
            await io.write_words(MAX_DISCHARGE.target, [NO_LIMIT & 0xFFFF if discharge else 0])
            await put(io, MAX_CHARGE_CURRENT, NO_LIMIT if charge else 0)
