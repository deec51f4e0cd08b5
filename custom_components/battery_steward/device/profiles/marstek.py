"""Marstek Venus E (`marstek`): a community register map, NOT confirmed by the vendor.

Holding registers, FC3 reads and FC6 writes, 32-bit values big-endian word order; addresses,
types and scales from ViperRNMC/marstek_venus_modbus `registers/e_v12.yaml` and `e_v3.yaml`
(the v3 map is "partially validated on real hardware" upstream). Two things are uncertain and
therefore settings, not guesses: the sign of the power registers (`power_sign`) and the register
layout (`layout`: v1/v2, or v3 firmware).

Behaviour, from the same sources, evcc `templates/definition/meter/marstek-venus-e.yaml` and
user reports (Superduper1969/MarstekVenus-LilygoRS485#12, fonske/MarstekVenusV3-modbus-TCP-IP#6,
ViperRNMC/marstek_venus_modbus#113, #214, #294):

- 42000 = 0x55AA turns RS485 control on and forces 43000 (work mode) to 1; writing 43000 turns
  RS485 control off; 0x55BB hands control back to the device (it does not reset it: 41000 does).
- While RS485 control is on, 43000 reads 1 and 42010 (force mode) alone decides.
- Battery Steward's modes: force_charge/force_discharge -> RS485 control on, the power in
  42020/42021, 42010 = 1/2; idle -> RS485 control on, both powers 0, 42010 = 0, 43000 untouched;
  auto -> 43000 = anti-feed (1), then 42000 = 0x55BB.
- RS485 control drops by itself (v3, and after a TCP reconnect): every poll where it should be on
  and reads off re-asserts it, with the force mode and powers last written.
- 44002/44003 are the user's charge/discharge limits (0..2500 W, step 50); read at every poll and
  0 is a valid value (that direction is blocked).
- v3 needs at least 150 ms between requests (ffunes/Omnibattery `MESSAGE_WAIT_MS["v3"]`, issue
  #411): the driver paces requests for that layout.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, override

from ...engine.state import Limits, Measurements, Mode, Setpoints
from .. import registers as r
from ..blocks import Layout, extract, plan_blocks
from ..driver import Capabilities, DeviceInfo, DeviceResponseError, UnsupportedDeviceError
from .base import Profile, RegisterIO, decoded

POWER_SIGN_DISCHARGE_POSITIVE = "discharge_positive"
POWER_SIGN_CHARGE_POSITIVE = "charge_positive"
POWER_SIGNS = (POWER_SIGN_DISCHARGE_POSITIVE, POWER_SIGN_CHARGE_POSITIVE)
LAYOUT_V12 = "v12"
LAYOUT_V3 = "v3"
LAYOUTS = (LAYOUT_V12, LAYOUT_V3)
DEFAULT_CAPACITY_KWH = 5.12

RATED_POWER_W = 2500.0  # e_v12.yaml / e_v3.yaml: 42020, 42021, 44002, 44003 go up to 2500 W
RS485_ON = 0x55AA  # 21930
RS485_OFF = 0x55BB  # 21947: hands control back (evcc marstek-venus-e.yaml "normal")
RESET_COMMAND = 0x55AA  # written to 41000 (e_v12.yaml BUTTON reset_device); never by the driver
FORCE_STOP, FORCE_CHARGE, FORCE_DISCHARGE = 0, 1, 2
WORK_MANUAL, WORK_ANTI_FEED, WORK_TRADE = 0, 1, 2
V3_REQUEST_GAP_S = 0.15  # ffunes/Omnibattery MESSAGE_WAIT_MS["v3"] = 150 (issue #411)
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
        return (self.device_name, self.software_version, self.serial)

    def polled(self) -> tuple[r.Register, ...]:
        """Read every poll: what Measurements uses and the user's power limits."""
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
            self.max_charge_power,
            self.max_discharge_power,
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


def mode_of(rs485: int, force_mode: int) -> Mode:
    """Battery Steward's mode: without RS485 control the device runs itself (auto); with it, 42010 decides.

    43000 reads 1 whenever RS485 control is on (ViperRNMC/marstek_venus_modbus#294), so it says
    nothing about the mode.
    """
    if rs485 != RS485_ON:
        return Mode.AUTO
    if force_mode == FORCE_CHARGE:
        return Mode.FORCE_CHARGE
    if force_mode == FORCE_DISCHARGE:
        return Mode.FORCE_DISCHARGE
    return Mode.IDLE


FORCE_BY_MODE = {
    Mode.IDLE: FORCE_STOP,
    Mode.FORCE_CHARGE: FORCE_CHARGE,
    Mode.FORCE_DISCHARGE: FORCE_DISCHARGE,
}


def _printable_ascii(raw: bytes) -> bool:
    """Whether `raw` is text (printable ASCII, NUL padding allowed)."""
    text = raw.rstrip(b"\0")
    return bool(text) and all(0x20 <= b < 0x7F for b in text)


