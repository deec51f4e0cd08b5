"""The simulated battery as a Modbus TCP server: a profile's register map over a BatteryModel."""

import asyncio
from collections.abc import Callable
import contextlib
from dataclasses import dataclass
import logging
import time
from types import TracebackType
from typing import Self

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from pymodbus.simulator.simcore import SimCore

from .. import registers as r
from .physics import BatteryModel, SimConfig
from .presentation import REGISTERS_BY_NAME, Image, Presentation, StewardPresentation, apply, valid

_LOGGER = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_UNIT = 1
DEFAULT_TICK_S = 1.0

_READ_CODES = frozenset({3, 4})  # holding, input: which one a register answers is the presentation's
_WRITE_CODES = frozenset({6, 16, 23})  # 23 = read/write multiple; its read half arrives as a read


@dataclass(frozen=True, kw_only=True, slots=True)
class WriteRecord:
    """One accepted Modbus write of one register value, stamped with the simulator's clock."""

    time: float
    name: str
    value: float


class SimulatedBattery:
    """A battery answering Modbus TCP; physics advance with the clock on every access and every tick.

    The clock is injectable so tests can move time by hand instead of sleeping.
    """

    def __init__(
        self,
        config: SimConfig,
        *,
        unit: int = DEFAULT_UNIT,
        clock: Callable[[], float] = time.monotonic,
        tick_s: float = DEFAULT_TICK_S,
        on_write: Callable[[WriteRecord], None] | None = None,
        presentation: Presentation | None = None,
        on_read: Callable[[int], None] | None = None,
    ) -> None:
        """The steward register map unless another presentation (profile) is given.

        on_write is called with every accepted write; on_read with the address of every read request.
        """
        if not 1 <= unit <= 247:
            raise ValueError("unit must be within 1..247 (0 is the catch-all for wrong ids)")
        self._config = config
        self._model = BatteryModel(config)
        self._unit = unit
        self._clock = clock
        self._tick_s = tick_s
        self.on_write = on_write
        self.on_read = on_read
        self.writes_log: list[WriteRecord] = []
        self.write_count = 0  # Modbus write requests received, accepted or not
        self.refused_count = 0  # of those, refused with an exception
        self.write_counts: dict[str, int] = {}  # accepted writes per register name
        self.read_count = 0  # Modbus read requests received
        self.connection_count = 0  # TCP connections accepted
        self.busy_count = 0  # requests refused because they came too soon after the previous one
        self._last_request: float | None = None  # time.monotonic() of the last request (pacing)
        self._last = clock()
        self._presentation = presentation or StewardPresentation()
        self._image = Image(*self._presentation.span(config))
        self._presentation.identify(config, self._image)
        self._render()
        self._server: ModbusTcpServer | None = None
        self._tick_task: asyncio.Task[None] | None = None
        self._port: int | None = None

    # Public API ---------------------------------------------------------------------------------

    @property
    def model(self) -> BatteryModel:
        """The physics behind the registers, for tests and fault injection."""
        return self._model

    @property
    def config(self) -> SimConfig:
        """The configuration the battery was built with."""
        return self._config

    @property
    def presentation(self) -> Presentation:
        """The register map the battery presents."""
        return self._presentation

    @property
    def unit(self) -> int:
        """The Modbus device id the battery answers to."""
        return self._unit

    @property
    def port(self) -> int:
        """The TCP port the server is bound to."""
        if self._port is None:
            raise RuntimeError("simulator not started")
        return self._port

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return self._server is not None

    @property
    def request_count(self) -> int:
        """Modbus reads and writes received."""
        return self.read_count + self.write_count

    async def start(self, host: str = DEFAULT_HOST, port: int = 0) -> None:
        """Listen on host:port (port 0 lets the OS choose) and start the physics tick."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        self.sync()
        server = ModbusTcpServer(
            context=[
                SimDevice(id=self._unit, simdata=self._simdata(), action=self._action),
                # Catch-all for every other id: a clean exception instead of a KeyError traceback.
                SimDevice(
                    id=0,
                    simdata=[SimData(address=0, count=0x10000, datatype=DataType.REGISTERS)],
                    action=_no_such_device,
                ),
            ],
            address=(host, port),
        )
        accept = server.callback_new_connection

        def new_connection() -> object:
            self.connection_count += 1
            self.sync()
            self._presentation.on_connect(self._model)
            self._render()
            return accept()  # type: ignore[no-untyped-call]

        server.callback_new_connection = new_connection  # type: ignore[method-assign]
        await server.serve_forever(background=True)
        context, transport = server.context, server.transport
        if not isinstance(context, SimCore) or not isinstance(transport, asyncio.Server):  # pragma: no cover
            await _shutdown(server)
            raise TypeError("unexpected pymodbus server internals")
        start_address, _, live, _ = context.devices[self._unit].block["x"]
        image = self._image
        if start_address != image.base or len(live) < len(image.words):  # pragma: no cover - pymodbus layout
            await _shutdown(server)
            raise RuntimeError("unexpected pymodbus register layout")
        # From here on the server's own register list is the image, so what clients read is ours.
        live[: len(image.words)] = image.words
        image.words = live
        self._server = server
        self._port = int(transport.sockets[0].getsockname()[1])
        self._tick_task = asyncio.create_task(self._tick_loop(), name=f"battery-sim-{self._config.serial}")
        _LOGGER.debug(
            "Simulated battery %s (%s) listening on %s:%s, unit %s",
            self._config.serial,
            self._config.model,
            host,
            self._port,
            self._unit,
        )

    async def stop(self) -> None:
        """Stop the tick and the server; safe to call twice."""
        if self._tick_task is not None:
            self._tick_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick_task
            self._tick_task = None
        if self._server is not None:
            await _shutdown(self._server)
            self._server = None

    async def __aenter__(self) -> Self:
        """Start on loopback at an OS-chosen port unless already started."""
        if self._server is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop."""
        await self.stop()

    def sync(self) -> None:
        """Advance the physics to the clock's now and refresh the registers."""
        now = self._clock()
        if (dt := now - self._last) > 0:
            self._model.advance(dt)
            self._last = now
        self._render()

    def read_register(self, name: str) -> float | str:
        """The value a Modbus client would read now (steward map register names)."""
        if self._presentation.name != StewardPresentation.name:
            raise ValueError(
                f"read_register reads the steward map; this battery presents {self._presentation.name}"
            )
        reg = REGISTERS_BY_NAME[name]
        self.sync()
        return r.decode(reg, self._words(reg))

    def set_control(self, name: str, value: float) -> None:
        """Change a control as someone outside the integration would (e.g. the vendor app).

        Works the same whatever the presentation: `name` is a steward map control (mode codes of
        registers.py). Not counted as a Modbus write. Raises ValueError for a read-only register
        or a bad value.
        """
        reg = REGISTERS_BY_NAME[name]
        if not reg.writable:
            raise ValueError(f"{name} is read-only")
        coded = round(value)
        if coded != value or not valid(self._config, reg, coded):
            raise ValueError(f"{value!r} is not a valid {name}")
        self.sync()
        apply(self._model, reg, coded)
        self._render()

    # Modbus -------------------------------------------------------------------------------------

    async def _action(  # noqa: PLR0917 - pymodbus SimAction signature
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        current_registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """Called by pymodbus before every read and write of our unit."""
        del start_address, current_registers  # the registers are our image
        self.sync()
        if (set_values is not None or function_code in _READ_CODES) and self._too_soon():
            return ExcCodes.DEVICE_BUSY
        if set_values is None:
            if function_code in _READ_CODES and self._presentation.read_allowed(
                function_code, address, count
            ):
                self.read_count += 1
                if self.on_read is not None:
                    self.on_read(address)
                return None
            # The echo read pymodbus does after a write, or the read half of FC23.
            return None if function_code in _WRITE_CODES else ExcCodes.ILLEGAL_FUNCTION
        if function_code not in _WRITE_CODES:
            return ExcCodes.ILLEGAL_FUNCTION
        self.write_count += 1
        if (refusal := self._write(address, [int(v) for v in set_values])) is not None:
            self.refused_count += 1
            _LOGGER.debug("Refused write of %s at %s: %s", list(set_values), address, refusal.name)
            return refusal
        return None

    def _too_soon(self) -> bool:
        """Whether this request came sooner after the previous one than the device can take."""
        gap = self._presentation.min_request_gap_s
        now = time.monotonic()  # real time: pacing is about the wire, not the physics clock
        too_soon = bool(gap) and self._last_request is not None and now - self._last_request < gap
        self._last_request = now
        if too_soon:
            self.busy_count += 1
        return too_soon

    def _write(self, address: int, values: list[int]) -> ExcCodes | None:
        """Validate a write as a whole and apply it to the model; None when accepted."""
        result = self._presentation.write(self._model, self._image, address, values)
        if isinstance(result, ExcCodes):
            return result
        now = self._clock()
        for name, value in result:
            self.write_counts[name] = self.write_counts.get(name, 0) + 1
            record = WriteRecord(time=now, name=name, value=value)
            self.writes_log.append(record)
            if self.on_write is not None:
                self.on_write(record)
        self._render()
        return None

    # Registers ----------------------------------------------------------------------------------

    def _render(self) -> None:
        """Write the model's measurements and controls into the registers."""
        self._presentation.render(self._model, self._image)

    def _words(self, reg: r.Register) -> list[int]:
        return self._image.get(reg.address, reg.count)

    def _simdata(self) -> list[SimData]:
        """The register layout for pymodbus: the presentation's regions, gaps invalid."""
        return [
            SimData(
                address=region.address,
                values=self._image.get(region.address, region.count),
                datatype=DataType.UINT16,
                readonly=not region.writable,
            )
            for region in self._presentation.regions(self._config)
        ]

    async def _tick_loop(self) -> None:
        """Keep SoC moving while nobody polls."""
        while True:
            await asyncio.sleep(self._tick_s)
            self.sync()


async def _shutdown(server: ModbusTcpServer) -> None:
    await server.shutdown()  # type: ignore[no-untyped-call]


async def _no_such_device(  # noqa: PLR0917 - pymodbus SimAction signature
    function_code: int,
    start_address: int,
    address: int,
    count: int,
    current_registers: list[int],
    set_values: list[int] | list[bool] | None,
) -> ExcCodes:
    """Every request to an id we are not: gateway target did not respond."""
    del function_code, start_address, address, count, current_registers, set_values
    return ExcCodes.GATEWAY_NO_RESPONSE
