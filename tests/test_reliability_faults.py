"""Reliability: a simulated day through a fault-injecting proxy between the driver and the battery.

Every planned change must land at its instant, or, when a fault hides the battery then, within
one poll after the fault clears. Nothing may be logged as an unhandled exception; the battery's
reading entities go unavailable during an outage and come back after; the coordinator reports
the loss once and the return once.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
import logging
import random
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.controller import BatteryController
from custom_components.battery_steward.device.simulator import SimulatedBattery

from .conftest import modbus_data
from .helpers import cron_item, entity_id, freeze_at, let_sockets_settle, setup_entry, window_item
from .support.battery import mismatches
from .support.fault_proxy import (
    FAULT_KINDS,
    MALFORMED_KINDS,
    READ_CODES,
    WRITE_CODES,
    Fault,
    FaultKind,
    FaultProxy,
)
from .support.simclock import advance

PARIS = ZoneInfo("Europe/Paris")
DAY = datetime(2026, 6, 1, 0, 0, tzinfo=PARIS)  # a Monday

ITEMS: list[dict[str, Any]] = [
    cron_item("Midnight base", "0 0 * * *", mode="auto", reserve_pct=20, power_w=0),
    window_item("Morning reserve", "06:00:00", "08:00:00", reserve_pct=80),
    window_item("Solar charge", "10:00:00", "12:00:00", mode="force_charge", power_w=-2000),
    cron_item("Afternoon reserve", "30 13 * * *", reserve_pct=40),
    window_item("Evening peak", "17:00:00", "20:00:00", mode="force_discharge", power_w=2500),
    cron_item("Night reserve", "0 22 * * *", reserve_pct=25),
]

# Faults that stop the battery from being read: its reading entities must go unavailable.
BLINDING = {"drop", "disconnect", "exception", "garbage", "outage"}


@dataclass(frozen=True, kw_only=True, slots=True)
class FaultWindow:
    """A fault from `start` to `end` (UTC)."""

    fault: Fault
    start: datetime
    end: datetime

    @property
    def blinding(self) -> bool:
        return self.fault.kind in BLINDING and self.fault.only is None


@pytest.fixture
async def proxy(simulator: SimulatedBattery) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(simulator.port, seed=8) as running:
        yield running


async def _setup(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, proxy: FaultProxy, poll_s: int
) -> MockConfigEntry:
    await freeze_at(hass, freezer, DAY)
    return await setup_entry(
        hass, modbus_data(proxy.port), options={"poll_interval": poll_s}, items=ITEMS, wait="settle"
    )


def _unhandled(records: list[logging.LogRecord]) -> list[str]:
    """Records that show an exception nobody handled."""
    markers = ("Unexpected error", "Error doing job", "Task exception was never retrieved", "Traceback")
    return [
        f"{rec.name}: {rec.getMessage()}"
        for rec in records
        if (rec.exc_info and rec.levelno >= logging.WARNING) or any(m in rec.getMessage() for m in markers)
    ]


async def _run_day(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    simulator: SimulatedBattery,
    proxy: FaultProxy,
    *,
    poll_s: int,
    days: int,
    windows_for: Any,
) -> None:
    caplog.set_level(logging.INFO, logger="custom_components.battery_steward")
    entry = await _setup(hass, freezer, proxy, poll_s)
    ctl: BatteryController = entry.runtime_data.controller
    soc = entity_id(hass, "sensor", "state_of_charge")
    start = datetime.now(PARIS)
    changes = ctl.changes_between(start, start + timedelta(days=days))
    assert len(changes) >= 8 * days
    windows: list[FaultWindow] = windows_for([at for at, _ in changes])
    coarse = timedelta(seconds=poll_s)
    fine = coarse / 5
    # Far from any fault, three polls at a time (the planned changes are on that grid too).
    stride = coarse * 3 if all((at - start) % (coarse * 3) == timedelta(0) for at, _ in changes) else coarse
    # One poll after the fault clears, plus the granularity we observe at.
    deadline_after_clear = coarse + fine
    latest: dict[datetime, datetime] = {}  # change instant -> latest instant it may land
    verified: dict[datetime, datetime] = {}  # change instant -> first quiet instant it was seen held
    seen_unavailable: set[int] = set()
    now = start
    # Run on until the last fault has cleared and a poll has followed.
    end = max(start + timedelta(days=days), *(w.end + deadline_after_clear + coarse for w in windows))
    while now < end:
        near = any(w.start - stride <= now < w.end + deadline_after_clear for w in windows)
        # Coarse steps stay on the poll grid, where the planned changes are.
        step = fine if near else stride - (now - start) % stride
        now += step
        active = [i for i, w in enumerate(windows) if w.start <= now < w.end]
        proxy.set_fault(windows[active[0]].fault if active else Fault())
        seconds = step.total_seconds()
        if active and windows[active[0]].fault.kind == "delay":
            # A late answer and the request's timeout must not fall due in the same clock jump:
            # walk the first seconds after each poll one at a time.
            await advance(hass, freezer, 10, step_s=1)
            seconds -= 10
        await advance(hass, freezer, seconds, step_s=seconds)
        await let_sockets_settle()
        for at, _ in changes:
            if at <= now and at not in latest:
                hidden = [w for w in windows if w.start <= at < w.end]
                latest[at] = (max(w.end for w in hidden) + deadline_after_clear) if hidden else at
        state = hass.states.get(soc)
        assert state is not None
        for i in active:
            if windows[i].blinding and state.state == STATE_UNAVAILABLE:
                seen_unavailable.add(i)
        if any(w.start <= now < w.end + deadline_after_clear for w in windows):
            continue
        # Quiet: no fault now, and every fault has been clear for a poll. All is applied, all is seen.
        assert state.state != STATE_UNAVAILABLE
        wrong = mismatches(ctl.desired_at(now), simulator)
        assert not wrong, (now, wrong)
        for at in latest:
            verified.setdefault(at, now)
    assert len(latest) == len(changes)
    late = {at: (verified.get(at), latest[at]) for at in latest if verified.get(at, end) > latest[at]}
    assert not late, f"changes applied late (verified, deadline): {late}"
    proxy.clear()
    blinding = {i for i, w in enumerate(windows) if w.blinding}
    assert seen_unavailable == blinding, f"never unavailable during {blinding - seen_unavailable}"
    assert sum(proxy.stats.faulted.values()) > 0
    records = caplog.records
    assert not _unhandled(records), _unhandled(records)
    lost = [r for r in records if r.getMessage().startswith("Error fetching")]
    back = [r for r in records if r.getMessage().endswith("data recovered")]
    # "Log once": one report of the loss and one of the return per outage seen by a poll.
    timeline = sorted(
        [(r.created, "lost") for r in lost]
        + [(r.created, "back") for r in back]
        + [
            (w.start.timestamp(), f"fault {w.fault.kind}{'' if w.blinding else ' (partial)'}")
            for w in windows
        ]
        + [(w.end.timestamp(), "clear") for w in windows]
    )
    assert len(lost) == len(back) == len(seen_unavailable), "; ".join(
        f"{datetime.fromtimestamp(t, PARIS):%d %H:%M:%S} {what}" for t, what in timeline
    )
    await hass.config_entries.async_unload(entry.entry_id)
    await let_sockets_settle()


def _one_of_each(changes: list[datetime]) -> list[FaultWindow]:
    """Each fault kind hides one change: from 5 minutes before to 10 minutes after it."""
    faults = [Fault(kind=k, delay_s=2.0) for k in FAULT_KINDS]
    faults.append(Fault(kind="exception", only=WRITE_CODES, code=6))  # device busy, writes only
    faults.append(Fault(kind="disconnect", only=WRITE_CODES))  # the write lands, the answer is lost
    return [
        FaultWindow(fault=fault, start=at - timedelta(minutes=5), end=at + timedelta(minutes=10))
        for fault, at in zip(faults, changes, strict=False)
    ]


async def test_faults_over_a_simulated_day(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    simulator: SimulatedBattery,
    proxy: FaultProxy,
) -> None:
    await _run_day(hass, freezer, caplog, simulator, proxy, poll_s=300, days=1, windows_for=_one_of_each)
    assert set(proxy.stats.faulted) == set(FAULT_KINDS)


@pytest.mark.long
async def test_random_faults_over_three_days(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    simulator: SimulatedBattery,
    proxy: FaultProxy,
) -> None:
    rng = random.Random(20260601)

    def random_windows(changes: list[datetime]) -> list[FaultWindow]:
        windows: list[FaultWindow] = []
        for at in changes:
            kind = rng.choice(FAULT_KINDS)
            only = rng.choice([None, WRITE_CODES]) if kind in ("exception", "disconnect", "drop") else None
            fault = Fault(kind=kind, delay_s=rng.uniform(0.2, 2.0), code=rng.choice([4, 6]), only=only)
            begin = at - timedelta(seconds=rng.randrange(60, 900, 60))
            until = at + timedelta(seconds=rng.randrange(60, 1800, 60))
            windows.append(FaultWindow(fault=fault, start=begin, end=until))
        return windows

    await _run_day(hass, freezer, caplog, simulator, proxy, poll_s=60, days=3, windows_for=random_windows)


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
async def test_malformed_replies_are_logged_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    proxy: FaultProxy,
    kind: FaultKind,
) -> None:
    """A device that keeps answering short, lying or foreign replies: one report, no traceback per poll."""
    caplog.set_level(logging.INFO, logger="custom_components.battery_steward")
    entry = await _setup(hass, freezer, proxy, 60)
    soc = entity_id(hass, "sensor", "state_of_charge")
    proxy.set_fault(Fault(kind=kind, only=READ_CODES))
    await advance(hass, freezer, 5 * 60, step_s=60)
    state = hass.states.get(soc)
    assert state is not None
    assert state.state == STATE_UNAVAILABLE
    assert proxy.stats.faulted[kind] >= 5
    assert not _unhandled(caplog.records), _unhandled(caplog.records)
    assert len([r for r in caplog.records if r.getMessage().startswith("Error fetching")]) == 1
    proxy.clear()
    await advance(hass, freezer, 60, step_s=60)
    state = hass.states.get(soc)
    assert state is not None
    assert state.state != STATE_UNAVAILABLE
    await hass.config_entries.async_unload(entry.entry_id)
    await let_sockets_settle()
