"""The simulated battery as a SunSpec storage device: models 1, 124 and 802, or 160 instead of 802.

The device is modelled as the public sources describe it, not as our driver uses it:

- pysunspec2 `sunspec2/models/json/model_124.json`: `StorCtl_Mod` is a bit field, bit 0 (CHARGE)
  activates `InWRte` (% of `WChaMax`), bit 1 (DiSCHARGE) activates `OutWRte` (% of `WDisChaMax`);
  `ChaGriSet` is PV (0) or GRID (1).
- redpomodoro/fronius_modbus `set_grid_charge_mode` / `set_grid_discharge_mode` and evcc
  `templates/definition/meter/fronius-gen24.yaml` ("charge": `StorCtl_Mod` 2, `OutWRte` negative,
  `ChaGriSet` 1; "hold": `OutWRte` 0): an active negative discharge limit forces charging, an
  active negative charge limit forces discharging, an active limit of 0 blocks that direction.
- pysunspec2 `model_802.json`: `SetOp` is a command, `State` the bank's state; `W` is a DC power
  whose sign the standard does not fix (`power_sign` chooses the device's convention).
- evcc `fronius-gen24.yaml` (usage "battery"): a GEN24 has no model 802; model 160 (MPPT) module 3
  carries the battery's charge power and module 4 its discharge power.
- redpomodoro/fronius_modbus `set_minimum_reserve`: a Fronius refuses a reserve under 5 %.

Points the simulator does not model read as SunSpec's "not implemented" values, so clients see
the same unknowns a partial real implementation shows.
"""

from typing import override

from pymodbus.constants import ExcCodes

from .. import registers as r
from ..profiles.sunspec import (
    BATTERY_LENGTH,
    BATTERY_POINTS,
    CHA_GRI_GRID,
    CHA_GRI_PV,
    COMMON_POINTS,
    FRONIUS,
    FRONIUS_MIN_RESERVE_PCT,
    MPPT_DISCHARGE_MODULE,
    MPPT_FIXED,
    MPPT_MODULE_LENGTH,
    MPPT_POINTS,
    SCALE_OF,
    SETOP_CONNECT,
    SETOP_DISCONNECT,
    STATE_DISCONNECTED,
    STOR_CTL_CHARGE,
    STOR_CTL_DISCHARGE,
    STORAGE_LENGTH,
    STORAGE_POINTS,
    SUNS,
    SunSpecSettings,
    mppt_dcw_offset,
    signed,
)
from .physics import BatteryModel, SimConfig
from .presentation import Image, Presentation, Region

COMMON_LENGTH = 66
STATE_CONNECTED = 3  # model 802 State
MPPT_MODULES = MPPT_DISCHARGE_MODULE  # PV 1, PV 2, battery charge, battery discharge
MPPT_LENGTH = MPPT_FIXED - 2 + MPPT_MODULES * MPPT_MODULE_LENGTH
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
    "DCW_SF": 0,
}
_STORAGE_WRITABLE = ("StorCtl_Mod", "MinRsvPct", "OutWRte", "InWRte", "ChaGriSet")
_BATTERY_WRITABLE = ("SocRsvMax", "SoCRsvMin", "SetOp", "SetInvState")


def _fit_sf(value: float) -> int:
    sf = 0
    while value / 10**sf > 0xFFFE:
        sf += 1
    return sf


