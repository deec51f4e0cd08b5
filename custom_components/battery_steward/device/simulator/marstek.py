"""The simulated battery as a Marstek Venus E (community v1/v2 or v3 map, see profiles/marstek.py).

The device is modelled as the public sources describe it, not as our driver uses it:

- ViperRNMC/marstek_venus_modbus `registers/e_v12.yaml`, `e_v3.yaml`: addresses, types, scales;
  42000 on = 0x55AA (21930), off = 0x55BB (21947); 42020/42021 and 44002/44003 in 0..2500 W;
  41000 = 0x55AA resets the device.
- Superduper1969/MarstekVenus-LilygoRS485#12, ViperRNMC/marstek_venus_modbus#113 and
  fonske/MarstekVenusV3-modbus-TCP-IP#6: turning RS485 control on forces 43000 to 1
  (anti-feed); writing 43000 turns RS485 control off.
- ViperRNMC/marstek_venus_modbus#294: while RS485 control is on, 43000 reads 1.
- evcc `templates/definition/meter/marstek-venus-e.yaml`: 42010/42020/42021 act only under RS485
  control; 0x55BB hands control back to the device's own work mode (no reset).
- ViperRNMC/marstek_venus_modbus#214, #294: RS485 control drops by itself; here it drops when a
  new TCP connection arrives (a reconnect).
- ffunes/Omnibattery#411 (`MESSAGE_WAIT_MS["v3"] = 150`): v3 firmware needs 150 ms between
  requests; a request that comes sooner is answered "device busy".
"""

from typing import override

from pymodbus.constants import ExcCodes

from .. import registers as r
from ..profiles.marstek import (
    FORCE_CHARGE,
    FORCE_DISCHARGE,
    FORCE_STOP,
    MAPS,
    RATED_POWER_W,
    RESET_COMMAND,
    RS485_OFF,
    RS485_ON,
    V3_REQUEST_GAP_S,
    WORK_ANTI_FEED,
    MarstekSettings,
)
from .physics import BatteryModel, SimConfig
from .presentation import Image, Presentation, Region

_STATE = {"idle": 1, "charging": 2, "discharging": 3, "disabled": 0}
_RESET = r.Register(name="reset", address=41000, type=r.RegType.U16, writable=True)
_FORCE_MODE_CODE = {
    FORCE_CHARGE: r.MODE_CODES["force_charge"],
    FORCE_DISCHARGE: r.MODE_CODES["force_discharge"],
    FORCE_STOP: r.MODE_CODES["idle"],
}


