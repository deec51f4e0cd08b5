"""SunSpec storage (`sunspec`): model 1 (common), 124 (basic storage controls), 802 or 160 (battery).

Offsets count from the model id register and match the SunSpec JSON model definitions shipped in
pysunspec2 (checked in tests). Model 124 as the standard defines it (pysunspec2
`models/json/model_124.json`) and as Fronius GEN24 is driven in practice (redpomodoro/fronius_modbus
`change_settings`, `set_grid_charge_mode`, `set_grid_discharge_mode`; evcc
`templates/definition/meter/fronius-gen24.yaml`):

- `StorCtl_Mod` is a bit field: bit 0 (CHARGE) makes the charge limit `InWRte` active, bit 1
  (DiSCHARGE) the discharge limit `OutWRte`. `InWRte` is a percentage of `WChaMax`, `OutWRte` of
  `WDisChaMax` (model 802's `WDisChaRteMax` here, `WChaMax` without it). An active negative
  discharge limit forces charging, an active negative charge limit forces discharging, both limits
  active at 0 hold the battery.
- Battery Steward's modes: auto -> `StorCtl_Mod` 0 with both limits back at 100 %; idle -> 3 with
  both limits 0; force_charge at p W -> 2 with `OutWRte` = -p % and `ChaGriSet` GRID (1); force
  discharge at p W -> 1 with `InWRte` = -p %. `ChaGriSet` is PV (0) in every other mode. On a
  Fronius, charging from the grid also needs the inverter's own setting (AND-ed with `ChaGriSet`).
- The mode reads back from the active limits and their signs, never from `StorCtl_Mod` alone (a
  Fronius in auto has `OutWRte` 100). In auto and idle no register holds a power setpoint: the
  power setpoint reads back as the last one written.
- Backup reserve -> `MinRsvPct` (a Fronius refuses under 5 %); enable -> model 802 `SetOp`
  (1 connect, 2 disconnect), read back from 802 `State` (1 = disconnected).
- Battery power: model 802 `W` (no sign in the standard: a setting, `power_sign`), or, on a
  device without 802 such as a Fronius GEN24, model 160 (MPPT) module 4 `DCW` (discharge) minus
  module 3 `DCW` (charge), as evcc's fronius-gen24 template reads it.

Unimplemented values (int16/sunssf 0x8000, uint16/enum16/bitfield16 0xFFFF) read as unknown.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, override

from ...engine.state import Limits, Measurements, Mode, Setpoints
from .. import registers as r
from ..blocks import Block, extract, plan_blocks
from ..driver import (
    Capabilities,
    DeviceError,
    DeviceInfo,
    DeviceResponseError,
    UnsupportedDeviceError,
)
from .base import Profile, RegisterIO

SUNS = (0x5375, 0x6E53)  # "SunS"
BASE_ADDRESSES = (40000, 0, 50000)
END_MODEL = 0xFFFF
MAX_MODELS = 64

MODEL_COMMON = 1
MODEL_STORAGE = 124
MODEL_MPPT = 160
MODEL_BATTERY = 802

# name -> (offset from the model id register, SunSpec type, registers)
COMMON_POINTS: dict[str, tuple[int, str, int]] = {
    "Mn": (2, "string", 16),
    "Md": (18, "string", 16),
    "Opt": (34, "string", 8),
    "Vr": (42, "string", 8),
    "SN": (50, "string", 16),
}
STORAGE_POINTS: dict[str, tuple[int, str, int]] = {
    "WChaMax": (2, "uint16", 1),
    "WChaGra": (3, "uint16", 1),
    "WDisChaGra": (4, "uint16", 1),
    "StorCtl_Mod": (5, "bitfield16", 1),
    "VAChaMax": (6, "uint16", 1),
    "MinRsvPct": (7, "uint16", 1),
    "ChaState": (8, "uint16", 1),
    "StorAval": (9, "uint16", 1),
    "InBatV": (10, "uint16", 1),
    "ChaSt": (11, "enum16", 1),
    "OutWRte": (12, "int16", 1),
    "InWRte": (13, "int16", 1),
    "InOutWRte_WinTms": (14, "uint16", 1),
    "InOutWRte_RvrtTms": (15, "uint16", 1),
    "InOutWRte_RmpTms": (16, "uint16", 1),
    "ChaGriSet": (17, "enum16", 1),
    "WChaMax_SF": (18, "sunssf", 1),
    "WChaDisChaGra_SF": (19, "sunssf", 1),
    "VAChaMax_SF": (20, "sunssf", 1),
    "MinRsvPct_SF": (21, "sunssf", 1),
    "ChaState_SF": (22, "sunssf", 1),
    "StorAval_SF": (23, "sunssf", 1),
    "InBatV_SF": (24, "sunssf", 1),
    "InOutWRte_SF": (25, "sunssf", 1),
}
STORAGE_LENGTH = 24
BATTERY_POINTS: dict[str, tuple[int, str, int]] = {
    "WHRtg": (3, "uint16", 1),
    "WDisChaRteMax": (5, "uint16", 1),
    "SocRsvMax": (9, "uint16", 1),
    "SoCRsvMin": (10, "uint16", 1),
    "SoC": (11, "uint16", 1),
    "State": (22, "enum16", 1),
    "V": (34, "uint16", 1),
    "W": (47, "int16", 1),
    "SetOp": (50, "enum16", 1),
    "SetInvState": (51, "enum16", 1),
    "WHRtg_SF": (53, "sunssf", 1),
    "WChaDisChaMax_SF": (54, "sunssf", 1),
    "SoC_SF": (56, "sunssf", 1),
    "V_SF": (59, "sunssf", 1),
    "W_SF": (63, "sunssf", 1),
}
BATTERY_LENGTH = 62
# Model 160: a fixed part of 8 registers after ID and L, then N modules of 20 registers each.
MPPT_POINTS: dict[str, tuple[int, str, int]] = {"DCW_SF": (4, "sunssf", 1), "N": (8, "uint16", 1)}
MPPT_FIXED = 10  # offset of the first module
MPPT_MODULE_LENGTH = 20
MPPT_MODULE_DCW = 11  # offset of DCW inside a module
# GEN24: module 3 is the battery's charge power, module 4 its discharge power (evcc fronius-gen24.yaml).
MPPT_CHARGE_MODULE = 3
MPPT_DISCHARGE_MODULE = 4


def mppt_dcw_offset(module: int) -> int:
    """Offset of module `module`'s (1-based) DCW from model 160's id register."""
    return MPPT_FIXED + (module - 1) * MPPT_MODULE_LENGTH + MPPT_MODULE_DCW


MPPT_BATTERY_POINTS: dict[str, tuple[int, str, int]] = {
    "DCW_charge": (mppt_dcw_offset(MPPT_CHARGE_MODULE), "uint16", 1),
    "DCW_discharge": (mppt_dcw_offset(MPPT_DISCHARGE_MODULE), "uint16", 1),
}

# Scale factor of each scaled point this profile uses.
SCALE_OF: dict[str, str] = {
    "WChaMax": "WChaMax_SF",
    "VAChaMax": "VAChaMax_SF",
    "MinRsvPct": "MinRsvPct_SF",
    "ChaState": "ChaState_SF",
    "InBatV": "InBatV_SF",
    "OutWRte": "InOutWRte_SF",
    "InWRte": "InOutWRte_SF",
    "WHRtg": "WHRtg_SF",
    "WDisChaRteMax": "WChaDisChaMax_SF",
    "SocRsvMax": "SoC_SF",
    "SoCRsvMin": "SoC_SF",
    "SoC": "SoC_SF",
    "V": "V_SF",
    "W": "W_SF",
    "DCW_charge": "DCW_SF",
    "DCW_discharge": "DCW_SF",
}

# StorCtl_Mod bits (model_124.json symbols CHARGE = 0, DiSCHARGE = 1).
STOR_CTL_CHARGE = 1 << 0  # InWRte active
STOR_CTL_DISCHARGE = 1 << 1  # OutWRte active
STOR_CTL_BY_MODE: dict[Mode, int] = {
    Mode.AUTO: 0,
    Mode.FORCE_CHARGE: STOR_CTL_DISCHARGE,  # a negative discharge limit forces charging
    Mode.FORCE_DISCHARGE: STOR_CTL_CHARGE,  # a negative charge limit forces discharging
    Mode.IDLE: STOR_CTL_CHARGE | STOR_CTL_DISCHARGE,  # both limits at 0
}
CHA_GRI_PV, CHA_GRI_GRID = 0, 1
FULL_RATE_PCT = 100.0
SETOP_CONNECT = 1
SETOP_DISCONNECT = 2
STATE_DISCONNECTED = 1  # model 802 State
FRONIUS = "Fronius"
FRONIUS_MIN_RESERVE_PCT = 5.0  # redpomodoro/fronius_modbus set_minimum_reserve refuses less

POWER_SIGN_DISCHARGE_POSITIVE = "discharge_positive"
POWER_SIGN_CHARGE_POSITIVE = "charge_positive"
POWER_SIGNS = (POWER_SIGN_DISCHARGE_POSITIVE, POWER_SIGN_CHARGE_POSITIVE)

_SIGNED = frozenset({"int16", "sunssf"})


def unimplemented(kind: str, raw: int) -> bool:
    """Whether `raw` is SunSpec's "not implemented" value for a point of type `kind`."""
    return raw == 0x8000 if kind in _SIGNED else raw == 0xFFFF


