"""A fault-injecting Modbus TCP proxy on loopback, between the driver and the simulator.

The proxy reads whole Modbus TCP frames (MBAP header + PDU) from the client and, request by
request, applies the fault the test has set:

- ``none``: forward the request, relay the response.
- ``delay``: wait ``delay_s`` (event-loop time, so frozen time delays too), then forward.
- ``drop``: swallow the request; the client hears nothing and times out.
- ``disconnect``: forward the request, let the device act on it, then close the client's
  connection before the response reaches it (a write that landed but was never confirmed).
- ``exception``: answer with a Modbus exception response (``code``) without forwarding.
- ``garbage``: answer with random bytes (seeded) without forwarding.
- ``outage``: close every connection and accept none (the device is gone).
- ``short``: forward a read and relay its response with only half the registers asked for.
- ``lying``: forward a read and relay its response with a byte count larger than the data.
- ``foreign``: forward a read and relay its response under another function code (4 for 3).

``only`` limits the fault to some function codes (e.g. writes), the rest pass through.
Every request seen and every fault applied is counted, so tests can check a fault really happened.
"""

import asyncio
import contextlib
from dataclasses import dataclass, field
import random
import struct
from typing import Literal, Self

FaultKind = Literal[
    "none", "delay", "drop", "disconnect", "exception", "garbage", "outage", "short", "lying", "foreign"
]
FAULT_KINDS: tuple[FaultKind, ...] = ("delay", "drop", "disconnect", "exception", "garbage", "outage")
# Well-framed replies whose content is wrong (a device or gateway bug, not a transport fault).
MALFORMED_KINDS: tuple[FaultKind, ...] = ("short", "lying", "foreign")
READ_CODES = frozenset({3, 4})
WRITE_CODES = frozenset({6, 16, 23})
_MBAP = struct.Struct(">HHHB")  # transaction id, protocol id, length (unit + PDU), unit id


@dataclass(frozen=True, kw_only=True, slots=True)
class Fault:
    """What to do with the requests that match ``only`` (all requests when None)."""

    kind: FaultKind = "none"
    delay_s: float = 2.0
    code: int = 4  # SERVER_DEVICE_FAILURE
    only: frozenset[int] | None = None

    def applies_to(self, function_code: int) -> bool:
        """Whether a request with this function code gets the fault."""
        return self.kind != "none" and (self.only is None or function_code in self.only)


NO_FAULT = Fault()


@dataclass(kw_only=True, slots=True)
class ProxyStats:
    """Counts for assertions."""

    connections: int = 0
    requests: int = 0
    forwarded: int = 0
    faulted: dict[str, int] = field(default_factory=dict)


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    header = await reader.readexactly(_MBAP.size)
    _tid, _proto, length, _unit = _MBAP.unpack(header)
    return header + await reader.readexactly(max(0, length - 1))


def _malformed(kind: FaultKind, response: bytes) -> bytes:
    """A read response (MBAP + function code + byte count + data) made wrong in one way."""
    tid, proto, _length, unit = _MBAP.unpack(response[: _MBAP.size])
    function_code, byte_count = response[_MBAP.size], response[_MBAP.size + 1]
    data = response[_MBAP.size + 2 :]
    if kind == "short":
        byte_count = byte_count // 4 * 2  # half the registers, framed correctly
        data = data[:byte_count]
    elif kind == "lying":
        byte_count += 4  # claims two registers more than follow
    else:
        function_code = 4 if function_code == 3 else 3
    pdu = bytes([function_code, byte_count]) + data
    return _MBAP.pack(tid, proto, len(pdu) + 1, unit) + pdu


class FaultProxy:
    """Listens on 127.0.0.1 at a port the OS chooses; forwards to ``target_port`` on loopback."""

    def __init__(self, target_port: int, *, target_host: str = "127.0.0.1", seed: int = 0) -> None:
        """Nothing listens until start()."""
        self.target_host = target_host
        self.target_port = target_port
        self.fault = NO_FAULT
        self.stats = ProxyStats()
        self._random = random.Random(seed)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The port the driver should connect to."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Listen on loopback only."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def __aenter__(self) -> Self:
        """Start."""
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop."""
        await self.stop()

    def set_fault(self, fault: Fault) -> None:
        """Apply a fault from the next request on; an outage also cuts existing connections."""
        self.fault = fault
        if fault.kind == "outage":
            self.drop_connections()

    def clear(self) -> None:
        """Back to a transparent proxy."""
        self.fault = NO_FAULT

    def drop_connections(self) -> None:
        """Close every client connection (the driver reconnects on its next request)."""
        for writer in list(self._writers):
            writer.close()

    async def stop(self) -> None:
        """Close the listener and every connection."""
        if self._server is not None:
            self._server.close()
        self.drop_connections()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def _count(self, kind: str) -> None:
        self.stats.faulted[kind] = self.stats.faulted.get(kind, 0) + 1

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        self.stats.connections += 1
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            if self.fault.kind == "outage":
                self._count("outage")
                return
            while True:
                request = await _read_frame(reader)
                self.stats.requests += 1
                function_code = request[_MBAP.size] if len(request) > _MBAP.size else 0
                fault = self.fault if self.fault.applies_to(function_code) else NO_FAULT
                if fault.kind == "outage":
                    self._count("outage")
                    return
                if fault.kind == "drop":
                    self._count("drop")
                    continue
                if fault.kind == "exception":
                    self._count("exception")
                    tid, proto, _length, unit = _MBAP.unpack(request[: _MBAP.size])
                    writer.write(_MBAP.pack(tid, proto, 3, unit) + bytes([function_code | 0x80, fault.code]))
                    await writer.drain()
                    continue
                if fault.kind == "garbage":
                    self._count("garbage")
                    size = self._random.randint(1, 20)
                    writer.write(bytes(self._random.randrange(256) for _ in range(size)))
                    await writer.drain()
                    continue
                if fault.kind == "delay":
                    self._count("delay")
                    await asyncio.sleep(fault.delay_s)
                if upstream is None:
                    upstream = await asyncio.open_connection(self.target_host, self.target_port)
                upstream[1].write(request)
                await upstream[1].drain()
                response = await _read_frame(upstream[0])
                self.stats.forwarded += 1
                if fault.kind == "disconnect":
                    self._count("disconnect")
                    return  # the device acted; the client never hears of it
                if fault.kind in MALFORMED_KINDS and function_code in READ_CODES:
                    self._count(fault.kind)
                    response = _malformed(fault.kind, response)
                writer.write(response)
                await writer.drain()
        except asyncio.IncompleteReadError, ConnectionError, OSError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            if upstream is not None:
                upstream[1].close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._handlers.discard(task)
