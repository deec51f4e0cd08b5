"""The simulated battery as a SunSpec storage device: models 1, 124 and (optionally) 802.

Points the simulator does not model read as SunSpec's "not implemented" values, so clients see
the same unknowns a partial real implementation shows.
"""

from typing import override

from pymodbus.constants import ExcCodes

from .. import registers as r
from ..profiles.sunspec import (
    BATTERY_LENGTH,
    BATTERY_POINTS,
    COMMON_POINTS,
    MODE_BY_STOR_CTL,
    SCALE_OF,
    SETOP_CONNECT,
    SETOP_DISCONNECT,
    STOR_CTL_BY_MODE,
    STORAGE_LENGTH,
    STORAGE_POINTS,
    SUNS,
    signed,
)
from .physics import BatteryModel, SimConfig
from .presentation import Image, Presentation, Region

COMMON_LENGTH = 66
_MODE_CODE = {mode: r.MODE_CODES[mode.value] for mode in MODE_BY_STOR_CTL.values()}
_STOR_CTL_BY_CODE = {_MODE_CODE[mode]: code for mode, code in STOR_CTL_BY_MODE.items()}
# ChaSt enumeration by simulator state.
_CHA_ST = {"idle": 6, "charging": 4, "discharging": 3, "disabled": 1}
# Fixed scale factors the simulator uses.
_SF = {
    "WChaMax_SF": 0,
    "VAChaMax_SF": 0,
    "MinRsvPct_SF": 0,
    "ChaState_SF": -1,
    "InBatV_SF": -1,
    "InOutWRte_SF": -2,
    "WChaDisChaMax_SF": 0,
    "SoC_SF": -1,
    "V_SF": -1,
    "W_SF": 0,
}


def _fit_sf(value: float) -> int:
    sf = 0
    while value / 10**sf > 0xFFFE:
        sf += 1
    return sf


