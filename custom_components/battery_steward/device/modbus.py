"""Modbus TCP driver: one connection and one I/O lock per device, any register-map profile."""

import asyncio
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
import logging
from typing import Any, override

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ExceptionResponse, ModbusPDU

from ..engine.state import Measurements, Setpoints
from .blocks import Block
from .driver import (
    DeviceConnectionError,
    DeviceInfo,
    DeviceResponseError,
    MalformedReplyError,
)
from .profiles import Profile, StewardProfile

_LOGGER = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 3.0
READ_HOLDING, READ_INPUT = 3, 4


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


class _UndecodableError(Exception):
    """A reply pymodbus could not decode (e.g. a byte count larger than the data)."""


def _fail_undecodable(ctx: Any) -> None:
    """Make an undecodable reply fail the request waiting for it, instead of a traceback.

    pymodbus raises from inside the transport's data_received: asyncio logs "Fatal error" with a
    traceback and the request waits for its timeout. Here the reply is dropped and the waiting
    request fails at once with _UndecodableError.
    """
    decode = ctx.callback_data

    def callback_data(data: bytes, addr: tuple[str, int] | None = None) -> int:
        try:
            return int(decode(data, addr=addr))
        except ModbusException as err:
            if not ctx.response_future.done():
                ctx.response_future.set_exception(_UndecodableError(str(err)))
            return len(data)

    ctx.callback_data = callback_data


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
        min_request_gap_s: float = 0.0,
    ) -> None:
        """Nothing is sent until the first call; the steward map unless a profile is given.

        min_request_gap_s is the minimum delay between requests; the profile may ask for more.
        """
        self.host = host
        self.min_request_gap_s = min_request_gap_s
        self._last_request: float | None = None  # loop time the last reply (or failure) came
        self.port = port
        self.unit = unit
        self.profile = profile or StewardProfile()
        self._timeout = timeout
        # No automatic reconnect task: the next call reconnects on demand.
        self._client = AsyncModbusTcpClient(host, port=port, timeout=timeout, retries=0, reconnect_delay=0)
        _fail_undecodable(self._client.ctx)
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
            await self._pace()
            try:
                # pymodbus bounds the request by the timeout (retries=0): no timer of our own.
                response = await _cancellable(request)
            finally:
                self._last_request = asyncio.get_running_loop().time()
        except _UndecodableError as err:
            self._client.close()  # what follows on this stream cannot be trusted either
            raise MalformedReplyError(f"{self.label} sent a reply that cannot be decoded: {err}") from err
        except (ModbusException, OSError, TimeoutError) as err:
            # Drop the connection: the next call starts from a clean socket.
            self._client.close()
            raise DeviceConnectionError(f"{self.label}: {err or type(err).__name__}") from err
        if isinstance(response, ExceptionResponse) or response.isError():
            code = getattr(response, "exception_code", None)
            raise DeviceResponseError(f"{self.label} refused the request (exception {code})", code=code)
        return response

    async def _pace(self) -> None:
        """Wait until the minimum delay between requests has passed since the previous reply."""
        gap = max(self.min_request_gap_s, self.profile.min_request_gap_s)
        loop = asyncio.get_running_loop()
        if gap and self._last_request is not None and (wait := self._last_request + gap - loop.time()) > 0:
            await asyncio.sleep(wait)

    async def read_blocks(self, blocks: list[Block]) -> list[list[int]]:
        """One read per block: FC3, or FC4 for input registers; at the block's unit id if it has one.

        (RegisterIO; the caller holds the lock.)
        """
        data: list[list[int]] = []
        for block in blocks:
            read = self._client.read_input_registers if block.input else self._client.read_holding_registers
            unit = self.unit if block.unit is None else block.unit
            response = await self._call(
                lambda b=block, read=read, unit=unit: read(b.start, count=b.count, device_id=unit)  # type: ignore[misc]
            )
            registers = list(response.registers)
            expected = READ_INPUT if block.input else READ_HOLDING
            if response.function_code != expected or len(registers) != block.count:
                raise MalformedReplyError(
                    f"{self.label} answered a read of {block.count} registers at {block.start} with "
                    f"{len(registers)} registers under function code {response.function_code}"
                )
            data.append(registers)
        return data

    async def write_words(self, address: int, words: list[int]) -> None:
        """FC6 for one register, FC16 for more (always FC16 for an `fc16_only` profile).

        At the unit id the profile gives the register (RegisterIO; the caller holds the lock).
        """
        unit = self.profile.unit_for(address)
        device_id = self.unit if unit is None else unit
        if len(words) == 1 and not self.profile.fc16_only:
            await self._call(lambda: self._client.write_register(address, words[0], device_id=device_id))
        else:
            await self._call(lambda: self._client.write_registers(address, words, device_id=device_id))

    async def identify(self) -> DeviceInfo:
        """Read identification and limits; refuse a device the profile does not recognise."""
        async with self._lock:
            self._info = await self.profile.identify(self)
        return self._info

    async def read(self) -> Measurements:
        """One poll: every measurement and control value, in planned blocks."""
        async with self._lock:
            measurements = await self.profile.read(self)
            # Devices whose remote control times out are kept alive from the poll (profiles.base).
            await self.profile.keep_alive(self)
            return measurements

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
