"""The simulated battery as a Marstek Venus E (community v1/v2 map, see profiles/marstek.py)."""

from typing import override

from pymodbus.constants import ExcCodes

from .. import registers as r
from ..profiles.marstek import (
    FORCE_CHARGE,
    FORCE_DISCHARGE,
    FORCE_STOP,
    MAPS,
    RS485_OFF,
    RS485_ON,
    WORK_ANTI_FEED,
    WORK_MANUAL,
    MarstekSettings,
)
from .physics import BatteryModel, SimConfig
from .presentation import Image, Presentation, Region

_STATE = {"idle": 1, "charging": 2, "discharging": 3, "disabled": 0}


class MarstekPresentation(Presentation):
    """Registers of the chosen layout; physics as for every profile."""

    name = "marstek"

    def __init__(self, settings: MarstekSettings | None = None) -> None:
        """The same settings the driver would use (power sign, layout)."""
        self.settings = settings or MarstekSettings()
        self.map = MAPS[self.settings.layout]
        m = self.map
        self._registers = (*m.identity(), *m.polled(), *m.unread(), m.charge_to_soc, m.backup_function)
        self._owner = {reg.address: reg for reg in self._registers if reg.writable}
        self.rs485 = RS485_OFF
        self.force_mode = FORCE_STOP
        self.work_mode = WORK_ANTI_FEED
        self.charge_power = 0
        self.discharge_power = 0
        self.charge_to_soc = 100
        self.backup_function = 1
        self.resets = 0  # times RS485 control was switched off (the device resets)

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
            (m.max_charge_power, config.max_charge_w),
            (m.max_discharge_power, config.max_discharge_w),
        ):
            image.put(reg.address, r.encode(reg, value))

    def _follow(self, model: BatteryModel) -> None:
        """Controls changed on the model (set_control, as the vendor app would) show in the registers."""
        if self.discharge_power - self.charge_power != model.power_setpoint_w:
            self.charge_power = max(-model.power_setpoint_w, 0)
            self.discharge_power = max(model.power_setpoint_w, 0)
        if model.mode == r.MODE_CODES["auto"] and self.rs485 == RS485_ON and self.force_mode == FORCE_STOP:
            self.work_mode = WORK_ANTI_FEED if self.work_mode == WORK_MANUAL else self.work_mode
        elif model.mode != r.MODE_CODES["auto"]:
            self.rs485 = RS485_ON
            self.force_mode = {
                r.MODE_CODES["force_charge"]: FORCE_CHARGE,
                r.MODE_CODES["force_discharge"]: FORCE_DISCHARGE,
            }.get(model.mode, FORCE_STOP)
            if model.mode == r.MODE_CODES["idle"]:
                self.work_mode = WORK_MANUAL

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
            (m.work_mode, self.work_mode),
        ):
            image.put(reg.address, r.encode(reg, value))

    def _valid(self, reg: r.Register, value: int, config: SimConfig) -> bool:
        m = self.map
        allowed: dict[str, range | set[int]] = {
            m.rs485_control.name: {RS485_ON, RS485_OFF},
            m.force_mode.name: range(3),
            m.charge_to_soc.name: range(101),
            m.charge_power.name: range(config.max_charge_w + 1),
            m.discharge_power.name: range(config.max_discharge_w + 1),
            m.backup_function.name: range(2),
            m.work_mode.name: range(3),
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
            if reg.name == "rs485_control":
                if self.rs485 == RS485_ON and value == RS485_OFF:
                    self.resets += 1
                    self.force_mode = FORCE_STOP
                self.rs485 = value
            else:
                setattr(self, reg.name, value)
        self._apply(model)
        return [(reg.name, value) for reg, value in checked]

    def _apply(self, model: BatteryModel) -> None:
        """Marstek controls -> the physics' steward controls."""
        model.power_setpoint_w = self.discharge_power - self.charge_power
        if self.rs485 != RS485_ON:
            model.mode = r.MODE_CODES["auto"]
        elif self.force_mode == FORCE_CHARGE:
            model.mode = r.MODE_CODES["force_charge"]
        elif self.force_mode == FORCE_DISCHARGE:
            model.mode = r.MODE_CODES["force_discharge"]
        else:
            model.mode = r.MODE_CODES["idle" if self.work_mode == WORK_MANUAL else "auto"]
