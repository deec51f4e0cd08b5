"""SunSpec storage (`sunspec`): model 1 (common), 124 (basic storage controls), optional 802 (battery).

Offsets count from the model id register and match the SunSpec JSON model definitions (checked
against pysunspec2's copies in tests). Battery Steward's mapping onto model 124, documented in
docs/supported-devices.md:

- mode -> StorCtl_Mod: auto 0 (no limit active, the inverter's own self-consumption), force_charge
  1 (charge limit active), force_discharge 2 (discharge limit active), idle 3 (both active, at 0 %);
- power setpoint p (+ discharge) -> OutWRte = p / WChaMax in %, InWRte = -OutWRte (a negative
  charge limit is a forced discharge and vice versa, the convention Fronius and SolarEdge use);
- backup reserve -> MinRsvPct; enable -> model 802 SetOp (1 connect, 2 disconnect).

Unimplemented values (int16/sunssf 0x8000, uint16/enum16/bitfield16 0xFFFF) read as unknown.
"""

from dataclasses import dataclass
from typing import override

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
}

STOR_CTL_BY_MODE: dict[Mode, int] = {
    Mode.AUTO: 0,
    Mode.FORCE_CHARGE: 1,
    Mode.FORCE_DISCHARGE: 2,
    Mode.IDLE: 3,
}
MODE_BY_STOR_CTL = {code: mode for mode, code in STOR_CTL_BY_MODE.items()}
SETOP_CONNECT = 1
SETOP_DISCONNECT = 2

_SIGNED = frozenset({"int16", "sunssf"})


def unimplemented(kind: str, raw: int) -> bool:
    """Whether `raw` is SunSpec's "not implemented" value for a point of type `kind`."""
    return raw == 0x8000 if kind in _SIGNED else raw == 0xFFFF


def signed(raw: int) -> int:
    """A 16-bit register as a signed integer."""
    return raw - 0x10000 if raw & 0x8000 else raw


@dataclass(frozen=True, kw_only=True, slots=True)
class _Point:
    register: r.Register
    kind: str


def _points(base: int, table: dict[str, tuple[int, str, int]]) -> dict[str, _Point]:
    points: dict[str, _Point] = {}
    for name, (offset, kind, size) in table.items():
        if kind == "string":
            register = r.Register(name=name, address=base + offset, type=r.RegType.STR, length=size)
        else:
            register = r.Register(name=name, address=base + offset, type=r.RegType.U16)
        points[name] = _Point(register=register, kind=kind)
    return points


class SunSpecProfile(Profile):
    """Discovers the model chain at identify, then polls models 124 and 802 in planned blocks."""

    name = "sunspec"

    def __init__(self) -> None:
        """Nothing known until identify() walks the chain."""
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
        self._poll_names = [n for n in self._points if n not in COMMON_POINTS]
        self._blocks = plan_blocks([self._points[n].register for n in self._poll_names], max_gap=125)
        ident = await self._values(io, list(COMMON_POINTS))
        values = await self._values(io, self._poll_names)
        w_cha_max = values["WChaMax"]
        if not isinstance(w_cha_max, float) or w_cha_max <= 0:
            raise UnsupportedDeviceError(f"{io.label}: SunSpec model 124 without WChaMax")
        self._w_cha_max = w_cha_max
        discharge = values.get("WDisChaRteMax")
        apparent = values["VAChaMax"]
        capacity = values.get("WHRtg")
        self.capabilities = Capabilities(
            reactive_power=False,
            active_power=battery,
            enable=battery,
            temperature=False,
            energy=False,
        )
        return DeviceInfo(
            manufacturer=str(ident["Mn"]) or "SunSpec",
            model=str(ident["Md"]) or "SunSpec storage",
            serial=str(ident["SN"]),
            firmware=str(ident["Vr"]),
            capacity_kwh=float(capacity) / 1000 if isinstance(capacity, float) else 0.0,
            limits=Limits(
                max_charge_w=w_cha_max,
                max_discharge_w=discharge if isinstance(discharge, float) and discharge > 0 else w_cha_max,
                max_apparent_va=apparent if isinstance(apparent, float) and apparent > 0 else w_cha_max,
            ),
            capabilities=self.capabilities,
        )

    @override
    async def read(self, io: RegisterIO) -> Measurements:
        if self.base is None:
            raise DeviceError(f"{io.label}: read before identify")
        v = await self._values(io, self._poll_names)
        soc = v.get("SoC") if v.get("SoC") is not None else v["ChaState"]
        if soc is None:
            raise DeviceResponseError(f"{io.label}: SunSpec device reports no state of charge")
        stor_ctl = v["StorCtl_Mod"]
        mode = MODE_BY_STOR_CTL.get(int(stor_ctl) & 3, Mode.AUTO) if stor_ctl is not None else Mode.AUTO
        out_rate = v["OutWRte"]
        voltage = v.get("V") if v.get("V") is not None else v["InBatV"]
        power = v.get("W")
        set_op = v.get("SetOp")
        return Measurements(
            soc_pct=float(soc),
            active_power_w=float(power) if power is not None else 0.0,
            reactive_power_var=0.0,
            mode=mode,
            reserve_pct=float(v["MinRsvPct"] or 0.0),
            power_setpoint_w=round(float(out_rate) * self._w_cha_max / 100, 1)
            if out_rate is not None
            else 0.0,
            reactive_setpoint_var=0.0,
            enabled=set_op != SETOP_DISCONNECT,
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
        if setpoints.power_w is not None:
            percent = setpoints.power_w / self._w_cha_max * 100
            await io.write_words(
                self._points["OutWRte"].register.address,
                self._raw("OutWRte", percent) + self._raw("InWRte", -percent),
            )
        if setpoints.mode is not None:
            await io.write_words(
                self._points["StorCtl_Mod"].register.address, [STOR_CTL_BY_MODE[setpoints.mode]]
            )

    @override
    async def set_enabled(self, io: RegisterIO, enabled: bool) -> None:
        if MODEL_BATTERY in self.models:
            await io.write_words(
                self._points["SetOp"].register.address, [SETOP_CONNECT if enabled else SETOP_DISCONNECT]
            )
