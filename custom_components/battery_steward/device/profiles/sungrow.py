"""Sungrow SH hybrid inverters (`sungrow`), from mkaiser/Sungrow-SHx-Inverter-Modbus-Home-Assistant.

Every address, type and scale comes from that project's `modbus_sungrow.yaml`, which uses 0-based
addresses (its comments give Sungrow's 1-based register numbers: `address: 13049 # reg 13050`).
Measurements are input registers (FC4), controls holding registers (FC3 read, FC6 write); 32-bit
values have the low word first (`swap: word`).

Modes, as the file's scenes set them: auto = EMS mode 0 (self-consumption) with command 0xCC
(stop); idle = EMS mode 2 (forced, "Battery Bypass Mode") with 0xCC; force charge/discharge = EMS
mode 2 with 0xAA/0xBB at the power in 13051. None of these times out on the device.
"""

from typing import Any, override

from ...engine.state import Measurements, Mode, Setpoints
from .. import registers as r
from ..blocks import Layout, plan_blocks
from ..driver import Capabilities, DeviceInfo, DeviceResponseError, UnsupportedDeviceError
from .base import Profile, RegisterIO, decoded, put, rated_limits, values_of

EMS_SELF_CONSUMPTION, EMS_FORCED = 0, 2
CMD_CHARGE, CMD_DISCHARGE, CMD_STOP = 0xAA, 0xBB, 0xCC
# Device type codes of the SH family start with 0x0D or 0x0E (the file's "Sungrow device type" map).
SH_FAMILIES = (0x0D, 0x0E)
SH_MODELS = {0x0E03: "SH10RT", 0x0E02: "SH8.0RT", 0x0E01: "SH6.0RT", 0x0E00: "SH5.0RT", 0x0D0F: "SH5.0RS"}

U16, I32, STR = r.RegType.U16, r.RegType.I32, r.RegType.STR


def _input(name: str, address: int, kind: r.RegType, scale: float = 1.0, **extra: Any) -> r.Register:
    return r.Register(name=name, address=address, type=kind, scale=scale, input=True, **extra)


def _holding(name: str, address: int, scale: float = 1.0, *, writable: bool = True) -> r.Register:
    return r.Register(name=name, address=address, type=U16, scale=scale, writable=writable)


# Identification (input registers).
SERIAL = _input("serial", 4989, STR, length=10)  # "Sungrow inverter serial", 10 registers
DEVICE_TYPE = _input("device_type", 4999, U16)  # "Sungrow device type code"
CAPACITY = _input("capacity_kwh", 5638, U16, 0.01)  # "Battery capacity high precision", 0.01 kWh
# Measurements (input registers).
BATTERY_POWER = _input("battery_power", 5213, I32, swap_words=True)  # + discharging, - charging
BATTERY_VOLTAGE = _input("battery_voltage", 13019, U16, 0.1)
SOC = _input("soc", 13022, U16, 0.1)  # "Battery level"
# Controls (holding registers).
EMS_MODE = _holding("ems_mode", 13049)  # "EMS mode selection raw"
COMMAND = _holding("command", 13050)  # "Battery forced charge discharge cmd raw"
POWER = _holding("power", 13051)  # "Battery forced charge discharge power", W (SH*RT, as the file notes)
RESERVE = _holding("reserve", 13099)  # "Battery reserved SoC for backup", %
MAX_CHARGE = _holding("max_charge_w", 33046, 10)  # "Battery max charge power", 10 W steps
MAX_DISCHARGE = _holding("max_discharge_w", 33047, 10)  # "Battery max discharge power"

IDENTITY = (SERIAL, DEVICE_TYPE, CAPACITY, MAX_CHARGE, MAX_DISCHARGE)
POLLED = (BATTERY_POWER, BATTERY_VOLTAGE, SOC, EMS_MODE, COMMAND, POWER, RESERVE)

_MODES = {
    (EMS_SELF_CONSUMPTION, CMD_STOP): Mode.AUTO,
    (EMS_FORCED, CMD_STOP): Mode.IDLE,
    (EMS_FORCED, CMD_CHARGE): Mode.FORCE_CHARGE,
    (EMS_FORCED, CMD_DISCHARGE): Mode.FORCE_DISCHARGE,
}
_WRITES = {mode: codes for codes, mode in _MODES.items()}


def model_name(code: int) -> str:
    """The model the device type code names, or the code itself."""
    return SH_MODELS.get(code, f"SH (0x{code:04X})")


class SungrowProfile(Profile):
    """Sungrow SH over its LAN port or WiNet-S dongle."""

    name = "sungrow"
    capabilities = Capabilities(reactive_power=False, enable=False, temperature=False, energy=False)

    def __init__(self) -> None:
        """Plan the reads once; the source's gaps are not known to be readable, so none is bridged."""
        self._identity_blocks = plan_blocks(IDENTITY)
        self._poll = Layout.of(plan_blocks(POLLED), POLLED)
        # 13051 holds a magnitude; the sign of a power asked for while stopped is remembered here.
        self._sign = 1

    @override
    async def identify(self, io: RegisterIO) -> DeviceInfo:
        try:
            v = values_of(self._identity_blocks, await io.read_blocks(self._identity_blocks), IDENTITY)
        except DeviceResponseError as err:
            raise UnsupportedDeviceError(f"{io.label}: no Sungrow identification registers ({err})") from err
        code = int(v["device_type"])
        if code >> 8 not in SH_FAMILIES or not v["serial"]:
            raise UnsupportedDeviceError(f"{io.label}: device type 0x{code:04X} is not a Sungrow SH hybrid")
        return DeviceInfo(
            manufacturer="Sungrow",
            model=model_name(code),
            serial=str(v["serial"]),
            firmware="",
            capacity_kwh=float(v["capacity_kwh"]),
            limits=rated_limits(float(v["max_charge_w"]), float(v["max_discharge_w"])),
            capabilities=self.capabilities,
        )

    @override
    async def read(self, io: RegisterIO) -> Measurements:
        v = decoded(self._poll, await io.read_blocks(self._poll.blocks))
        command = int(v["command"])
        sign = {CMD_CHARGE: -1, CMD_DISCHARGE: 1}.get(command, self._sign)
        return Measurements(
            soc_pct=float(v["soc"]),
            active_power_w=float(v["battery_power"]),
            reactive_power_var=0.0,
            mode=_MODES.get((int(v["ems_mode"]), command)),
            reserve_pct=float(v["reserve"]),
            power_setpoint_w=sign * float(v["power"]),
            reactive_setpoint_var=0.0,
            enabled=True,
            voltage_v=float(v["battery_voltage"]),
        )

    @override
    async def write(self, io: RegisterIO, setpoints: Setpoints, info: DeviceInfo) -> None:
        if setpoints.reserve_pct is not None:
            await put(io, RESERVE, round(setpoints.reserve_pct))
        if (power := setpoints.power_w) is not None:
            self._sign = -1 if power < 0 else 1
            await put(io, POWER, round(abs(power)))
        if setpoints.mode is not None:
            ems, command = _WRITES[setpoints.mode]
            # The scenes' order: EMS mode first, then the command.
            await put(io, EMS_MODE, ems)
            await put(io, COMMAND, command)
