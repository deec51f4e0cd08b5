"""Marstek Venus E v1/v2 (`marstek`): a community register map, NOT confirmed by the vendor.

Holding registers, FC3 reads and FC6 writes, 32-bit values big-endian word order. Two things are
uncertain and therefore settings, not guesses: the sign of the power registers (`power_sign`) and
the register layout (`layout`: v1/v2, or v3 firmware as the community's v3 map - itself marked
untested - has it). Control sequence: RS485 control on, then power, then force mode.

Battery Steward's modes: force_charge/force_discharge -> force mode 1/2; idle -> force mode 0 with
user work mode manual (0); auto -> force mode 0 with work mode anti-feed (1). RS485 control is
never switched off by the driver: the community reports that doing so resets the device.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, override

from ...engine.state import Limits, Measurements, Mode, Setpoints
from .. import registers as r
from ..blocks import extract, plan_blocks
from ..driver import Capabilities, DeviceInfo, DeviceResponseError, UnsupportedDeviceError
from .base import Profile, RegisterIO

POWER_SIGN_DISCHARGE_POSITIVE = "discharge_positive"
POWER_SIGN_CHARGE_POSITIVE = "charge_positive"
POWER_SIGNS = (POWER_SIGN_DISCHARGE_POSITIVE, POWER_SIGN_CHARGE_POSITIVE)
LAYOUT_V12 = "v12"
LAYOUT_V3 = "v3"
LAYOUTS = (LAYOUT_V12, LAYOUT_V3)
DEFAULT_CAPACITY_KWH = 5.12

RS485_ON = 0x55AA
RS485_OFF = 0x55BB
FORCE_STOP, FORCE_CHARGE, FORCE_DISCHARGE = 0, 1, 2
WORK_MANUAL, WORK_ANTI_FEED, WORK_TRADE = 0, 1, 2
# Inverter state 35100.


@dataclass(frozen=True, kw_only=True, slots=True)
class MarstekMap:
    """Every register the profile uses, for one layout."""

    device_name: r.Register
    software_version: r.Register
    serial: r.Register
    battery_voltage: r.Register
    battery_current: r.Register
    battery_power: r.Register
    soc: r.Register
    ac_power: r.Register
    temperature: r.Register
    inverter_state: r.Register
    rs485_control: r.Register
    force_mode: r.Register
    charge_to_soc: r.Register
    charge_power: r.Register
    discharge_power: r.Register
    backup_function: r.Register
    work_mode: r.Register
    max_charge_power: r.Register
    max_discharge_power: r.Register

    def identity(self) -> tuple[r.Register, ...]:
        """Read once at set-up."""
        return (
            self.device_name,
            self.software_version,
            self.serial,
            self.max_charge_power,
            self.max_discharge_power,
        )

    def polled(self) -> tuple[r.Register, ...]:
        """Read every poll: only what Measurements uses."""
        return (
            self.battery_voltage,
            self.soc,
            self.ac_power,
            self.temperature,
            self.rs485_control,
            self.force_mode,
            self.charge_power,
            self.discharge_power,
            self.work_mode,
        )

    def unread(self) -> tuple[r.Register, ...]:
        """On the device (the simulator presents them) but not needed by Battery Steward."""
        return (self.battery_current, self.battery_power, self.inverter_state)


U16, I16, I32, STR = r.RegType.U16, r.RegType.I16, r.RegType.I32, r.RegType.STR


def _reg(
    name: str, address: int, kind: r.RegType, scale: float = 1.0, *, writable: bool = False, length: int = 10
) -> r.Register:
    length = length if kind is r.RegType.STR else 0
    return r.Register(name=name, address=address, type=kind, scale=scale, writable=writable, length=length)


def _controls() -> dict[str, r.Register]:
    """The control registers, the same in every known layout."""
    return {
        "rs485_control": _reg("rs485_control", 42000, U16, writable=True),
        "force_mode": _reg("force_mode", 42010, U16, writable=True),
        "charge_to_soc": _reg("charge_to_soc", 42011, U16, writable=True),
        "charge_power": _reg("charge_power", 42020, U16, writable=True),
        "discharge_power": _reg("discharge_power", 42021, U16, writable=True),
        "backup_function": _reg("backup_function", 41200, U16, writable=True),
        "work_mode": _reg("work_mode", 43000, U16, writable=True),
        "max_charge_power": _reg("max_charge_power", 44002, U16, writable=True),
        "max_discharge_power": _reg("max_discharge_power", 44003, U16, writable=True),
    }


MAPS: dict[str, MarstekMap] = {
    LAYOUT_V12: MarstekMap(
        device_name=_reg("device_name", 31000, STR),
        software_version=_reg("software_version", 31100, U16, 0.01),
        serial=_reg("serial", 31200, STR),
        battery_voltage=_reg("battery_voltage", 32100, U16, 0.01),
        battery_current=_reg("battery_current", 32101, I16, 0.01),
        battery_power=_reg("battery_power", 32102, I32),
        soc=_reg("soc", 32104, U16),
        ac_power=_reg("ac_power", 32202, I32),
        temperature=_reg("temperature", 35000, I16, 0.1),
        inverter_state=_reg("inverter_state", 35100, U16),
        **_controls(),
    ),
    # v3 firmware as the community's v3 map has it (itself marked untested there): measurements
    # moved and narrowed to 16 bits, no serial number or software version register, so the MAC
    # address stands in for the serial and the EMS version for the firmware.
    LAYOUT_V3: MarstekMap(
        device_name=_reg("device_name", 31000, STR),
        software_version=_reg("software_version", 30200, U16),
        serial=_reg("serial", 30304, STR, length=6),
        battery_voltage=_reg("battery_voltage", 30100, U16, 0.01),
        battery_current=_reg("battery_current", 30101, I16, 0.1),
        battery_power=_reg("battery_power", 30001, I16),
        soc=_reg("soc", 34002, U16, 0.1),
        ac_power=_reg("ac_power", 30006, I16),
        temperature=_reg("temperature", 35000, I16, 0.1),
        inverter_state=_reg("inverter_state", 35100, U16),
        **_controls(),
    ),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class MarstekSettings:
    """What the community map leaves open; chosen by the user."""

    power_sign: str = POWER_SIGN_DISCHARGE_POSITIVE
    layout: str = LAYOUT_V12
    capacity_kwh: float = DEFAULT_CAPACITY_KWH

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> MarstekSettings:
        """Settings from a config entry; ValueError for a value outside the known ones."""
        made = cls(
            power_sign=str(settings.get("power_sign", POWER_SIGN_DISCHARGE_POSITIVE)),
            layout=str(settings.get("layout", LAYOUT_V12)),
            capacity_kwh=float(settings.get("capacity_kwh", DEFAULT_CAPACITY_KWH)),
        )
        if made.power_sign not in POWER_SIGNS or made.layout not in LAYOUTS or made.capacity_kwh <= 0:
            raise ValueError(f"invalid Marstek settings {dict(settings)}")
        return made

    @property
    def sign(self) -> int:
        """Multiplier from the device's power sign to ours (+ discharge)."""
        return 1 if self.power_sign == POWER_SIGN_DISCHARGE_POSITIVE else -1