class SunSpecPresentation(Presentation):
    """'SunS' at `base`, then model 1, model 124, model 802 unless `battery` is False, end marker."""

    name = "sunspec"

    def __init__(self, *, base: int = 40000, battery: bool = True) -> None:
        """Where the chain starts and whether model 802 is part of it."""
        self.base = base
        self.battery = battery
        self.common = base + 2
        self.storage = self.common + 2 + COMMON_LENGTH
        self.battery_at = self.storage + 2 + STORAGE_LENGTH
        self.end = self.battery_at + (2 + BATTERY_LENGTH if battery else 0)
        self._writable: dict[int, str] = {
            self.storage + STORAGE_POINTS[name][0]: name
            for name in ("StorCtl_Mod", "MinRsvPct", "OutWRte", "InWRte")
        }
        if battery:
            self._writable |= {
                self.battery_at + BATTERY_POINTS[name][0]: name
                for name in ("SocRsvMax", "SoCRsvMin", "SetOp", "SetInvState")
            }
        self._stored: dict[str, int] = {"InWRte": 0, "SocRsvMax": 1000, "SoCRsvMin": 0, "SetInvState": 3}
        self._sf = dict(_SF)

    def _address(self, name: str) -> int:
        if name in STORAGE_POINTS:
            return self.storage + STORAGE_POINTS[name][0]
        return self.battery_at + BATTERY_POINTS[name][0]

    def _put(self, image: Image, name: str, value: float) -> None:
        """A scaled point (value in engineering units) or an unscaled one."""
        sf = self._sf[SCALE_OF[name]] if name in SCALE_OF else 0
        image.put(self._address(name), [round(value / 10**sf) & 0xFFFF])

    @override
    def regions(self, config: SimConfig) -> list[Region]:
        regions: list[Region] = []
        address = self.base
        while address < self.end + 2:
            regions.append(Region(address=address, count=1, writable=address in self._writable))
            address += 1
        return regions

    @override
    def identify(self, config: SimConfig, image: Image) -> None:
        image.put(self.base, list(SUNS))
        image.put(self.common, [1, COMMON_LENGTH])
        for name, text in (
            ("Mn", "Battery Steward"),
            ("Md", config.model),
            ("Opt", "simulator"),
            ("Vr", config.firmware),
            ("SN", config.serial),
        ):
            offset, _, size = COMMON_POINTS[name]
            image.put(
                self.common + offset,
                r.encode(r.Register(name=name, address=0, type=r.RegType.STR, length=size), text),
            )
        image.put(self.common + 66, [1, 0x8000])  # DA, Pad
        image.put(self.storage, [124, STORAGE_LENGTH])
        # Not modelled: WChaGra, WDisChaGra, StorAval, the three timers and ChaGriSet.
        image.put(self.storage + 2, [0xFFFF] * STORAGE_LENGTH)
        self._put(image, "WChaMax", config.max_charge_w)
        self._put(image, "VAChaMax", config.max_apparent_va)
        for name in ("WChaMax_SF", "VAChaMax_SF", "MinRsvPct_SF", "ChaState_SF", "InBatV_SF", "InOutWRte_SF"):
            image.put(self._address(name), [self._sf[name] & 0xFFFF])
        image.put(self._address("WChaDisChaGra_SF"), [0x8000])
        image.put(self._address("StorAval_SF"), [0x8000])
        if self.battery:
            image.put(self.battery_at, [802, BATTERY_LENGTH])
            words = [0xFFFF] * BATTERY_LENGTH
            # int16 points (A 44, W 47, ReqW 49) and scale factors (52..63) say "not implemented"
            # with 0x8000; the ones simulated are written below.
            for offset in (44, 47, 49, *range(52, 64)):
                words[offset - 2] = 0x8000
            image.put(self.battery_at + 2, words)
            self._sf["WHRtg_SF"] = _fit_sf(config.capacity_kwh * 1000)
            for name in ("WHRtg_SF", "WChaDisChaMax_SF", "SoC_SF", "V_SF", "W_SF"):
                image.put(self._address(name), [self._sf[name] & 0xFFFF])
            self._put(image, "WHRtg", config.capacity_kwh * 1000)
            self._put(image, "WDisChaRteMax", config.max_discharge_w)
        image.put(self.end, [0xFFFF, 0])

    @override
    def render(self, model: BatteryModel, image: Image) -> None:
        soc = min(max(model.soc_pct, 0.0), 100.0)
        self._put(image, "StorCtl_Mod", _STOR_CTL_BY_CODE[model.mode])
        self._put(image, "MinRsvPct", model.reserve_pct)
        self._put(image, "ChaState", soc)
        self._put(image, "InBatV", model.voltage_v)
        image.put(self._address("ChaSt"), [_CHA_ST[model.state]])
        percent = model.power_setpoint_w / model.config.max_charge_w * 100
        self._put(image, "OutWRte", percent)
        image.put(self._address("InWRte"), [self._stored["InWRte"] & 0xFFFF])
        if self.battery:
            self._put(image, "SoC", soc)
            self._put(image, "V", model.voltage_v)
            self._put(image, "W", max(min(model.active_power_w, 32767), -32767))
            image.put(self._address("SetOp"), [SETOP_CONNECT if model.enabled else SETOP_DISCONNECT])
            for name in ("SocRsvMax", "SoCRsvMin", "SetInvState"):
                image.put(self._address(name), [self._stored[name]])

    @override
    def write(
        self, model: BatteryModel, image: Image, address: int, values: list[int]
    ) -> ExcCodes | list[tuple[str, float]]:
        names: list[tuple[str, int]] = []
        for offset, word in enumerate(values):
            name = self._writable.get(address + offset)
            if name is None:
                return ExcCodes.ILLEGAL_ADDRESS
            names.append((name, word))
        changes: list[tuple[str, float]] = []
        cfg = model.config
        for name, word in names:
            if name == "StorCtl_Mod" and word not in MODE_BY_STOR_CTL:
                return ExcCodes.ILLEGAL_VALUE
            if name in {"OutWRte", "InWRte"} and not -10000 <= signed(word) <= 10000:
                return ExcCodes.ILLEGAL_VALUE
            if name == "MinRsvPct" and not 0 <= word <= 100:
                return ExcCodes.ILLEGAL_VALUE
            if name in {"SocRsvMax", "SoCRsvMin"} and not 0 <= word <= 1000:
                return ExcCodes.ILLEGAL_VALUE
            if name == "SetOp" and word not in {SETOP_CONNECT, SETOP_DISCONNECT}:
                return ExcCodes.ILLEGAL_VALUE
            if name == "SetInvState" and word not in {1, 2, 3}:
                return ExcCodes.ILLEGAL_VALUE
        for name, word in names:
            if name == "StorCtl_Mod":
                model.mode = _MODE_CODE[MODE_BY_STOR_CTL[word]]
                changes.append((name, word))
            elif name == "MinRsvPct":
                model.reserve_pct = word
                changes.append((name, word))
            elif name == "OutWRte":
                percent = signed(word) * 10.0 ** self._sf["InOutWRte_SF"]
                power = round(percent * cfg.max_charge_w / 100)
                model.power_setpoint_w = max(-cfg.max_charge_w, min(cfg.max_discharge_w, power))
                changes.append((name, percent))
            elif name == "SetOp":
                model.enabled = word == SETOP_CONNECT
                changes.append((name, word))
            else:
                self._stored[name] = signed(word) if name == "InWRte" else word
                changes.append((name, self._stored[name]))
        return changes