def signed(raw: int) -> int:
    """A 16-bit register as a signed integer."""
    return raw - 0x10000 if raw & 0x8000 else raw


@dataclass(frozen=True, kw_only=True, slots=True)
class SunSpecSettings:
    """What the standard leaves open: the sign of model 802's `W` (a DC value without a sign rule)."""

    power_sign: str = POWER_SIGN_DISCHARGE_POSITIVE

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> SunSpecSettings:
        """Settings from a config entry; ValueError for a value outside the known ones."""
        made = cls(power_sign=str(settings.get("power_sign", POWER_SIGN_DISCHARGE_POSITIVE)))
        if made.power_sign not in POWER_SIGNS:
            raise ValueError(f"invalid SunSpec settings {dict(settings)}")
        return made

    @property
    def sign(self) -> int:
        """Multiplier from the device's power sign to ours (+ discharge)."""
        return 1 if self.power_sign == POWER_SIGN_DISCHARGE_POSITIVE else -1


@dataclass(frozen=True, kw_only=True, slots=True)
class Controls:
    """Model 124's control registers as engineering values (rates in %)."""

    stor_ctl: int
    in_pct: float
    out_pct: float
    grid_charge: int


def controls_for(mode: Mode, power_w: float, w_cha_max: float, w_discha_max: float) -> Controls:
    """The model 124 registers that put the device in `mode` at `power_w` (magnitude used)."""
    magnitude = abs(power_w)
    if mode is Mode.FORCE_CHARGE:
        out_pct = -min(magnitude / w_discha_max * 100, FULL_RATE_PCT)
        return Controls(stor_ctl=STOR_CTL_BY_MODE[mode], in_pct=FULL_RATE_PCT, out_pct=out_pct, grid_charge=1)
    if mode is Mode.FORCE_DISCHARGE:
        in_pct = -min(magnitude / w_cha_max * 100, FULL_RATE_PCT)
        return Controls(stor_ctl=STOR_CTL_BY_MODE[mode], in_pct=in_pct, out_pct=FULL_RATE_PCT, grid_charge=0)
    if mode is Mode.IDLE:
        return Controls(stor_ctl=STOR_CTL_BY_MODE[mode], in_pct=0.0, out_pct=0.0, grid_charge=0)
    return Controls(stor_ctl=0, in_pct=FULL_RATE_PCT, out_pct=FULL_RATE_PCT, grid_charge=0)