class MarstekPresentation(Presentation):
    """Registers of the chosen layout; physics as for every profile."""

    name = "marstek"

    def __init__(self, settings: MarstekSettings | None = None, *, pacing: bool = True) -> None:
        """The same settings the driver would use (power sign, layout); v3 pacing unless told not to."""
        self.settings = settings or MarstekSettings()
        self.map = MAPS[self.settings.layout]
        m = self.map
        self._registers = (
            *m.identity(),
            *m.polled(),
            *m.unread(),
            m.charge_to_soc,
            m.backup_function,
            _RESET,
        )
        self._owner = {reg.address: reg for reg in self._registers if reg.writable}
        self.min_request_gap_s = V3_REQUEST_GAP_S if pacing and self.settings.layout == "v3" else 0.0
        self.rs485 = RS485_OFF
        self.force_mode = FORCE_STOP
        self.work_mode = WORK_ANTI_FEED
        self.charge_power = 0
        self.discharge_power = 0
        self.charge_to_soc = 100
        self.backup_function = 1
        self.max_charge_power: int | None = None  # 44002, from the config until written
        self.max_discharge_power: int | None = None  # 44003
        self.resets = 0  # times the device was reset (41000)
        self.drops = 0  # times RS485 control dropped by itself
        self._shown: tuple[int, int] | None = None  # (mode, power setpoint) the registers last produced

    @override
    def regions(self, config: SimConfig) -> list[Region]:
        return [
            Region(address=reg.address, count=reg.count, writable=reg.address in self._owner)
            for reg in sorted(set(self._registers), key=lambda g: g.address)
        ]

    @override
    def identify(self, config: SimConfig, image: Image) -> None:
        m = self.map
        for reg, value in (
            (m.device_name, config.model),
            (m.software_version, 1.23 if m.software_version.scale < 1 else 123),
            (m.serial, config.serial),
        ):
            image.put(reg.address, r.encode(reg, value))
        self.max_charge_power = min(config.max_charge_w, int(RATED_POWER_W))
        self.max_discharge_power = min(config.max_discharge_w, int(RATED_POWER_W))

    @override
    def on_connect(self, model: BatteryModel) -> None:
        """A new TCP connection: RS485 control drops (ViperRNMC/marstek_venus_modbus#214, #294)."""
        if self.rs485 == RS485_ON:
            self.drops += 1
            self.rs485 = RS485_OFF
            self._apply(model)

    def _follow(self, model: BatteryModel) -> None:
        """Controls changed on the model (set_control, as the vendor app would) show in the registers."""
        if self._shown == (model.mode, model.power_setpoint_w):
            return
        if model.mode == r.MODE_CODES["auto"]:
            self.rs485 = RS485_OFF
        else:
            self.rs485 = RS485_ON
            self.work_mode = WORK_ANTI_FEED
            self.force_mode = next(code for code, mode in _FORCE_MODE_CODE.items() if mode == model.mode)
        self.charge_power = max(-model.power_setpoint_w, 0)
        self.discharge_power = max(model.power_setpoint_w, 0)
        self._shown = (model.mode, model.power_setpoint_w)

    @override
    def render(self, model: BatteryModel, image: Image) -> None:
        self._follow(model)
        m = self.map
        power = model.active_power_w * self.settings.sign
        voltage = model.voltage_v
        for reg, value in (
            (m.battery_voltage, voltage),
            (m.battery_current, power / voltage),
            (m.battery_power, power),
            (m.soc, min(max(model.soc_pct, 0.0), 100.0)),
            (m.ac_power, power),
            (m.temperature, model.temperature_c),
            (m.inverter_state, _STATE[model.state]),
            (m.rs485_control, self.rs485),
            (m.force_mode, self.force_mode),
            (m.charge_to_soc, self.charge_to_soc),
            (m.charge_power, self.charge_power),
            (m.discharge_power, self.discharge_power),
            (m.backup_function, self.backup_function),
            # ViperRNMC/marstek_venus_modbus#294: 43000 reads 1 while RS485 control is on.
            (m.work_mode, WORK_ANTI_FEED if self.rs485 == RS485_ON else self.work_mode),
            (m.max_charge_power, self.max_charge_power or 0),
            (m.max_discharge_power, self.max_discharge_power or 0),
            (_RESET, 0),
        ):
            image.put(reg.address, r.encode(reg, value))

    def _valid(self, reg: r.Register, value: int, config: SimConfig) -> bool:
        m = self.map
        rated = int(RATED_POWER_W)
        allowed: dict[str, range | set[int]] = {
            m.rs485_control.name: {RS485_ON, RS485_OFF},
            m.force_mode.name: range(3),
            m.charge_to_soc.name: range(101),
            m.charge_power.name: range(min(config.max_charge_w, rated) + 1),
            m.discharge_power.name: range(min(config.max_discharge_w, rated) + 1),
            m.backup_function.name: range(2),
            m.work_mode.name: range(3),
            m.max_charge_power.name: range(rated + 1),  # e_v12.yaml: 0..2500
            m.max_discharge_power.name: range(rated + 1),
            _RESET.name: {RESET_COMMAND},
        }
        return reg.name in allowed and value in allowed[reg.name]

    @override
    def write(
        self, model: BatteryModel, image: Image, address: int, values: list[int]
    ) -> ExcCodes | list[tuple[str, float]]:
        regs = [self._owner.get(address + offset) for offset in range(len(values))]
        checked: list[tuple[r.Register, int]] = []
        for reg, value in zip(regs, values, strict=True):
            if reg is None:
                return ExcCodes.ILLEGAL_ADDRESS
            if not self._valid(reg, value, model.config):
                return ExcCodes.ILLEGAL_VALUE
            checked.append((reg, value))
        for reg, value in checked:
            if reg is _RESET:
                # e_v12.yaml reset_device: the device restarts and comes back on its own.
                self.resets += 1
                self.rs485, self.force_mode = RS485_OFF, FORCE_STOP
            elif reg.name == "rs485_control":
                self.rs485 = value
                if value == RS485_ON:
                    self.work_mode = WORK_ANTI_FEED  # LilygoRS485#12, ViperRNMC#113, fonske#6
            elif reg.name == "work_mode":
                self.work_mode = value
                self.rs485 = RS485_OFF  # fonske/MarstekVenusV3-modbus-TCP-IP#6
            else:
                setattr(self, reg.name, value)
        self._apply(model)
        return [(reg.name, value) for reg, value in checked]

    def _apply(self, model: BatteryModel) -> None:
        """Marstek controls -> the physics' steward controls."""
        model.charge_limit_w = float(self.max_charge_power or 0)
        model.discharge_limit_w = float(self.max_discharge_power or 0)
        if self.rs485 != RS485_ON:
            # The device's own work mode: anti-feed covers the load; manual and trade run the
            # device's schedule, which the simulator has none of (it covers the load too).
            model.mode = r.MODE_CODES["auto"]
            model.power_setpoint_w = 0
        else:
            power = {FORCE_CHARGE: -self.charge_power, FORCE_DISCHARGE: self.discharge_power}.get(
                self.force_mode, 0
            )
            limit = self.max_charge_power if power < 0 else self.max_discharge_power
            power = max(-(limit or 0), min(limit or 0, power))
            # A forced mode at 0 W (or capped to 0 by 44002/44003) moves nothing.
            model.mode = _FORCE_MODE_CODE[self.force_mode] if power else r.MODE_CODES["idle"]
            model.power_setpoint_w = power
        self._shown = (model.mode, model.power_setpoint_w)
