"""The simulated battery behind a custom register map: whatever the user's map describes."""

from collections.abc import Callable
from typing import override

from pymodbus.constants import ExcCodes

from .. import registers as r
from ..profiles.custom import RegisterMap
from .physics import BatteryModel, SimConfig
from .presentation import Image, Presentation, Region, merged_words

_STATE_VALUE: dict[str, Callable[[BatteryModel], float]] = {
    "soc_pct": lambda m: min(max(m.soc_pct, 0.0), 100.0),
    "active_power_w": lambda m: m.active_power_w,
    "reactive_power_var": lambda m: m.reactive_power_var,
    "voltage_v": lambda m: m.voltage_v,
    "temperature_c": lambda m: m.temperature_c,
    "charge_energy_kwh": lambda m: m.charge_energy_kwh,
    "discharge_energy_kwh": lambda m: m.discharge_energy_kwh,
    "reserve_pct": lambda m: m.reserve_pct,
    "power_w": lambda m: m.power_setpoint_w,
    "reactive_var": lambda m: m.reactive_setpoint_var,
    "enabled": lambda m: int(m.enabled),
}


class CustomPresentation(Presentation):
    """Each mapped register at its address, encoded as the map says."""

    name = "custom"

    def __init__(self, register_map: RegisterMap) -> None:
        """A validated map (profiles.custom.parse)."""
        self.map = register_map
        self._registers = [m.register for m in register_map.registers.values()]
        self._owner = {
            address: reg
            for reg in self._registers
            if reg.writable
            for address in range(reg.address, reg.address + reg.count)
        }
        self._mode_code = {mode: r.MODE_CODES[mode.value] for mode in register_map.modes}
        self._mode_by_raw = {raw: mode for mode, raw in register_map.modes.items()}
        self._raw_by_code = {code: register_map.modes[mode] for mode, code in self._mode_code.items()}

    @override
    def regions(self, config: SimConfig) -> list[Region]:
        return [
            Region(address=reg.address, count=reg.count, writable=reg.writable) for reg in self._registers
        ]

    @override
    def identify(self, config: SimConfig, image: Image) -> None:
        texts = {"serial": config.serial, "model": config.model, "firmware": config.firmware}
        for reg in self._registers:
            if reg.name in texts:
                image.put(reg.address, r.encode(reg, texts[reg.name]))

    @override
    def render(self, model: BatteryModel, image: Image) -> None:
        for reg in self._registers:
            if reg.name == "mode":
                image.put(reg.address, r.encode(reg, self._raw_by_code.get(model.mode, 0)))
            elif (value := _STATE_VALUE.get(reg.name)) is not None:
                image.put(reg.address, r.encode(reg, value(model)))

    @override
    def write(
        self, model: BatteryModel, image: Image, address: int, values: list[int]
    ) -> ExcCodes | list[tuple[str, float]]:
        touched: list[r.Register] = []
        for addr in range(address, address + len(values)):
            reg = self._owner.get(addr)
            if reg is None:
                return ExcCodes.ILLEGAL_ADDRESS
            if reg not in touched:
                touched.append(reg)
        merged = merged_words(image, address, values)
        cfg = model.config
        decoded: list[tuple[r.Register, float]] = []
        for reg in touched:
            value = float(
                r.decode(reg, merged[reg.address - image.base : reg.address - image.base + reg.count])
            )
            ok = {
                "mode": value in self._mode_by_raw,
                "reserve_pct": 0 <= value <= 100,
                "power_w": -cfg.max_charge_w <= value <= cfg.max_discharge_w,
                "reactive_var": abs(value) <= cfg.max_apparent_va,
                "enabled": value in {0, 1},
            }[reg.name]
            if not ok:
                return ExcCodes.ILLEGAL_VALUE
            decoded.append((reg, value))
        for reg, value in decoded:
            if reg.name == "mode":
                model.mode = self._mode_code[self._mode_by_raw[int(value)]]
            elif reg.name == "reserve_pct":
                model.reserve_pct = round(value)
            elif reg.name == "power_w":
                model.power_setpoint_w = round(value)
            elif reg.name == "reactive_var":
                model.reactive_setpoint_var = round(value)
            else:
                model.enabled = bool(value)
        return [(reg.name, value) for reg, value in decoded]
