"""Anchored sampling and CSV recording (seed 001)."""

import asyncio
import csv
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.device.driver import DeviceConnectionError
from custom_components.battery_steward.device.modbus import ModbusBatteryDriver
from custom_components.battery_steward.device.simulator import SimulatedBattery
from custom_components.battery_steward.engine.state import Measurements, Mode
from custom_components.battery_steward.sampling import AnchoredSampler, CsvRouter, Sample

from .conftest import modbus_data
from .helpers import entity_id, setup_entry

PARIS = ZoneInfo("Europe/Paris")
READING = Measurements(
    soc_pct=50,
    active_power_w=-1000,
    reactive_power_var=0,
    mode=Mode.FORCE_CHARGE,
    reserve_pct=20,
    power_setpoint_w=-1000,
    reactive_setpoint_var=0,
    enabled=True,
)


async def test_anchored_steps_skip_and_never_double_sample(simulator: SimulatedBattery) -> None:
    driver = ModbusBatteryDriver("127.0.0.1", simulator.port, 1)
    calls = 0

    async def slow_sometimes() -> Measurements:
        nonlocal calls
        calls += 1
        if calls % 3 == 0:
            await asyncio.sleep(0.25)  # a slow device: the next steps are missed
        if calls == 5:
            raise DeviceConnectionError("lost")
        return await driver.read()

    samples: list[Sample] = []
    sampler = AnchoredSampler(slow_sometimes, samples.append, step_s=0.1)
    sampler.start()
    sampler.start()  # idempotent
    await asyncio.sleep(1.5)
    await sampler.stop()
    await sampler.stop()
    await driver.close()
    steps = [s.step for s in samples]
    assert steps == sorted(set(steps))  # one attempt per step, no step twice
    assert sampler.skipped >= 2
    assert sampler.failed == 1
    assert sampler.samples == len(samples) >= 5
    first = samples[0]
    for sample in samples:
        # Stamped with the scheduled step time, on the anchored grid.
        offset = (sample.at - first.at).total_seconds() / 0.1
        assert abs(offset - round(offset)) < 1e-6
        assert round(offset) == sample.step - first.step


def test_csv_routed_by_row_date_across_midnight(tmp_path: Path) -> None:
    router = CsvRouter(tmp_path, "home_battery", PARIS)
    before = Sample(at=datetime(2026, 6, 1, 23, 59, 55, tzinfo=PARIS), step=1, measurements=READING)
    after = Sample(at=datetime(2026, 6, 2, 0, 0, 5, tzinfo=PARIS), step=3, measurements=READING)
    touched = router.append([before, after])
    assert sorted(p.name for p in touched) == ["20260601_home_battery.csv", "20260602_home_battery.csv"]
    router.append([Sample(at=datetime(2026, 6, 2, 0, 0, 10, tzinfo=PARIS), step=4, measurements=READING)])
    with (tmp_path / "20260602_home_battery.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["timestamp"] for r in rows] == ["2026-06-02T00:00:05+02:00", "2026-06-02T00:00:10+02:00"]
    assert rows[0]["mode"] == "force_charge"
    assert rows[0]["active_power_w"] == "-1000"


@pytest.fixture
async def entry(hass: HomeAssistant, simulator: SimulatedBattery, tmp_path: Path) -> MockConfigEntry:
    hass.config.config_dir = str(tmp_path)  # keep recordings out of the shared test config
    return await setup_entry(hass, modbus_data(simulator.port), title="Home battery")


async def test_recording_switch_writes_csv_and_flushes_on_unload(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    recording = entry.runtime_data.recording
    recording.sampler.step_s = 0.05
    switch = entity_id(hass, "switch", "recording")
    await hass.services.async_call("switch", "turn_on", {"entity_id": switch}, blocking=True)
    assert hass.states.get(switch).state == "on"  # type: ignore[union-attr]
    await asyncio.sleep(0.4)
    await hass.services.async_call("switch", "turn_off", {"entity_id": switch}, blocking=True)
    written = recording.rows_written
    assert written >= 3
    state = hass.states.get(switch)
    assert state is not None
    assert state.attributes["rows_written"] == written
    files = list(Path(hass.config.path(DOMAIN, "measurements")).glob("*_home_battery.csv"))
    assert len(files) == 1
    # On again, then unload: pending rows are flushed, not lost.
    await hass.services.async_call("switch", "turn_on", {"entity_id": switch}, blocking=True)
    await asyncio.sleep(0.3)
    assert recording.sampler.samples > written
    await hass.config_entries.async_unload(entry.entry_id)
    assert recording.rows_written == recording.sampler.samples
    with files[0].open(encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == recording.rows_written


async def test_pending_rows_flushed_when_home_assistant_stops(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    """Home Assistant does not unload entries when it stops; the stop event flushes instead."""
    recording = entry.runtime_data.recording
    recording.sampler.step_s = 0.05
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": entity_id(hass, "switch", "recording")}, blocking=True
    )
    await asyncio.sleep(0.3)
    assert recording.sampler.samples >= 3
    assert recording.rows_written == 0  # the periodic flush has not come yet
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert not recording.running
    assert recording.rows_written == recording.sampler.samples
    files = list(Path(hass.config.path(DOMAIN, "measurements")).glob("*_home_battery.csv"))
    with files[0].open(encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == recording.rows_written


async def test_rows_kept_when_the_files_cannot_be_written(
    hass: HomeAssistant, entry: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    recording = entry.runtime_data.recording
    recording.sampler.step_s = 0.05
    blocker = Path(hass.config.path(DOMAIN))
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a directory")  # the measurements directory cannot be made
    recording.start()
    await asyncio.sleep(0.3)
    await recording.async_flush()
    await recording.async_flush()
    assert recording.rows_written == 0
    assert caplog.text.count("Cannot write measurements") == 1
    blocker.unlink()
    await recording.async_stop()
    assert recording.rows_written == recording.sampler.samples
    assert "written to" in caplog.text
