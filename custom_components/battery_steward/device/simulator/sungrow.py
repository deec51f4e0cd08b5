"""The simulated battery as a Sungrow SH hybrid.

As mkaiser/Sungrow-SHx-Inverter-Modbus-Home-Assistant `modbus_sungrow.yaml` describes it (every
rule below cites that file unless it says otherwise).
"""

from typing import override

from .. import registers as r
from ..profiles import sungrow as s
from .physics import BatteryModel, SimConfig
from .table import TablePresentation

_IDLE = r.MODE_CODES["idle"]

# Device type code the simulator answers with: 0x0E03, "SH10RT" in the file's device type map.
DEVICE_TYPE_CODE = 0x0E03


class SungrowPresentation(TablePresentation):
    """Input registers answer FC4 only, holding registers FC3 only.

    The file reads each kind with its own `input_type` (input / holding).
    """

    name = "sungrow"

    def __init__(self) -> None:
        """Registers of profiles/sungrow.py; the device starts in self-consumption, stopped."""
        super().__init__((*s.IDENTITY, *s.POLLED))
        self.values.update({"ems_mode": s.EMS_SELF_CONSUMPTION, "command": s.CMD_STOP, "reserve": 10})

    @override
    def identity(self, config: SimConfig) -> dict[str, float | str]:
        return {
            "serial": config.serial,
            "device_type": DEVICE_TYPE_CODE,
            "capacity_kwh": config.capacity_kwh,
            # 33046/33047 are in 10 W steps ("scale: 10").
            "max_charge_w": config.max_charge_w,
            "max_discharge_w": config.max_discharge_w,
        }

    @override
    def measure(self, model: BatteryModel) -> dict[str, float]:
        return {
            # 5213: "negative: Battery charging, positive: Battery discharging" - our own sign.
            "battery_power": round(model.active_power_w),
            "battery_voltage": model.voltage_v,
            "soc": min(max(model.soc_pct, 0.0), 100.0),
        }

    @override
    def accepts(self, config: SimConfig, name: str, value: float) -> bool:
        allowed: dict[str, bool] = {
            # EMS modes of the "EMS mode" select: 0 self-consumption, 2 forced, 3 external EMS,
            # 4 VPP, 8 microgrid.
            "ems_mode": value in {0, 2, 3, 4, 8},
            # The "Battery forced charge discharge" select: 0xAA, 0xBB, 0xCC.
            "command": value in {s.CMD_CHARGE, s.CMD_DISCHARGE, s.CMD_STOP},
            # 13051: "0 to 5000 W for SH*K-*", in W on an SH10RT; bounded here by the battery's rating.
            "power": 0 <= value <= max(config.max_charge_w, config.max_discharge_w),
            "reserve": 0 <= value <= 100,
            "max_charge_w": 0 <= value <= config.max_charge_w,
            "max_discharge_w": 0 <= value <= config.max_discharge_w,
        }
        return allowed.get(name, False)

    @override
    def apply(self, model: BatteryModel) -> None:
        ems, command, power = (
            int(self.values["ems_mode"]),
            int(self.values["command"]),
            int(self.values["power"]),
        )
        model.reserve_pct = round(float(self.values["reserve"]))
        if ems == s.EMS_SELF_CONSUMPTION:
            # The scenes: "Self-Consumption Mode" = EMS mode 0 (the battery covers the house).
            model.mode = r.MODE_CODES["auto"]
            return
        if ems != s.EMS_FORCED or command == s.CMD_STOP or power == 0:
            # "Battery Bypass Mode" = forced mode with the stop command: the battery rests.
            # (External EMS, VPP and microgrid are not modelled: the battery rests too.)
            model.mode = _IDLE
            return
        # "Battery Forced Charge/Discharge" = forced mode with 0xAA/0xBB, at the power in 13051.
        charging = command == s.CMD_CHARGE
        model.mode = r.MODE_CODES["force_charge" if charging else "force_discharge"]
        model.power_setpoint_w = -power if charging else power
