"""What a register-map profile is: how one kind of battery maps onto Battery Steward's state.

A profile knows addresses, encodings and control sequences; the Modbus driver owns the connection,
the I/O lock and error mapping, and calls the profile with a `RegisterIO`. The controller,
reconciler and journal only see the `BatteryDriver` protocol, so they work unchanged on every
profile. Imports nothing from homeassistant.
"""

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Protocol

from ...engine.state import Limits, Measurements, Setpoints
from .. import registers as r
from ..blocks import Block, Layout
from ..driver import Capabilities, DeviceInfo


class RegisterIO(Protocol):
    """Holding-register access the driver gives a profile (the driver's lock is held)."""

    @property
    def label(self) -> str:
        """host:port unit n, for error messages."""
        ...

    async def read_blocks(self, blocks: list[Block]) -> list[list[int]]:
        """One read request per block: FC3, or FC4 for a block of input registers."""
        ...

    async def write_words(self, address: int, words: list[int]) -> None:
        """FC6 for one register, FC16 for more (always FC16 for an `fc16_only` profile)."""
        ...


class Profile(ABC):
    """One register map. Instances are cheap and hold only settings and what identify learned."""

    name: ClassVar[str]
    capabilities: Capabilities
    # Shortest time the device needs between two requests (s); the driver waits at least this long.
    min_request_gap_s: float = 0.0
    fc16_only: ClassVar[bool] = False  # the device refuses FC6: write single registers with FC16
    # How often keep_alive must run (s) for the device not to drop remote control; None: never.
    # keep_alive runs after each poll, so the poll interval must not exceed the device's timeout.
    keep_alive_s: ClassVar[float | None] = None

    def unit_for(self, address: int) -> int | None:
        """The unit id a write to `address` goes to; None: the device's unit id.

        For registers with a unit id of their own (reads take it from their Block).
        """
        del address
        return None

    async def keep_alive(self, io: RegisterIO) -> None:  # noqa: B027 - optional
        """Called after every poll: rewrite what the device would otherwise let time out."""

    @abstractmethod
    async def identify(self, io: RegisterIO) -> DeviceInfo:
        """Read identification and limits; UnsupportedDeviceError for a foreign device."""

    @abstractmethod
    async def read(self, io: RegisterIO) -> Measurements:
        """One poll."""

    @abstractmethod
    async def write(self, io: RegisterIO, setpoints: Setpoints, info: DeviceInfo) -> None:
        """Write the fields set; capabilities and limits are already checked."""

    async def set_enabled(self, io: RegisterIO, enabled: bool) -> None:  # noqa: B027 - optional
        """Enable or disable the plant; a no-op unless the profile can (capabilities.enable)."""


def values_of(blocks: list[Block], data: list[list[int]], regs: tuple[r.Register, ...]) -> dict[str, Any]:
    """Every register's engineering value out of the blocks read, by register name."""
    return decoded(Layout.of(blocks, regs), data)


def decoded(layout: Layout, data: list[list[int]]) -> dict[str, Any]:
    """Every register's engineering value out of the layout's blocks read, by register name."""
    return {reg.name: r.decode(reg, data[index][start:end]) for reg, index, start, end in layout.places}


async def put(io: RegisterIO, reg: r.Register, value: float) -> None:
    """Write one value to where its register takes writes (its write address, if it has one)."""
    await io.write_words(reg.target, r.encode(reg, value))


def rated_limits(max_charge_w: float, max_discharge_w: float) -> Limits:
    """Limits from a device's charge and discharge ratings (apparent power: the larger of the two)."""
    return Limits(
        max_charge_w=max_charge_w,
        max_discharge_w=max_discharge_w,
        max_apparent_va=max(max_charge_w, max_discharge_w),
    )
