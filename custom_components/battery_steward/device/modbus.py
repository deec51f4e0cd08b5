"""Modbus TCP driver: one connection and one I/O lock per device, any register-map profile."""

import asyncio
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
import logging
from typing import override

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ExceptionResponse, ModbusPDU

from ..engine.state import Measurements, Setpoints
from .blocks import Block
from .driver import (
    DeviceConnectionError,
    DeviceInfo,
    DeviceResponseError,
)
from .profiles import Profile, StewardProfile

_LOGGER = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 3.0


_IN_DRIVER: ContextVar[bool] = ContextVar("battery_steward_modbus_call", default=False)


class _QuietPymodbus(logging.Filter):
    """Keep pymodbus's own lines about the devices we drive out of the user's log.

    Our coordinator reports a lost device once and its return once; pymodbus would add a warning
    for every poll during an outage ("Failed to connect ...", then its "Repeating...."). A record
    is ours when it is logged inside one of our calls (a context variable) or names one of our
    addresses; pymodbus's "Repeating...." repeats the line before it, so it follows that line's
    fate. With debug logging turned on for pymodbus (manifest "loggers"), everything shows.
    Other users of pymodbus keep their warnings.
    """

    def __init__(self) -> None:
        super().__init__()
        self.addresses: set[tuple[str, int]] = set()
        self._dropped_last = False

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        if logging.getLogger("pymodbus").isEnabledFor(logging.DEBUG):
            return True
        message = record.getMessage()
        if message == "Repeating....":
            return not self._dropped_last
        self._dropped_last = _IN_DRIVER.get() or any(
            f"'{host}', {port})" in message for host, port in self.addresses
        )
        return not self._dropped_last


_QUIET = _QuietPymodbus()
logging.getLogger("pymodbus.logging").addFilter(_QUIET)


async def _cancellable[T](request: Callable[[], Awaitable[T]]) -> T:
    """Await a pymodbus request, letting cancellation through.

    pymodbus turns a cancelled request into ModbusIOException("Request cancelled outside library"),
    which would swallow the cancellation of whoever awaited us: a stopped task would go on running,
    and our own timeout would never fire. Re-raise it as the CancelledError it was.
    """
    try:
        return await request()
    except ModbusException as err:
        if isinstance(err.__cause__, asyncio.CancelledError):
            raise asyncio.CancelledError(*err.__cause__.args) from err
        raise


class ModbusBatteryDriver:
    """One connection and one I/O lock per device; the profile says what the registers mean."""

    def __init__(
        self,
        host: str,
        port: int,
        unit: int,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        profile: Profile | None = None,
    ) -> None:
        """Nothing is sent until the first call; the steward map unless a profile is given."""
        self.host = host
        self.port = port
        self.unit = unit
        self.profile = profile or StewardProfile()
        self._timeout = timeout
        # No automatic reconnect task: the next call reconnects on demand.
        self._client = AsyncModbusTcpClient(host, port=port, timeout=timeout, retries=0, reconnect_delay=0)
        self._lock = asyncio.Lock()
        _QUIET.addresses.add((host, port))
        self._info: DeviceInfo | None = None

    @property
    def info(self) -> DeviceInfo | None:
        """Identification, once identify() has succeeded."""
        return self._info

    @property
    def label(self) -> str:
        """host:port unit n."""
        return f"{self.host}:{self.port} unit {self.unit}"

    async def _call[T: ModbusPDU](self, request: Callable[[], Awaitable[T]]) -> T:
        """Connect if needed, send one request, map transport failures to typed errors."""
        _IN_DRIVER.set(True)  # this task's context only: pymodbus's lines from here are ours
        try:
            if not self._client.connected:
                # The transport's connect, without the client's fixed 100 ms sleep after it.
                await asyncio.wait_for(self._client.ctx.connect(), self._timeout)
                if not self._client.connected:
                    raise DeviceConnectionError(f"cannot connect to {self.host}:{self.port}")
            response = await asyncio.wait_for(_cancellable(request), self._timeout * 2)
        except (ModbusException, OSError, TimeoutError) as err:
            # Drop the connection: the next call starts from a clean socket.
            self._client.close()
            raise DeviceConnectionError(f"{self.label}: {err or type(err).__name__}") from err
        if isinstance(response, ExceptionResponse) or response.isError():
            code = getattr(response, "exception_code", None)
            raise DeviceResponseError(f"{self.label} refused the request (exception {code})", code=code)
        return response

    async def read_blocks(self, blocks: list[Block]) -> list[list[int]]:
        """FC3 reads, one per block (RegisterIO; the caller holds the lock)."""
        data: list[list[int]] = []
        for block in blocks:
            response = await self._call(
                lambda b=block: self._client.read_holding_registers(  # type: ignore[misc]
                    b.start, count=b.count, device_id=self.unit
                )
            )
            data.append(list(response.registers))
        return data

    async def write_words(self, address: int, words: list[int]) -> None:
        """FC6 for one register, FC16 for more (RegisterIO; the caller holds the lock)."""
        if len(words) == 1:
            await self._call(lambda: self._client.write_register(address, words[0], device_id=self.unit))
        else:
            await self._call(lambda: self._client.write_registers(address, words, device_id=self.unit))

    async def identify(self) -> DeviceInfo:
        """Read identification and limits; refuse a device the profile does not recognise."""
        async with self._lock:
            self._info = await self.profile.identify(self)
        return self._info

    async def read(self) -> Measurements:
        """One poll: every measurement and control value, in planned blocks."""
        async with self._lock:
            return await self.profile.read(self)

    async def write(self, setpoints: Setpoints) -> None:
        """Write the fields set, after checking every one against the device's abilities and limits."""
        info = self._info or await self.identify()
        info.check(setpoints)
        async with self._lock:
            await self.profile.write(self, setpoints, info)

    async def set_enabled(self, enabled: bool) -> None:
        """Enable or disable the plant; a no-op on a profile that cannot."""
        async with self._lock:
            await self.profile.set_enabled(self, enabled)

    async def close(self) -> None:
        """Close the connection; safe to call twice."""
        self._client.close()
        _QUIET.addresses.discard((self.host, self.port))