class SunSpecPresentation(Presentation):
    """'SunS' at `base`, model 1, model 124, then model 802 (`battery`) or 160 (`mppt`), end marker."""

    name = "sunspec"

    def __init__(
        self,
        *,
        base: int = 40000,
        battery: bool = True,
        mppt: bool = False,
        manufacturer: str = "Battery Steward",
        settings: SunSpecSettings | None = None,
    ) -> None:
        """Where the chain starts, which battery model it carries, who made it, 802's W sign."""
        self.base = base
        self.battery = battery
        self.mppt = mppt and not battery
        self.manufacturer = manufacturer
        self.settings = settings or SunSpecSettings()
        self.common = base + 2
        self.storage = self.common + 2 + COMMON_LENGTH
        self.battery_at = self.storage + 2 + STORAGE_LENGTH
        self.mppt_at = self.battery_at
        self.end = self.battery_at
        if battery:
            self.end += 2 + BATTERY_LENGTH
        elif self.mppt:
            self.end += 2 + MPPT_LENGTH
        self._writable: dict[int, str] = {
            self.storage + STORAGE_POINTS[name][0]: name for name in _STORAGE_WRITABLE
        }
        if battery:
            self._writable |= {self.battery_at + BATTERY_POINTS[name][0]: name for name in _BATTERY_WRITABLE}
        # Control registers as the device holds them. A Fronius in auto has both limits at 100 %
        # (redpomodoro/fronius_modbus restore_defaults / set_auto_mode).
        self._stored: dict[str, int] = {
            "StorCtl_Mod": 0,
            "OutWRte": 10000,
            "InWRte": 10000,
            "ChaGriSet": CHA_GRI_PV,
            "SocRsvMax": 1000,
            "SoCRsvMin": 0,
            "SetOp": SETOP_CONNECT,
            "SetInvState": 3,
        }
        self._sf = dict(_SF)

    def _address(self, name: str) -> int:
        if name in STORAGE_POINTS:
            return self.storage + STORAGE_POINTS[name][0]
        if name in MPPT_POINTS:
            return self.mppt_at + MPPT_POINTS[name][0]
        return self.battery_at + BATTERY_POINTS[name][0]

    def _put(self, image: Image, name: str, value: float) -> None:
        """A scaled point (value in engineering units) or an unscaled one."""
        sf = self._sf[SCALE_OF[name]] if name in SCALE_OF else 0
        image.put(self._address(name), [round(value / 10**sf) & 0xFFFF])

    def _percent(self, name: str) -> float:
        return signed(self._stored[name]) * 10.0 ** self._sf["InOutWRte_SF"]

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
            ("Mn", self.manufacturer),
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
        # Not modelled: WChaGra, WDisChaGra, StorAval and the three timers.
        image.put(self.storage + 2, [0xFFFF] * STORAGE_LENGTH)
        self._put(image, "WChaMax", config.max_charge_w)
        self._put(image, "VAChaMax", config.max_apparent_va)
        for name in ("WChaMax_SF", "VAChaMax_SF", "MinRsvPct_SF", "ChaState_SF", "InBatV_SF", "InOutWRte_SF"):
            image.put(self._address(name), [self._sf[name] & 0xFFFF])
        image.put(self._address("WChaDisChaGra_SF"), [0x8000])
        image.put(self._address("StorAval_SF"), [0x8000])
        if self.battery:
            self._identify_battery(config, image)
        elif self.mppt:
            self._identify_mppt(image)
        image.put(self.end, [0xFFFF, 0])

    def _identify_battery(self, config: SimConfig, image: Image) -> None:
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

    def _identify_mppt(self, image: Image) -> None:
        # model_160.json: DCA_SF, DCV_SF, DCW_SF, DCWH_SF, Evt (32 bits), N, TmsPer, then modules.
        image.put(self.mppt_at, [160, MPPT_LENGTH])
        image.put(self.mppt_at + 2, [0x8000, 0x8000, self._sf["DCW_SF"], 0x8000, 0, 0, MPPT_MODULES, 0xFFFF])
        for module in range(1, MPPT_MODULES + 1):
            start = self.mppt_at + MPPT_FIXED + (module - 1) * MPPT_MODULE_LENGTH
            words = [0xFFFF] * MPPT_MODULE_LENGTH
            words[0] = module
            label = r.Register(name="IDStr", address=0, type=r.RegType.STR, length=8)
            words[1:9] = r.encode(label, ("MPPT 1", "MPPT 2", "StChaWh", "StDisChaWh")[module - 1])
            words[12:14] = [0, 0]  # DCWH (acc32): 0 = not accumulated
            words[16] = 0x8000  # Tmp (int16)
            image.put(start, words)

    @override
    def render(self, model: BatteryModel, image: Image) -> None:
        soc = min(max(model.soc_pct, 0.0), 100.0)
        for name in ("StorCtl_Mod", "OutWRte", "InWRte", "ChaGriSet"):
            image.put(self._address(name), [self._stored[name] & 0xFFFF])
        self._put(image, "MinRsvPct", model.reserve_pct)
        self._put(image, "ChaState", soc)
        self._put(image, "InBatV", model.voltage_v)
        image.put(self._address("ChaSt"), [_CHA_ST[model.state]])
        power = max(min(model.active_power_w, 32767), -32767)
        if self.battery:
            self._put(image, "SoC", soc)
            self._put(image, "V", model.voltage_v)
            self._put(image, "W", self.settings.sign * power)
            image.put(self._address("State"), [STATE_CONNECTED if model.enabled else STATE_DISCONNECTED])
            for name in _BATTERY_WRITABLE:
                image.put(self._address(name), [self._stored[name]])
        elif self.mppt:
            image.put(self.mppt_at + mppt_dcw_offset(3), [round(max(-power, 0.0))])
            image.put(self.mppt_at + mppt_dcw_offset(4), [round(max(power, 0.0))])

    def _refusal(self, name: str, word: int) -> bool:
        """Whether the device refuses `word` for `name` (model 124/802 value ranges)."""
        if name == "StorCtl_Mod":
            return word > (STOR_CTL_CHARGE | STOR_CTL_DISCHARGE)  # bits 0 and 1 only
        if name in {"OutWRte", "InWRte"}:
            return not -10000 <= signed(word) <= 10000
        if name == "MinRsvPct":
            # redpomodoro/fronius_modbus set_minimum_reserve: a Fronius refuses under 5 %.
            minimum = FRONIUS_MIN_RESERVE_PCT if self.manufacturer.startswith(FRONIUS) else 0
            return not minimum <= word <= 100
        if name == "ChaGriSet":
            return word not in {CHA_GRI_PV, CHA_GRI_GRID}
        if name in {"SocRsvMax", "SoCRsvMin"}:
            return not 0 <= word <= 1000
        if name == "SetOp":
            return word not in {SETOP_CONNECT, SETOP_DISCONNECT}
        return name == "SetInvState" and word not in {1, 2, 3}

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
        if any(self._refusal(name, word) for name, word in names):
            return ExcCodes.ILLEGAL_VALUE
        changes: list[tuple[str, float]] = []
        for name, word in names:
            if name == "MinRsvPct":
                model.reserve_pct = word
            elif name == "SetOp":
                # model_802.json: SetOp is a command; State reports the result.
                model.enabled = word == SETOP_CONNECT
            self._stored[name] = word
            value = self._percent(name) if name in {"OutWRte", "InWRte"} else word
            changes.append((name, value))
        self._apply(model)
        return changes

    def _apply(self, model: BatteryModel) -> None:
        """The active limits and their signs -> what the battery does (model_124.json, Fronius practice)."""
        cfg = model.config
        stor_ctl = self._stored["StorCtl_Mod"]
        charge_active = bool(stor_ctl & STOR_CTL_CHARGE)
        discharge_active = bool(stor_ctl & STOR_CTL_DISCHARGE)
        in_w = self._percent("InWRte") / 100 * cfg.max_charge_w  # % of WChaMax
        out_w = self._percent("OutWRte") / 100 * cfg.max_discharge_w  # % of WDisChaMax
        model.grid_charge = self._stored["ChaGriSet"] == CHA_GRI_GRID
        model.charge_limit_w = model.discharge_limit_w = None
        if discharge_active and out_w < 0:  # a negative discharge limit forces charging
            forced = -out_w if not charge_active or in_w < 0 else min(-out_w, in_w)
            self._force(model, "force_charge", forced)
        elif charge_active and in_w < 0:  # a negative charge limit forces discharging
            forced = -in_w if not discharge_active or out_w < 0 else min(-in_w, out_w)
            self._force(model, "force_discharge", forced)
        else:  # the inverter's own self-consumption, within the active limits
            model.mode = r.MODE_CODES["auto"]
            model.power_setpoint_w = 0
            model.charge_limit_w = in_w if charge_active else None
            model.discharge_limit_w = out_w if discharge_active else None
            if charge_active and discharge_active and in_w == 0 and out_w == 0:
                model.mode = r.MODE_CODES["idle"]  # both directions blocked: the battery holds

    @staticmethod
    def _force(model: BatteryModel, mode: str, power_w: float) -> None:
        watts = round(power_w)
        if watts <= 0:  # forced at 0 W (capped by the other limit): nothing flows
            model.mode, model.power_setpoint_w = r.MODE_CODES["idle"], 0
            return
        model.mode = r.MODE_CODES[mode]
        model.power_setpoint_w = -watts if mode == "force_charge" else watts
