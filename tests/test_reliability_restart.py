"""Reliability: restarts at random instants, including in the middle of a write and of a safe stop.

A restart is Home Assistant unloading the entry and setting it up again from the stored data
(hass_storage keeps what the Store saved). After each one: the journal holds every record the
previous run had, once, in order; the dispatch gate, reconciliation switch and override are
those the user left; and the battery holds the desired state (or, with the gate closed, nothing
was written to it).
"""

import asyncio
from collections.abc import AsyncIterator
import random
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.controller import BatteryController
from custom_components.battery_steward.device.registers import MODE_CODES
from custom_components.battery_steward.device.simulator import SimulatedBattery

from .conftest import modbus_data
from .helpers import device_id, freeze_at, let_sockets_settle, setup_entry
from .support.battery import mismatches
from .support.fault_proxy import WRITE_CODES, Fault, FaultProxy
from .support.simclock import advance, settle
from .test_reliability_faults import DAY, ITEMS


@pytest.fixture
async def proxy(simulator: SimulatedBattery) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(simulator.port, seed=3) as running:
        yield running


def _ctl(entry: MockConfigEntry) -> BatteryController:
    return entry.runtime_data.controller  # type: ignore[no-any-return]


def _kept(ctl: BatteryController) -> dict[str, Any]:
    """What the user set and a restart must keep."""
    return {
        "dispatch": ctl.dispatch_enabled,
        "reconciliation": ctl.reconciliation_enabled,
        "override": ctl.override,
    }


async def _until_done(hass: HomeAssistant, freezer: FrozenDateTimeFactory, task: asyncio.Future[Any]) -> Any:
    """Move the clock a second at a time until the task is done (it may wait for timeouts)."""
    for _ in range(600):
        if task.done():
            return task.result()
        await advance(hass, freezer, 1)
    raise AssertionError("still not done after 10 simulated minutes")


async def _restarts(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    proxy: FaultProxy,
    *,
    count: int,
    seed: int,
) -> dict[str, int]:
    rng = random.Random(seed)
    await freeze_at(hass, freezer, DAY)
    entry = await setup_entry(
        hass, modbus_data(proxy.port), options={"poll_interval": 300}, items=ITEMS, wait="settle"
    )
    device = device_id(hass, entry)

    def call(service: str, **data: Any) -> asyncio.Task[Any]:
        return hass.async_create_task(
            hass.services.async_call(
                DOMAIN,
                service,
                {"device_id": device, **data},
                blocking=True,
                return_response=service == "safe_stop",
            )
        )

    kinds = {"idle": 0, "mid_write": 0, "mid_safe_stop": 0}
    for n in range(count):
        ctl = _ctl(entry)
        await advance(hass, freezer, rng.randrange(300, 3 * 3600, 300), step_s=300)
        # The user changes something now and then.
        choice = rng.random()
        if choice < 0.2:
            await call("set_override", reserve_pct=rng.randrange(10, 95, 5), until_cleared=True)
        elif choice < 0.35:
            await call("set_override", power_w=rng.randrange(-3000, 3000, 500), duration={"minutes": 90})
        elif choice < 0.5:
            await call("clear_override")
        elif choice < 0.6:
            await call("stop_reconciliation" if ctl.reconciliation_enabled else "start_reconciliation")
        await settle(hass)
        kind = list(kinds)[n % len(kinds)]
        kinds[kind] += 1
        pending: asyncio.Task[Any] | None = None
        if kind == "mid_write":
            # The write is on its way to the battery when Home Assistant stops.
            proxy.set_fault(Fault(kind="delay", delay_s=1.5, only=WRITE_CODES))
            held = simulator.read_register("mode")
            mode = rng.choice([m for m, code in MODE_CODES.items() if code != held])
            pending = call("set_override", mode=mode, until_cleared=True)
            await advance(hass, freezer, 1)
            assert not pending.done(), (proxy.stats, _ctl(entry).journal.last, mode, held)
        elif kind == "mid_safe_stop":
            # Power takes a while to fall: the safe stop is waiting when Home Assistant stops.
            await call("set_override", mode="force_discharge", power_w=3000, until_cleared=True)
            await settle(hass)
            pending = call("safe_stop", timeout_s=120, threshold_w=1)
            await advance(hass, freezer, 0.5, step_s=0.5)
        before = _ctl(entry)
        reload = hass.async_create_task(hass.config_entries.async_reload(entry.entry_id))
        assert await _until_done(hass, freezer, reload)
        proxy.clear()
        if pending is not None:
            # The command that was cut short ends (succeeded or refused), never hangs.
            try:
                await _until_done(hass, freezer, pending)
            except HomeAssistantError as err:
                refused = err
                assert refused.translation_key is not None, refused
        await settle(hass)
        await let_sockets_settle()
        after = _ctl(entry)
        assert after is not before
        journal_before = before.journal.as_list()
        journal_after = after.journal.as_list()
        assert journal_after[: len(journal_before)] == journal_before, f"restart {n} ({kind}) lost records"
        seqs = [r["seq"] for r in journal_after]
        assert seqs == sorted(set(seqs)), f"restart {n} ({kind}) duplicated records"
        assert _kept(after) == _kept(before), f"restart {n} ({kind})"
        if after.dispatch_enabled:
            assert not mismatches(after.desired_at(dt_util.utcnow()), simulator), f"restart {n} ({kind})"
        else:
            writes = simulator.write_count
            await advance(hass, freezer, 600, step_s=300)
            assert simulator.write_count == writes, "written to the battery with the gate closed"
            await call("restore")
            await settle(hass)
            assert not mismatches(after.desired_at(dt_util.utcnow()), simulator)
    await hass.config_entries.async_unload(entry.entry_id)
    await let_sockets_settle()
    return kinds


async def test_restarts_at_random_instants(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery, proxy: FaultProxy
) -> None:
    kinds = await _restarts(hass, freezer, simulator, proxy, count=3, seed=1)
    assert all(kinds.values()), kinds


@pytest.mark.long
async def test_many_restarts_at_random_instants(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery, proxy: FaultProxy
) -> None:
    kinds = await _restarts(hass, freezer, simulator, proxy, count=40, seed=2)
    assert min(kinds.values()) >= 5, kinds
