"""The simulated battery as a Huawei SUN2000 with a LUNA2000.

As wlcrs/huawei-solar-lib
`registers.py`, wlcrs/huawei_solar `services.py` and evcc's `huawei-sun2000-hybrid.yaml` describe
it; each rule names its source.
"""

from collections.abc import Callable
import time
from typing import override

from .. import registers as r
from ..profiles import huawei as h
from .physics import BatteryModel, SimConfig
from .table import TablePresentation

RUNNING = 2  # StorageStatus.RUNNING (register_values.py)


class HuaweiPresentation(TablePresentation):
    """Holding registers only (huawei-solar-lib reads everything with FC3)."""

    name = "huawei"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """The registers of profiles/huawei.py; `clock` times the forcible period (the simulator's clock)."""
        super().__init__((*h.IDENTITY, *h.POLLED, h.PERIOD, h.TARGET_MODE))
        self._clock = clock
        self.forced_until: float | None = None
        self.expired = 0  # forcible periods that ran out (the device's watchdog fired)

    @override
    def identity(self, config: SimConfig) -> dict[str, float | str]:
        # Limits start at the rated powers, as after evcc's "normal".
        return {
            "model": config.model,
            "serial": config.serial,
            "firmware": config.firmware,
            "max_charge_w": config.max_charge_w,
            "max_discharge_w": config.max_discharge_w,
            "capacity_wh": config.capacity_kwh * 1000,
            "product_model": h.LUNA2000,
            "limit_charge": config.max_charge_w,
            "limit_discharge": config.max_discharge_w,
            "backup_soc": config.reserve_pct,
        }

    @override
    def measure(self, model: BatteryModel) -> dict[str, float]:
        return {
            "soc": min(max(model.soc_pct, 0.0), 100.0),
            "status": RUNNING,
            "bus_voltage": model.voltage_v,
            "bus_current": model.active_power_w / model.voltage_v,
            # 37765: + charging (evcc reads it with "scale: -1" as battery power, + discharging).
            "power": -round(model.active_power_w),
        }

    @override
    def accepts(self, config: SimConfig, name: str, value: float) -> bool:
        allowed = {
            # evcc: "register 47075 is range-checked: a maxchargepower above the inverter rated max
            # (37046) is rejected"; likewise 47077 against 37048.
            "limit_charge": 0 <= value <= config.max_charge_w,
            "limit_discharge": 0 <= value <= config.max_discharge_w,
            # huawei_solar services.py: "Maximum duration is 1440 minutes".
            "period": 0 <= value <= 1440,
            "command": value in {h.STOP, h.CHARGE, h.DISCHARGE},  # StorageForcibleChargeDischarge
            "target_mode": value in {0, 1},  # StorageForcibleChargeDischargeTargetMode: time, SoC
            "backup_soc": 0 <= value <= 100,
            # huawei_solar services.py validates the power against 37046/37048.
            "charge_power": 0 <= value <= config.max_charge_w,
            "discharge_power": 0 <= value <= config.max_discharge_w,
        }
        return allowed.get(name, False)

    @override
    def written(self, name: str, value: float) -> None:
        super().written(name, value)
        if name == "command":
            # A forcible command lasts the period in 47083 (minutes, target mode 0 = time); each
            # command starts the period again (what evcc's 47100 watchdog relies on).
            forced = value in {h.CHARGE, h.DISCHARGE}
            self.forced_until = self._clock() + 60 * float(self.values["period"]) if forced else None

    def _expire(self) -> None:
        """The period ran out: the battery leaves the forced mode (47100 reads stop again)."""
        if self.forced_until is not None and self._clock() >= self.forced_until:
            self.forced_until = None
            self.values["command"] = h.STOP
            self.expired += 1

    @override
    def apply(self, model: BatteryModel) -> None:
        self._expire()
        model.reserve_pct = round(float(self.values["backup_soc"]))  # 47102 backup power SoC
        command = int(self.values["command"])
        if command in {h.CHARGE, h.DISCHARGE}:
            charging = command == h.CHARGE
            # services.py forcible_charge: the power of 47247 (charge) or 47249 (discharge).
            power = int(self.values["charge_power" if charging else "discharge_power"])
            if power == 0:
                model.mode = r.MODE_CODES["idle"]
            else:
                model.mode = r.MODE_CODES["force_charge" if charging else "force_discharge"]
                model.power_setpoint_w = -power if charging else power
            return
        if float(self.values["limit_charge"]) == 0 and float(self.values["limit_discharge"]) == 0:
            # Both battery limits at 0: nothing flows in or out (evcc's "hold" is the discharge half).
            model.mode = r.MODE_CODES["idle"]
        else:
            # No command: the battery follows its working mode; self-consumption is modelled (partial
            # limits are not).
            model.mode = r.MODE_CODES["auto"]