def mode_of(controls: Controls) -> Mode | None:
    """The mode the active limits and their signs put the device in; None for limits we have no name for."""
    charge_active = bool(controls.stor_ctl & STOR_CTL_CHARGE)
    discharge_active = bool(controls.stor_ctl & STOR_CTL_DISCHARGE)
    if discharge_active and controls.out_pct < 0:
        return Mode.FORCE_CHARGE
    if charge_active and controls.in_pct < 0:
        return Mode.FORCE_DISCHARGE
    if charge_active and discharge_active and controls.in_pct == 0 and controls.out_pct == 0:
        return Mode.IDLE
    if not charge_active and not discharge_active:
        return Mode.AUTO
    if discharge_active and not charge_active and controls.out_pct == 0:
        return Mode.FORCE_CHARGE  # force charge at 0 W: no discharge, charging from PV allowed
    if charge_active and not discharge_active and controls.in_pct == 0:
        return Mode.FORCE_DISCHARGE  # force discharge at 0 W
    return None


@dataclass(frozen=True, kw_only=True, slots=True)
class _Point:
    register: r.Register
    kind: str


def _points(base: int, table: dict[str, tuple[int, str, int]], prefix: str = "") -> dict[str, _Point]:
    points: dict[str, _Point] = {}
    for name, (offset, kind, size) in table.items():
        if kind == "string":
            register = r.Register(name=name, address=base + offset, type=r.RegType.STR, length=size)
        else:
            register = r.Register(name=name, address=base + offset, type=r.RegType.U16)
        points[prefix + name] = _Point(register=register, kind=kind)
    return points