def mode_of(force_mode: int, work_mode: int) -> Mode:
    """Battery Steward's mode from force mode and user work mode."""
    if force_mode == FORCE_CHARGE:
        return Mode.FORCE_CHARGE
    if force_mode == FORCE_DISCHARGE:
        return Mode.FORCE_DISCHARGE
    return Mode.IDLE if work_mode == WORK_MANUAL else Mode.AUTO


class MarstekProfile(Profile):
    """Marstek Venus E over an RS485-to-TCP gateway, unit 1."""

    name = "marstek"
    capabilities = Capabilities(reserve=False, reactive_power=False, enable=False, energy=False)

    def __init__(self, settings: MarstekSettings | None = None) -> None:
        """Plan the reads once; gaps in the map are not known to be readable, so none is bridged."""
        self.settings = settings or MarstekSettings()
        self.map = MAPS[self.settings.layout]
        self._identity_blocks = plan_blocks(self.map.identity())
        self._poll_blocks = plan_blocks(self.map.polled())

    @override
    async def identify(self, io: RegisterIO) -> DeviceInfo:
        try:
            data = await io.read_blocks(self._identity_blocks)
        except DeviceResponseError as err:
            raise UnsupportedDeviceError(f"{io.label}: no Marstek identification registers ({err})") from err
        m = self.map

        def value(reg: r.Register) -> Any:
            return r.decode(reg, extract(self._identity_blocks, data, reg))

        serial = str(value(m.serial))
        if not serial or not serial.isprintable():
            raise UnsupportedDeviceError(f"{io.label}: no Marstek serial number at {m.serial.address}")
        max_charge, max_discharge = float(value(m.max_charge_power)), float(value(m.max_discharge_power))
        if max_charge <= 0 or max_discharge <= 0:
            raise UnsupportedDeviceError(f"{io.label}: Marstek power limits are zero")
        return DeviceInfo(
            manufacturer="Marstek",
            model=str(value(m.device_name)) or "Venus E",
            serial=serial,
            firmware=f"{value(m.software_version):g}",
            capacity_kwh=self.settings.capacity_kwh,
            limits=Limits(
                max_charge_w=max_charge,
                max_discharge_w=max_discharge,
                max_apparent_va=max(max_charge, max_discharge),
            ),
            capabilities=self.capabilities,
        )

    @override
    async def read(self, io: RegisterIO) -> Measurements:
        data = await io.read_blocks(self._poll_blocks)
        m = self.map
        v = {reg.name: float(r.decode(reg, extract(self._poll_blocks, data, reg))) for reg in m.polled()}
        return Measurements(
            soc_pct=v["soc"],
            active_power_w=self.settings.sign * v["ac_power"],
            reactive_power_var=0.0,
            # Without RS485 control the device follows its own work mode: that is auto.
            mode=mode_of(int(v["force_mode"]), int(v["work_mode"]))
            if v["rs485_control"] == RS485_ON
            else Mode.AUTO,
            reserve_pct=0.0,
            power_setpoint_w=v["discharge_power"] - v["charge_power"],
            reactive_setpoint_var=0.0,
            enabled=True,
            voltage_v=v["battery_voltage"],
            temperature_c=v["temperature"],
        )

    async def _put(self, io: RegisterIO, reg: r.Register, value: int) -> None:
        await io.write_words(reg.address, r.encode(reg, value))

    @override
    async def write(self, io: RegisterIO, setpoints: Setpoints, info: DeviceInfo) -> None:
        m = self.map
        if setpoints.mode is None and setpoints.power_w is None:
            return
        await self._put(io, m.rs485_control, RS485_ON)
        if (power := setpoints.power_w) is not None:
            await self._put(io, m.charge_power, round(-power) if power < 0 else 0)
            await self._put(io, m.discharge_power, round(power) if power > 0 else 0)
        mode = setpoints.mode
        if mode in {Mode.AUTO, Mode.IDLE}:
            await self._put(io, m.work_mode, WORK_ANTI_FEED if mode is Mode.AUTO else WORK_MANUAL)
            await self._put(io, m.force_mode, FORCE_STOP)
        elif mode is not None:
            await self._put(io, m.force_mode, FORCE_CHARGE if mode is Mode.FORCE_CHARGE else FORCE_DISCHARGE)
