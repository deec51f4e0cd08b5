"""A presentation made of a table of registers: the shared machinery of the vendor presentations.

A vendor presentation lists its registers (holding or input, as its public source has them), says
which values it accepts for each writable one and turns its register values into the physics'
controls. This class keeps the values, lays out the regions, answers which function code reads
which register, validates a write as a whole and renders everything into the image.
"""

from abc import abstractmethod
from typing import override

from pymodbus.constants import ExcCodes

from .. import registers as r
from .physics import BatteryModel, SimConfig
from .presentation import Image, Presentation, Region, merged_words, touched_registers


class TablePresentation(Presentation):
    """Registers held as engineering values; subclasses give the rules."""

    # Whether holding registers also answer FC4 (and input registers FC3), as some devices do.
    any_read_code = False

    def __init__(self, registers: tuple[r.Register, ...]) -> None:
        """Every register the device presents; controls start at 0 unless the subclass sets them."""
        self.registers = registers
        self.by_name = {reg.name: reg for reg in registers}
        self.values: dict[str, float | str] = dict.fromkeys(self.by_name, 0)
        self._owner = {
            address: reg for reg in registers for address in range(reg.address, reg.address + reg.count)
        }

    @override
    def regions(self, config: SimConfig) -> list[Region]:
        return [Region(address=reg.address, count=reg.count, writable=reg.writable) for reg in self.registers]

    @override
    def read_allowed(self, function_code: int, address: int, count: int) -> bool:
        # The server asks only for FC3 and FC4.
        if self.any_read_code:
            return True
        owners = {self._owner.get(a) for a in range(address, address + count)}
        return all(reg is not None and reg.input == (function_code == 4) for reg in owners)

    @override
    def identify(self, config: SimConfig, image: Image) -> None:
        self.values.update(self.identity(config))

    @abstractmethod
    def identity(self, config: SimConfig) -> dict[str, float | str]:
        """The identification values, set once."""

    @abstractmethod
    def measure(self, model: BatteryModel) -> dict[str, float]:
        """The measured values now (read-only registers)."""

    @abstractmethod
    def accepts(self, config: SimConfig, name: str, value: float) -> bool:
        """Whether the device accepts this value for a writable register."""

    @abstractmethod
    def apply(self, model: BatteryModel) -> None:
        """Turn the register values into the physics' controls."""

    def written(self, name: str, value: float) -> None:
        """Called for each accepted register value, before apply: a hook for side effects."""
        self.values[name] = value

    @override
    def render(self, model: BatteryModel, image: Image) -> None:
        self.apply(model)
        self.values.update(self.measure(model))
        for reg in self.registers:
            image.put(reg.address, r.encode(reg, self.values[reg.name]))

    @override
    def write(
        self, model: BatteryModel, image: Image, address: int, values: list[int]
    ) -> ExcCodes | list[tuple[str, float]]:
        if (touched := touched_registers(self._owner, address, len(values))) is None:
            return ExcCodes.ILLEGAL_ADDRESS
        merged = merged_words(image, address, values)
        decoded: list[tuple[str, float]] = []
        for reg in touched:
            value = float(
                r.decode(reg, merged[reg.address - image.base : reg.address - image.base + reg.count])
            )
            if not self.accepts(model.config, reg.name, value):
                return ExcCodes.ILLEGAL_VALUE
            decoded.append((reg.name, value))
        for name, value in decoded:
            self.written(name, value)
        self.apply(model)
        return decoded
