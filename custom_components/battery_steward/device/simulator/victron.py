"""The simulated battery as a Victron ESS behind a GX device.

As Victron's CCGX Modbus-TCP register list (sfstar/hass-victron
`resources/CCGX-Modbus-TCP-register-list-3.66.xlsx`) and Victron's "ESS mode 2 and 3" page
describe it; each rule names its source.

Run it with unit id 100: "Use unit-id 100 for the com.victronenergy.system data" (register list).
"""

from typing import override

from .. import registers as r
from ..profiles import victron as v
from .physics import BatteryModel, SimConfig
from .table import TablePresentation


class VictronPresentation(TablePresentation):
    """The GX answers FC3 and FC4 alike.

    hass-victron reads these registers as holding registers (`hub.py` read_holding_registers),
    evcc's `victron-energy.yaml` as input registers.
    """

    name = "victron"
    any_read_code = True

    def __init__(self) -> None:
        """Registers of profiles/victron.py; ESS in optimised mode, no limits, setpoint 0."""
        super().__init__((*v.IDENTITY, *(reg for reg in v.POLLED if reg not in v.IDENTITY)))
        self.values.update(
            {"ess_mode": 1, "max_discharge": v.NO_LIMIT * 10, "max_charge_current": v.NO_LIMIT, "min_soc": 10}
        )

    @override
    def identity(self, config: SimConfig) -> dict[str, float | str]:
        # 800 "Serial (System)": the MAC address of the GX, 12 characters.
        return {"serial": config.serial}

    @override
    def measure(self, model: BatteryModel) -> dict[str, float]:
        return {
            "battery_voltage": model.voltage_v,
            # 842: "Positive: battery being charged. Negative: battery being discharged".
            "battery_power": -round(model.active_power_w),
            # 843: uint16, factor 1: whole percent.
            "soc": round(min(max(model.soc_pct, 0.0), 100.0)),
        }

    @override
    def accepts(self, config: SimConfig, name: str, value: float) -> bool:
        allowed = {
            "grid_setpoint": True,  # int16, any value
            "max_discharge": True,  # int16 x 10 W; -1: no limit
            "max_charge_current": True,  # int16 A; -1: no limit
            "min_soc": 0 <= value <= 100,
            "ess_mode": value in {1, 2, 3},  # 2902: 1, 2 = optimised, 3 = external control
        }
        return allowed.get(name, False)

    @override
    def apply(self, model: BatteryModel) -> None:
        model.reserve_pct = round(
            float(self.values["min_soc"])
        )  # 2901: "ESS Minimum SoC (unless grid fails)"
        if int(self.values["ess_mode"]) not in v.ESS_OPTIMISED:
            # External control (3): the Multi follows the vebus setpoints, which are not modelled.
            model.mode = r.MODE_CODES["idle"]
            return
        # ESS mode 2: the GX steers the battery so the grid reads the setpoint (2700: "The
        # control-loop will increase/decrease the Multi charge/discharge power to get the grid
        # reading to this setpoint"); grid = house load - battery (+ discharge).
        target = model.site_load_w - float(self.values["grid_setpoint"])
        max_discharge = float(self.values["max_discharge"])
        if max_discharge >= 0:
            # 2704 "Maximum inverter power": 0 disables discharging, a positive value caps it.
            target = min(target, max_discharge)
        if float(self.values["max_charge_current"]) == 0:
            # 2705 "DVCC maximum system charge current": 0 A, nothing charges the battery.
            target = max(target, 0.0)
        if target == 0:
            model.mode = r.MODE_CODES["idle"]
        else:
            model.mode = r.MODE_CODES["force_discharge" if target > 0 else "force_charge"]
            model.power_setpoint_w = round(target)
