"""What a register-map profile is: how one kind of battery maps onto Battery Steward's state.

A profile knows addresses, encodings and control sequences; the Modbus driver owns the connection,
the I/O lock and error mapping, and calls the profile with a `RegisterIO`. The controller,
reconciler and journal only see the `BatteryDriver` protocol, so they work unchanged on every
profile. Imports nothing from homeassistant.
"""

from abc import ABC, abstractmethod
from typing import ClassVar, Protocol

from ...engine.state import Measurements, Setpoints
from ..blocks import Block
from ..driver import Capabilities, DeviceInfo


class RegisterIO(Protocol):
    """Holding-register access the driver gives a profile (the driver's lock is held)."""

    @property
    def label(self) -> str:
        """host:port unit n, for error messages."""
        ...

    async def read_blocks(self, blocks: list[Block]) -> list[list[int]]:
        """FC3 reads, one request per block."""
        ...

    async def write_words(self, address: int, words: list[int]) -> None:
        """FC6 for one register, FC16 for more."""
        ...


class Profile(ABC):
    """One register map. Instances are cheap and hold only settings and what identify learned."""

    name: ClassVar[str]
    capabilities: Capabilities
    # Shortest time the device needs between two requests (s); the driver waits at least this long.
    min_request_gap_s: float = 0.0

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