class MarstekProfile(Profile):
    """Marstek Venus E over its own Modbus TCP (v3) or an RS485-to-TCP gateway, unit 1."""

    name = "marstek"
    capabilities = Capabilities(reserve=False, reactive_power=False, enable=False, energy=False)

    def __init__(self, settings: MarstekSettings | None = None) -> None:
        """Plan the reads once; gaps in the map are not known to be readable, so none is bridged."""
        self.settings = settings or MarstekSettings()
        self.map = MAPS[self.settings.layout]
        self._identity_blocks = plan_blocks(self.map.identity())
        self._poll_layout = Layout.of(plan_blocks(self.map.polled()), self.map.polled())
        # The controlled state last written (None: the device runs itself), to re-assert it.
        self._mode: Mode | None = None
        self._power_w = 0.0
        self._seen: Mode | None = None  # the mode last read
        self.user_limits: tuple[float, float] | None = None  # 44002, 44003 as last read (W)
        self.reasserted = 0  # times RS485 control had dropped and was switched back on
        # v3 firmware needs time between requests (see the module docstring).
        self.min_request_gap_s = V3_REQUEST_GAP_S if self.settings.layout == LAYOUT_V3 else 0.0

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
        raw = b"".join(w.to_bytes(2, "big") for w in extract(self._identity_blocks, data, m.serial))
        if self.settings.layout == LAYOUT_V3 and any(raw) and not _printable_ascii(raw):
            # e_v3.yaml's 30304 is the MAC address, which some firmware holds as 6 raw bytes.
            serial = ":".join(f"{b:02X}" for b in raw[:6])
        if not serial or not serial.isprintable():
            raise UnsupportedDeviceError(f"{io.label}: no Marstek serial number at {m.serial.address}")
        return DeviceInfo(
            manufacturer="Marstek",
            model=str(value(m.device_name)) or "Venus E",
            serial=serial,
            firmware=f"{value(m.software_version):g}",
            capacity_kwh=self.settings.capacity_kwh,
            # The rating, not 44002/44003: those are the user's limits and may be 0.
            limits=Limits(
                max_charge_w=RATED_POWER_W, max_discharge_w=RATED_POWER_W, max_apparent_va=RATED_POWER_W
            ),
            capabilities=self.capabilities,
        )

    async def _poll(self, io: RegisterIO) -> dict[str, float]:
        values = decoded(self._poll_layout, await io.read_blocks(self._poll_layout.blocks))
        return {name: float(value) for name, value in values.items()}

    @override
    async def read(self, io: RegisterIO) -> Measurements:
        v = await self._poll(io)
        if self._mode is not None and v["rs485_control"] != RS485_ON:
            # RS485 control dropped (v3 by itself, any layout after a reconnect): take it back.
            self.reasserted += 1
            await self._command(io, self._mode, self._power_w)
            v = await self._poll(io)
        self.user_limits = (v["max_charge_power"], v["max_discharge_power"])
        mode = self._seen = mode_of(int(v["rs485_control"]), int(v["force_mode"]))
        power_setpoint = self._power_w
        if mode in {Mode.FORCE_CHARGE, Mode.FORCE_DISCHARGE}:
            forced = v["discharge_power"] - v["charge_power"]
            if abs(forced) != round(abs(self._power_w)):
                power_setpoint = forced  # set by someone else
        return Measurements(
            soc_pct=v["soc"],
            active_power_w=self.settings.sign * v["ac_power"],
            reactive_power_var=0.0,
            mode=mode,
            reserve_pct=0.0,
            # Idle and auto have no power register: the setpoint reads back as last written.
            power_setpoint_w=power_setpoint,
            reactive_setpoint_var=0.0,
            enabled=True,
            voltage_v=v["battery_voltage"],
            temperature_c=v["temperature"],
        )

    async def _put(self, io: RegisterIO, reg: r.Register, value: int) -> None:
        await io.write_words(reg.address, r.encode(reg, value))

    async def _command(self, io: RegisterIO, mode: Mode, power_w: float) -> None:
        """Put the device in `mode` at `power_w` (+ discharge) with the sequences the sources use."""
        m = self.map
        if mode is Mode.AUTO:
            # evcc "normal": the work mode (which takes RS485 control away), then hand back.
            await self._put(io, m.work_mode, WORK_ANTI_FEED)
            await self._put(io, m.rs485_control, RS485_OFF)
            self._mode = None
            return
        await self._put(io, m.rs485_control, RS485_ON)
        magnitude = round(abs(power_w))
        await self._put(io, m.charge_power, magnitude if mode is Mode.FORCE_CHARGE else 0)
        await self._put(io, m.discharge_power, magnitude if mode is Mode.FORCE_DISCHARGE else 0)
        await self._put(io, m.force_mode, FORCE_BY_MODE[mode])
        self._mode = mode

    @override
    async def write(self, io: RegisterIO, setpoints: Setpoints, info: DeviceInfo) -> None:
        if setpoints.mode is None and setpoints.power_w is None:
            return
        mode = setpoints.mode or self._mode or self._seen or Mode.AUTO
        power = setpoints.power_w if setpoints.power_w is not None else self._power_w
        self._power_w = power
        if setpoints.mode is None and mode in {Mode.AUTO, Mode.IDLE}:
            return  # a new power in a mode without a power register: nothing to send
        await self._command(io, mode, power)
