"""Modbus TCP driver for the Battery Steward register map (`steward` profile)."""

import asyncio
from collections.abc import Awaitable, Callable
import logging
from typing import Any, override

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ExceptionResponse, ModbusPDU

from ..engine.state import Limits, Measurements, Mode, Setpoints
from . import registers as r
from .blocks import Block, extract, plan_blocks
from .driver import (
    DeviceConnectionError,
    DeviceInfo,
    DeviceResponseError,
    UnsupportedDeviceError,
    check_limits,
)

_LOGGER = logging.getLogger(__name__)

PROFILE_STEWARD = "steward"
PROFILES = (PROFILE_STEWARD,)
DEFAULT_TIMEOUT_S = 3.0


class _OwnConnectFailures(logging.Filter):
    """Drop pymodbus's per-attempt "Failed to connect" warnings for the devices we drive.

    Our coordinator reports a lost device once and its return once; pymodbus would add a warning
    for every poll during an outage. Other users of pymodbus keep their warnings.
    """

    def __init__(self) -> None:
        super().__init__()
        self.addresses: set[tuple[str, int]] = set()

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith("Failed to connect"):
            return True
        return not any(f"'{host}', {port})" in message for host, port in self.addresses)


_CONNECT_FAILURES = _OwnConnectFailures()
logging.getLogger("pymodbus.logging").addFilter(_CONNECT_FAILURES)

_MODE_BY_CODE = {code: Mode(name) for name, code in r.MODE_CODES.items()}
_FIELD_REGISTERS: dict[str, r.Register] = {
    "mode": r.R_MODE,
    "reserve_pct": r.R_RESERVE,
    "power_w": r.R_POWER_SETPOINT,
    "reactive_var": r.R_REACTIVE_SETPOINT,
}


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
    """One connection and one I/O lock per device; polled values read as planned blocks."""

    def __init__(self, host: str, port: int, unit: int, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        """Nothing is sent until the first call."""
        self.host = host
        self.port = port
        self.unit = unit
        self._timeout = timeout
        # No automatic reconnect task: the next call reconnects on demand.
        self._client = AsyncModbusTcpClient(host, port=port, timeout=timeout, retries=0, reconnect_delay=0)
        self._lock = asyncio.Lock()
        _CONNECT_FAILURES.addresses.add((host, port))
        self._identity_blocks = plan_blocks(r.IDENTITY)
        # The map reserves 112..119 as readable zeros, so measurements and controls are one read.
        self._poll_blocks = plan_blocks(r.POLLED, max_gap=8)
        self._info: DeviceInfo | None = None

    @property
    def info(self) -> DeviceInfo | None:
        """Identification, once identify() has succeeded."""
        return self._info

    @property
    def poll_blocks(self) -> list[Block]:
        """The read requests one poll makes."""
        return list(self._poll_blocks)

    async def _call[T: ModbusPDU](self, request: Callable[[], Awaitable[T]]) -> T:
        """Connect if needed, send one request, map transport failures to typed errors."""
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
            raise DeviceConnectionError(
                f"{self.host}:{self.port} unit {self.unit}: {err or type(err).__name__}"
            ) from err
        if isinstance(response, ExceptionResponse) or response.isError():
            code = getattr(response, "exception_code", None)
            raise DeviceResponseError(
                f"{self.host}:{self.port} unit {self.unit} refused the request (exception {code})",
                code=code,
            )
        return response

    async def _read_blocks(self, blocks: list[Block]) -> list[list[int]]:
        data: list[list[int]] = []
        async with self._lock:
            for block in blocks:
                response = await self._call(
                    lambda b=block: self._client.read_holding_registers(  # type: ignore[misc]
                        b.start, count=b.count, device_id=self.unit
                    )
                )
                data.append(list(response.registers))
        return data

    async def identify(self) -> DeviceInfo:
        """Read identification and limits; refuse a device without our magic number."""
        data = await self._read_blocks(self._identity_blocks)

        def value(reg: r.Register) -> Any:
            return r.decode(reg, extract(self._identity_blocks, data, reg))

        if value(r.R_MAGIC) != r.MAGIC or value(r.R_MAP_VERSION) != r.MAP_VERSION:
            raise UnsupportedDeviceError(
                f"{self.host}:{self.port} unit {self.unit} is not a Battery Steward register map"
            )
        self._info = DeviceInfo(
            manufacturer="Battery Steward",
            model=str(value(r.R_MODEL)),
            serial=str(value(r.R_SERIAL)),
            firmware=str(value(r.R_FIRMWARE)),
            capacity_kwh=float(value(r.R_CAPACITY)),
            limits=Limits(
                max_charge_w=float(value(r.R_MAX_CHARGE)),
                max_discharge_w=float(value(r.R_MAX_DISCHARGE)),
                max_apparent_va=float(value(r.R_MAX_APPARENT)),
            ),
        )
        return self._info

    async def read(self) -> Measurements:
        """One poll: every measurement and control value, in planned blocks."""
        data = await self._read_blocks(self._poll_blocks)
        values = {reg.name: r.decode(reg, extract(self._poll_blocks, data, reg)) for reg in r.POLLED}
        mode_code = int(values["mode"])
        if mode_code not in _MODE_BY_CODE:
            raise DeviceResponseError(f"unknown mode code {mode_code}")
        return Measurements(
            soc_pct=float(values["soc_pct"]),
            active_power_w=float(values["active_power_w"]),
            reactive_power_var=float(values["reactive_power_var"]),
            mode=_MODE_BY_CODE[mode_code],
            reserve_pct=float(values["reserve_pct"]),
            power_setpoint_w=float(values["power_setpoint_w"]),
            reactive_setpoint_var=float(values["reactive_setpoint_var"]),
            enabled=bool(values["enabled"]),
            voltage_v=float(values["voltage_v"]),
            temperature_c=float(values["temperature_c"]),
            charge_energy_kwh=float(values["charge_energy_kwh"]),
            discharge_energy_kwh=float(values["discharge_energy_kwh"]),
        )

    async def write(self, setpoints: Setpoints) -> None:
        """Write the fields set, after checking every one against the device's limits."""
        info = self._info or await self.identify()
        check_limits(setpoints, info.limits)
        writes: list[tuple[r.Register, float]] = []
        for field, reg in _FIELD_REGISTERS.items():
            value = getattr(setpoints, field)
            if value is None:
                continue
            writes.append((reg, r.MODE_CODES[value] if field == "mode" else value))
        await self._write_registers(writes)

    async def set_enabled(self, enabled: bool) -> None:
        """Enable or disable the plant."""
        await self._write_registers([(r.R_ENABLE, int(enabled))])

    async def _write_registers(self, writes: list[tuple[r.Register, float]]) -> None:
        async with self._lock:
            for reg, value in writes:
                words = r.encode(reg, value)
                if len(words) == 1:
                    await self._call(
                        lambda a=reg.address, w=words[0]: self._client.write_register(  # type: ignore[misc]
                            a, w, device_id=self.unit
                        )
                    )
                else:
                    await self._call(
                        lambda a=reg.address, w=words: self._client.write_registers(  # type: ignore[misc]
                            a, w, device_id=self.unit
                        )
                    )

    async def close(self) -> None:
        """Close the connection; safe to call twice."""
        self._client.close()
        _CONNECT_FAILURES.addresses.discard((self.host, self.port))