class SunSpecProfile(Profile):
    """Discovers the model chain at identify, then polls models 124 and 802 (or 160) in planned blocks."""

    name = "sunspec"

    def __init__(self, settings: SunSpecSettings | None = None) -> None:
        """Nothing known until identify() walks the chain."""
        self.settings = settings or SunSpecSettings()
        self.base: int | None = None
        self.models: dict[int, int] = {}  # model id -> address of its id register
        self.capabilities = Capabilities(
            reactive_power=False, active_power=False, enable=False, temperature=False, energy=False
        )
        self._points: dict[str, _Point] = {}
        self._blocks: list[Block] = []
        self._poll_names: list[str] = []
        self._scale: dict[str, int | None] = {}
        self._w_cha_max = 0.0
        self._w_discha_max = 0.0
        # The power setpoint last written: no register holds it in auto and idle.
        self._power_w = 0.0
        self._mode: Mode | None = None

    async def _discover(self, io: RegisterIO) -> int:
        for base in BASE_ADDRESSES:
            try:
                words = (await io.read_blocks([Block(start=base, count=2)]))[0]
            except DeviceResponseError:
                continue
            if tuple(words) == SUNS:
                return base
        raise UnsupportedDeviceError(f"{io.label}: no SunSpec marker at {BASE_ADDRESSES}")

    async def _walk(self, io: RegisterIO, base: int) -> dict[int, int]:
        models: dict[int, int] = {}
        address = base + 2
        for _ in range(MAX_MODELS):
            try:
                model_id, length = (await io.read_blocks([Block(start=address, count=2)]))[0]
            except DeviceResponseError as err:
                message = f"{io.label}: the SunSpec model chain breaks at {address}"
                raise UnsupportedDeviceError(message) from err
            if model_id == END_MODEL:
                return models
            models.setdefault(model_id, address)
            address += 2 + length
            if address + 2 > 0x10000:
                break
        raise UnsupportedDeviceError(f"{io.label}: the SunSpec model chain has no end")

    async def _values(self, io: RegisterIO, names: list[str]) -> dict[str, float | str | None]:
        """Read the points named, decoded and scaled; unknown values are None."""
        # Every register of a model chain is readable, so gaps inside it can be bridged.
        blocks = (
            self._blocks
            if names == self._poll_names
            else plan_blocks([self._points[n].register for n in names], max_gap=125)
        )
        data = await io.read_blocks(blocks)
        raw: dict[str, list[int]] = {n: extract(blocks, data, self._points[n].register) for n in names}
        for name in names:
            if self._points[name].kind == "sunssf":
                word = raw[name][0]
                self._scale[name] = None if unimplemented("sunssf", word) else signed(word)
        values: dict[str, float | str | None] = {}
        for name in names:
            point = self._points[name]
            words = raw[name]
            if point.kind == "string":
                values[name] = r.decode(point.register, words)
                continue
            if point.kind == "sunssf":
                continue
            word = words[0]
            if unimplemented(point.kind, word):
                values[name] = None
                continue
            number = signed(word) if point.kind in _SIGNED else word
            if (sf_name := SCALE_OF.get(name)) is not None:
                sf = self._scale.get(sf_name)
                values[name] = None if sf is None else number * 10.0**sf
            else:
                values[name] = number
        return values

    async def _mppt_battery(self, io: RegisterIO) -> bool:
        """Add model 160 modules 3 and 4 (a GEN24's battery) when the device has no model 802."""
        if MODEL_BATTERY in self.models or MODEL_MPPT not in self.models:
            return False
        self._points |= _points(self.models[MODEL_MPPT], MPPT_POINTS)
        count = (await self._values(io, ["N"]))["N"]
        if not isinstance(count, int | float) or count < MPPT_DISCHARGE_MODULE:
            return False
        self._points |= _points(self.models[MODEL_MPPT], MPPT_BATTERY_POINTS)
        return True

    @override
    async def identify(self, io: RegisterIO) -> DeviceInfo:
        self.base = await self._discover(io)
        self.models = await self._walk(io, self.base)
        for needed in (MODEL_COMMON, MODEL_STORAGE):
            if needed not in self.models:
                raise UnsupportedDeviceError(f"{io.label}: SunSpec device without model {needed}")
        self._points = _points(self.models[MODEL_COMMON], COMMON_POINTS) | _points(
            self.models[MODEL_STORAGE], STORAGE_POINTS
        )
        battery = MODEL_BATTERY in self.models
        if battery:
            self._points |= _points(self.models[MODEL_BATTERY], BATTERY_POINTS)
        mppt = await self._mppt_battery(io)
        self._poll_names = [n for n in self._points if n not in COMMON_POINTS and n != "N"]
        self._blocks = plan_blocks([self._points[n].register for n in self._poll_names], max_gap=125)
        ident = await self._values(io, list(COMMON_POINTS))
        values = await self._values(io, self._poll_names)
        w_cha_max = values["WChaMax"]
        if not isinstance(w_cha_max, float) or w_cha_max <= 0:
            raise UnsupportedDeviceError(f"{io.label}: SunSpec model 124 without WChaMax")
        self._w_cha_max = w_cha_max
        discharge = values.get("WDisChaRteMax")
        # OutWRte is a percentage of WDisChaMax (model_124.json); 802's WDisChaRteMax is that
        # rating, and a device without it states one maximum for both directions.
        self._w_discha_max = discharge if isinstance(discharge, float) and discharge > 0 else w_cha_max
        apparent = values["VAChaMax"]
        capacity = values.get("WHRtg")
        self.capabilities = Capabilities(
            reactive_power=False,
            active_power=battery or mppt,
            enable=battery,
            temperature=False,
            energy=False,
        )
        manufacturer = str(ident["Mn"]) or "SunSpec"
        self._learn(values)
        return DeviceInfo(
            manufacturer=manufacturer,
            model=str(ident["Md"]) or "SunSpec storage",
            serial=str(ident["SN"]),
            firmware=str(ident["Vr"]),
            capacity_kwh=float(capacity) / 1000 if isinstance(capacity, float) else 0.0,
            limits=Limits(
                max_charge_w=w_cha_max,
                max_discharge_w=self._w_discha_max,
                max_apparent_va=apparent if isinstance(apparent, float) and apparent > 0 else w_cha_max,
                reserve_min_pct=FRONIUS_MIN_RESERVE_PCT if manufacturer.startswith(FRONIUS) else 0.0,
                **self._steps(),
            ),
            capabilities=self.capabilities,
        )

    def _steps(self) -> dict[str, float]:
        """The resolution of the power and reserve registers, for comparisons."""
        rate_sf = self._scale.get("InOutWRte_SF")
        reserve_sf = self._scale.get("MinRsvPct_SF")
        steps: dict[str, float] = {}
        if rate_sf is not None:
            steps["power_step_w"] = 10.0**rate_sf / 100 * max(self._w_cha_max, self._w_discha_max)
        if reserve_sf is not None:
            steps["reserve_step_pct"] = 10.0**reserve_sf
        return steps

    def _controls(self, v: Mapping[str, float | str | None]) -> Controls:
        stor_ctl = v["StorCtl_Mod"]
        return Controls(
            stor_ctl=int(stor_ctl) if isinstance(stor_ctl, int | float) else 0,
            in_pct=float(v["InWRte"] or 0.0),
            out_pct=float(v["OutWRte"] or 0.0),
            grid_charge=int(float(v["ChaGriSet"] or 0)),
        )

    def _learn(self, v: Mapping[str, float | str | None]) -> None:
        """Take the device's state as the starting point for writes that set only one field."""
        controls = self._controls(v)
        self._mode = mode_of(controls)
        self._power_w = self._forced_power(controls) or self._power_w

    def _forced_power(self, controls: Controls) -> float | None:
        """The power a forcing limit asks for (+ discharge); None when no limit forces."""
        mode = mode_of(controls)
        if mode is Mode.FORCE_CHARGE:
            return controls.out_pct * self._w_discha_max / 100
        if mode is Mode.FORCE_DISCHARGE:
            return -controls.in_pct * self._w_cha_max / 100
        return None

    def _battery_power(self, v: Mapping[str, float | str | None]) -> float:
        if (power := v.get("W")) is not None:
            return self.settings.sign * float(power)
        discharge, charge = v.get("DCW_discharge"), v.get("DCW_charge")
        if discharge is None and charge is None:
            return 0.0
        return float(discharge or 0.0) - float(charge or 0.0)

    @override
    async def read(self, io: RegisterIO) -> Measurements:
        if self.base is None:
            raise DeviceError(f"{io.label}: read before identify")
        v = await self._values(io, self._poll_names)
        soc = v.get("SoC") if v.get("SoC") is not None else v["ChaState"]
        if soc is None:
            raise DeviceResponseError(f"{io.label}: SunSpec device reports no state of charge")
        controls = self._controls(v)
        mode = mode_of(controls)
        forced = self._forced_power(controls)
        power_setpoint = self._power_w
        if forced is not None and abs(abs(forced) - abs(self._power_w)) > self._steps().get(
            "power_step_w", 0.0
        ):
            power_setpoint = round(forced, 1)  # changed by someone else: what the limits now force
        voltage = v.get("V") if v.get("V") is not None else v["InBatV"]
        state = v.get("State")
        return Measurements(
            soc_pct=float(soc),
            active_power_w=self._battery_power(v),
            reactive_power_var=0.0,
            mode=mode,
            reserve_pct=float(v["MinRsvPct"] or 0.0),
            power_setpoint_w=power_setpoint,
            reactive_setpoint_var=0.0,
            enabled=state != STATE_DISCONNECTED,
            voltage_v=float(voltage) if voltage is not None else None,
        )

    def _raw(self, name: str, value: float) -> list[int]:
        sf = self._scale.get(SCALE_OF[name])
        if sf is None:
            raise DeviceResponseError(f"{name}: its scale factor is not implemented")
        raw = round(value / 10.0**sf)
        return [raw & 0xFFFF]

    @override
    async def write(self, io: RegisterIO, setpoints: Setpoints, info: DeviceInfo) -> None:
        if setpoints.reserve_pct is not None:
            await io.write_words(
                self._points["MinRsvPct"].register.address, self._raw("MinRsvPct", setpoints.reserve_pct)
            )
        if setpoints.mode is None and setpoints.power_w is None:
            return
        # Mode and power live in the same registers: write them as one state.
        mode = setpoints.mode or self._mode or Mode.AUTO
        power = setpoints.power_w if setpoints.power_w is not None else self._power_w
        if setpoints.mode is None and mode in {Mode.AUTO, Mode.IDLE}:
            self._power_w = power  # no register holds a power in these modes: nothing to send
            return
        controls = controls_for(mode, power, self._w_cha_max, self._w_discha_max)
        # OutWRte and InWRte are adjacent (offsets 12 and 13): one request, then the grid setting,
        # then the mode, so the limits are in place before they become active.
        await io.write_words(
            self._points["OutWRte"].register.address,
            self._raw("OutWRte", controls.out_pct) + self._raw("InWRte", controls.in_pct),
        )
        await io.write_words(self._points["ChaGriSet"].register.address, [controls.grid_charge])
        await io.write_words(self._points["StorCtl_Mod"].register.address, [controls.stor_ctl])
        self._mode, self._power_w = mode, power

    @override
    async def set_enabled(self, io: RegisterIO, enabled: bool) -> None:
        if MODEL_BATTERY in self.models:
            await io.write_words(
                self._points["SetOp"].register.address, [SETOP_CONNECT if enabled else SETOP_DISCONNECT]
            )
