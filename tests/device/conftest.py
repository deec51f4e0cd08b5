"""Fixtures for simulator tests: a hand-driven clock, started batteries and connected clients."""

from collections.abc import AsyncIterator, Awaitable, Callable

from pymodbus.client import AsyncModbusTcpClient
import pytest

from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery


class FakeClock:
    """A clock that only moves when told, so physics are deterministic."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


type BatteryFactory = Callable[..., Awaitable[SimulatedBattery]]
type ClientFactory = Callable[[SimulatedBattery], Awaitable[AsyncModbusTcpClient]]


@pytest.fixture
def clock() -> FakeClock:
    """A fresh fake clock."""
    return FakeClock()


@pytest.fixture
async def make_battery(clock: FakeClock) -> AsyncIterator[BatteryFactory]:
    """Start simulated batteries on 127.0.0.1 (fake clock, no noise unless overridden); stop them all."""
    started: list[SimulatedBattery] = []

    async def factory(
        unit: int = 1, clock_fn: Callable[[], float] | None = None, **config: object
    ) -> SimulatedBattery:
        cfg = SimConfig(**{"serial": "SIM-T0001", "noise_w": 0.0, **config})  # type: ignore[arg-type]
        battery = SimulatedBattery(cfg, unit=unit, clock=clock_fn or clock)
        await battery.start(host="127.0.0.1", port=0)
        started.append(battery)
        return battery

    yield factory
    for battery in started:
        await battery.stop()


@pytest.fixture
async def connect() -> AsyncIterator[ClientFactory]:
    """Connect pymodbus clients to batteries; close them all."""
    clients: list[AsyncModbusTcpClient] = []

    async def factory(battery: SimulatedBattery) -> AsyncModbusTcpClient:
        client = AsyncModbusTcpClient("127.0.0.1", port=battery.port, timeout=3, retries=0)
        assert await client.connect()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()
