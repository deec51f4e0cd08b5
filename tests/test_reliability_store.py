"""Reliability: a damaged Store never takes the battery down, and never opens a closed gate.

Every test sets up the simulator's Modbus entry (TCP on loopback) from a Store the test wrote
(`hass_storage`), as Home Assistant would find it after a crash, a truncated write or a hand edit.
"""

import copy
from datetime import timedelta
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from hypothesis import given, settings, strategies as st
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.controller import BatteryController
from custom_components.battery_steward.device.driver import DeviceInfo
from custom_components.battery_steward.device.simulator import SimulatedBattery
from custom_components.battery_steward.engine.journal import JournalRecord
from custom_components.battery_steward.engine.state import Limits, Mode
from custom_components.battery_steward.store import (
    STORAGE_MINOR_VERSION,
    StoredState,
    migrate_1_1,
    migrate_1_2,
    parse_stored,
)

from .conftest import PEAK, SERIAL, START, modbus_data
from .helpers import controller, device_id, entity_id, item, load, move_to, simulator_data

KEY_PREFIX = f"{DOMAIN}."


def _record(seq: int, **changes: Any) -> dict[str, Any]:
    return {
        "seq": seq,
        "trigger": "schedule",
        "scheduled": "2026-06-01T17:00:00+00:00",
        "executed": "2026-06-01T17:00:01+00:00",
        "result": "success",
        "fields": {"reserve_pct": {"old": 20.0, "new": 80.0}},
        "error": None,
        "note": None,
    } | changes


SETPOINTS = ["mode", "reserve_pct", "power_w", "reactive_var"]
ROW_KEYS = ["start", "period_s", "power_w", "reactive_var"]


def _series(**row: Any) -> dict[str, Any]:
    return {
        "type": "series",
        "id": "api",
        "tz": "UTC",
        "rows": [{"start": "2026-06-01T17:00:00+00:00", "period_s": 900, "power_w": 1000.0} | row],
    }


def valid_data() -> dict[str, Any]:
    """A 1.2 store as the integration writes it: every key, three journal records."""
    return {
        "journal": [_record(1), _record(2), _record(3)],
        "override": {"setpoints": {"reserve_pct": 55.0}, "expires": None},
        "reconciliation_enabled": True,
        "dispatch_enabled": True,
        "source": "manual",
        "transport": "device",
        "series": _series(),
        "missed": [],
        "last_alive": "2026-06-01T16:58:00+00:00",
        "resume_mode": None,
    }


def _store(entry: MockConfigEntry, data: Any, *, minor: int = 2) -> dict[str, Any]:
    return {"version": 1, "minor_version": minor, "key": KEY_PREFIX + entry.entry_id, "data": data}


def _with(**changes: Any) -> dict[str, Any]:
    return valid_data() | changes


def _override(**setpoints: Any) -> dict[str, Any]:
    return _with(override={"setpoints": setpoints, "expires": None})


def _journal_with(bad: Any) -> dict[str, Any]:
    return _with(journal=[_record(1), bad, _record(3)])


# The shapes the adversarial run tried (issue 18, finding 1): what is written, and what must be
# reported lost. Everything else is kept; none of them touches the gate.
CORRUPT: dict[str, tuple[dict[str, Any], str]] = {
    "journal record without fields": (_journal_with({}), "journal (1 of 3 records)"),
    "journal record with a bad trigger": (_journal_with(_record(2, trigger="sometimes")), "journal (1 of 3"),
    "journal record with a bad date": (_journal_with(_record(2, executed="yesterday")), "journal (1 of 3"),
    "journal record with a naive date": (
        _journal_with(_record(2, executed="2026-06-01T17:00:01")),
        "journal (1 of 3",
    ),
    "journal not a list": (_with(journal={"seq": 1}), "journal"),
    "override setpoints a string": (_with(override={"setpoints": "80", "expires": None}), "override"),
    "override with a bad expiry": (
        _with(override={"setpoints": {"reserve_pct": 55.0}, "expires": "soon"}),
        "override",
    ),
    "override reserve 5000 %": (
        _with(override={"setpoints": {"reserve_pct": 5000}, "expires": None}),
        "override",
    ),
    "override with an unknown mode": (
        _with(override={"setpoints": {"mode": "turbo"}, "expires": None}),
        "override",
    ),
    "override naming an item for a field it does not set": (
        _with(override={"setpoints": {"reserve_pct": 55.0}, "expires": None, "sources": {"mode": "x"}}),
        "override",
    ),
    "override sources not a mapping": (
        _with(override={"setpoints": {"reserve_pct": 55.0}, "expires": None, "sources": ["x"]}),
        "override",
    ),
    "missed a number": (_with(missed=5), "missed"),
    "series rows not a list": (_with(series=_series() | {"rows": "x"}), "series"),
    "series row with a bad start": (_with(series=_series(start="noon")), "series"),
    "series row beyond the battery's rating": (_with(series=_series(power_w=1e9)), "series"),
    "last_alive not a date": (_with(last_alive="not a date"), "last_alive"),
    "source bogus": (_with(source="bogus"), "source"),
    "transport bogus": (_with(transport="bogus"), "transport"),
    "reconciliation a string": (_with(reconciliation_enabled="yes"), "reconciliation_enabled"),
}


@pytest.fixture
def entry(simulator: SimulatedBattery) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Battery",
        unique_id=SERIAL,
        data=modbus_data(simulator.port),
        subentries_data=[],
    )


def _issue(hass: HomeAssistant, name: str, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"{name}_{entry.entry_id}")


@pytest.mark.parametrize("case", list(CORRUPT))
async def test_a_corrupt_field_is_dropped_alone_and_named(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    entry: MockConfigEntry,
    simulator: SimulatedBattery,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    data, lost = CORRUPT[case]
    freezer.move_to(START)
    hass_storage[KEY_PREFIX + entry.entry_id] = _store(entry, copy.deepcopy(data))
    await load(hass, entry, wait="background")

    assert entry.state is ConfigEntryState.LOADED
    issue = _issue(hass, "store_damaged", entry)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert lost in issue.translation_placeholders["lost"]
    assert any(r.levelno == logging.WARNING for r in caplog.records if r.name.startswith("custom_components"))
    ctl = controller(entry)
    # What was readable is kept; the gate is not at stake, so it stays as saved (open).
    assert ctl.dispatch_enabled
    assert _issue(hass, "gate_unconfirmed", entry) is None
    if not lost.startswith("journal"):
        assert [rec.seq for rec in ctl.journal.query()][:3] == [1, 2, 3]
    elif "of 3" in lost:
        assert [rec.seq for rec in ctl.journal.query()][:2] == [1, 3]
    if lost != "override":
        assert ctl.override is not None
        assert ctl.override.setpoints.reserve_pct == 55.0
    else:
        assert ctl.override is None
    # The battery is controlled: entities read it, and the start-up run wrote what was due.
    state = hass.states.get(entity_id(hass, "sensor", "state_of_charge"))
    assert state is not None
    assert state.state != "unavailable"
    assert ctl.journal.last is not None
    assert ctl.journal.last.result.value == "success"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_data_that_is_not_a_mapping_loses_everything_and_closes_the_gate(
    hass: HomeAssistant, hass_storage: dict[str, Any], entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    hass_storage[KEY_PREFIX + entry.entry_id] = _store(entry, [1, 2, 3])
    await load(hass, entry, wait="background")
    assert entry.state is ConfigEntryState.LOADED
    issue = _issue(hass, "store_damaged", entry)
    assert issue is not None
    assert issue.translation_placeholders == {"battery": "Battery", "lost": "everything"}
    assert _issue(hass, "gate_unconfirmed", entry) is not None
    assert not controller(entry).dispatch_enabled
    assert simulator.write_count == 0
    await hass.config_entries.async_unload(entry.entry_id)


async def test_an_unreadable_file_loses_everything_and_closes_the_gate(
    hass: HomeAssistant, hass_storage: dict[str, Any], entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    """A file from a newer version (a downgrade) cannot be read: the battery still sets up, closed."""
    hass_storage[KEY_PREFIX + entry.entry_id] = {"version": 9, "key": "x", "data": valid_data()}
    await load(hass, entry, wait="background")
    assert entry.state is ConfigEntryState.LOADED
    assert _issue(hass, "gate_unconfirmed", entry) is not None
    assert simulator.write_count == 0
    await hass.config_entries.async_unload(entry.entry_id)


# ------------------------------------------------------------------------------------ migrations

# The shape of the store at each commit that changed it (all version 1.1): journal, override,
# reconciliation, missed and heartbeat (3a03e26); + dispatch gate (e3c6efc); + source and series
# (2194148); + transport (f552e31); + resume mode (acdc4f2).
_V1_KEYS = ["journal", "override", "reconciliation_enabled", "missed", "last_alive"]
EARLIER: dict[str, list[str]] = {
    "1.1 controller (3a03e26)": _V1_KEYS,
    "1.1 dispatch gate (e3c6efc)": [*_V1_KEYS, "dispatch_enabled"],
    "1.1 schedule source (2194148)": [*_V1_KEYS, "dispatch_enabled", "source", "series"],
    "1.1 transport (f552e31)": [*_V1_KEYS, "dispatch_enabled", "source", "series", "transport"],
    "1.1 resume mode (acdc4f2)": [
        *_V1_KEYS,
        "dispatch_enabled",
        "source",
        "series",
        "transport",
        "resume_mode",
    ],
}


@pytest.mark.parametrize("version", list(EARLIER))
@pytest.mark.parametrize("gate", [True, False])
async def test_every_earlier_version_migrates_without_loss(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    entry: MockConfigEntry,
    simulator: SimulatedBattery,
    version: str,
    gate: bool,
) -> None:
    keys = EARLIER[version]
    if "dispatch_enabled" not in keys and not gate:
        pytest.skip("there was no gate to close before e3c6efc")
    full = _with(dispatch_enabled=gate, source="api", transport="device", resume_mode="force_charge")
    hass_storage[KEY_PREFIX + entry.entry_id] = _store(entry, {k: full[k] for k in keys}, minor=1)
    await load(hass, entry, wait="background")

    assert entry.state is ConfigEntryState.LOADED
    assert _issue(hass, "store_damaged", entry) is None
    assert _issue(hass, "gate_unconfirmed", entry) is None
    ctl = controller(entry)
    assert [rec.seq for rec in ctl.journal.query()][:3] == [1, 2, 3]
    assert ctl.override is not None
    assert ctl.override.setpoints.reserve_pct == 55.0
    assert ctl.dispatch_enabled is gate
    assert ctl.source == ("api" if "source" in keys else "manual")
    assert (ctl.series is not None) is ("series" in keys)
    assert ctl.resume_mode is (Mode.FORCE_CHARGE if "resume_mode" in keys else None)
    saved = hass_storage[KEY_PREFIX + entry.entry_id]
    assert saved["minor_version"] == 3
    assert set(saved["data"]) >= set(valid_data())  # the migrated file has every key
    assert saved["data"]["override"]["sources"] == {}  # written, from no item
    await hass.config_entries.async_unload(entry.entry_id)


# ------------------------------------------------------------------------------------ fail closed


DAMAGE: dict[str, Any] = {
    # What Home Assistant leaves after moving a truncated (undecodable) file aside: no file.
    "deleted or truncated file": None,
    "truncated data (gate and later keys cut off)": lambda d: {k: d[k] for k in list(d)[:3]},
    "gate not a boolean": lambda d: d | {"dispatch_enabled": "false"},
    "gate missing": lambda d: {k: v for k, v in d.items() if k != "dispatch_enabled"},
    "resume mode corrupted": lambda d: d | {"resume_mode": 42},
    "data a list": list,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
async def test_a_safe_stop_survives_losing_the_store(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    simulator: SimulatedBattery,
    freezer: FrozenDateTimeFactory,
    damage: str,
) -> None:
    """Safe stop, damage the store, start: nothing is written until the user confirms."""
    await hass.config.async_set_time_zone("Europe/Paris")
    freezer.move_to(START - timedelta(minutes=5))
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Battery",
        unique_id=SERIAL,
        data=modbus_data(simulator.port),
        subentries_data=[item(PEAK)],
    )
    await load(hass, entry, wait="background")
    assert await async_setup_component(hass, "repairs", {})
    device = device_id(hass, entry)
    await hass.services.async_call(DOMAIN, "safe_stop", {"device_id": device}, blocking=True)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert not controller(entry).dispatch_enabled
    await hass.config_entries.async_unload(entry.entry_id)
    key = KEY_PREFIX + entry.entry_id
    saved = hass_storage[key]["data"]
    assert saved["dispatch_enabled"] is False
    change = DAMAGE[damage]
    if change is None:
        del hass_storage[key]
    else:
        hass_storage[key] = _store(entry, change(copy.deepcopy(saved)))

    writes = simulator.write_count
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    # The peak window starts (reserve 80 %) and the patrol runs: still nothing is written.
    for minutes in (1, 6, 20):
        await move_to(hass, freezer, START + timedelta(minutes=minutes))
    assert simulator.write_count == writes
    ctl = controller(entry)
    assert not ctl.dispatch_enabled
    issue_id = f"gate_unconfirmed_{entry.entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    dispatch = hass.states.get(entity_id(hass, "switch", "dispatch"))
    assert dispatch is not None
    assert dispatch.state == "off"

    # Confirmed through the repairs flow (what the Repairs page runs): the gate opens.
    flows = repairs_flow_manager(hass)
    assert flows is not None
    flow = await flows.async_init(DOMAIN, context={"issue_id": issue_id})
    assert flow.get("description_placeholders") == {"battery": "Battery"}
    flow = await flows.async_configure(flow["flow_id"], {})
    assert flow["type"] == "create_entry"
    await move_to(hass, freezer, START + timedelta(minutes=21))
    assert ctl.dispatch_enabled
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert simulator.read_register("reserve_pct") == 80
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_new_battery_starts_open_without_a_store(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    """No file and no entity ever registered: a first set-up, not a loss."""
    assert not er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    await load(hass, entry, wait="background")
    assert controller(entry).dispatch_enabled
    assert _issue(hass, "gate_unconfirmed", entry) is None
    assert _issue(hass, "store_damaged", entry) is None
    await hass.config_entries.async_unload(entry.entry_id)


async def test_the_dispatch_switch_also_confirms(
    hass: HomeAssistant, hass_storage: dict[str, Any], entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    hass_storage[KEY_PREFIX + entry.entry_id] = _store(entry, _with(dispatch_enabled=None))
    await load(hass, entry, wait="background")
    assert _issue(hass, "gate_unconfirmed", entry) is not None
    switch = entity_id(hass, "switch", "dispatch")
    await hass.services.async_call("switch", "turn_on", {"entity_id": switch}, blocking=True)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _issue(hass, "gate_unconfirmed", entry) is None
    assert controller(entry).dispatch_enabled
    await hass.config_entries.async_unload(entry.entry_id)


async def test_removing_the_battery_removes_its_store_issues(
    hass: HomeAssistant, hass_storage: dict[str, Any], entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    hass_storage[KEY_PREFIX + entry.entry_id] = _store(entry, [])
    await load(hass, entry, wait="background")
    assert _issue(hass, "store_damaged", entry) is not None
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert _issue(hass, "store_damaged", entry) is None
    assert _issue(hass, "gate_unconfirmed", entry) is None


# ------------------------------------------------------------------------------ failed set-up


async def test_a_failed_set_up_leaves_nothing_behind_and_is_retried(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A simulated-battery entry whose set-up fails after its entities exist, then succeeds.

    The failure is injected in the controller's start (what a store that cannot be read did);
    every attempt starts a simulator, and only the running entry's one may be left listening.
    """
    started: list[SimulatedBattery] = []

    class Counted(SimulatedBattery):
        async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
            started.append(self)
            await super().start(host, port)

    monkeypatch.setattr("custom_components.battery_steward.connection.SimulatedBattery", Counted)
    real_start = BatteryController.async_start
    attempts = 0

    async def flaky_start(self: BatteryController) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConfigEntryNotReady("injected")
        await real_start(self)

    monkeypatch.setattr(BatteryController, "async_start", flaky_start)
    entry = MockConfigEntry(domain=DOMAIN, title="Battery", unique_id=SERIAL, data=simulator_data(SERIAL))
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert [battery.running for battery in started] == [False]
    for state in hass.states.async_all():
        assert state.state == "unavailable", state.entity_id

    freezer.tick(timedelta(minutes=5))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED
    assert [battery.running for battery in started] == [False, True]
    soc = hass.states.get(entity_id(hass, "sensor", "state_of_charge"))
    assert soc is not None
    assert soc.state != "unavailable"
    await hass.config_entries.async_unload(entry.entry_id)
    assert [battery.running for battery in started] == [False, False]


SMALL: dict[str, tuple[dict[str, Any], list[str]]] = {
    "a record that is not a mapping": (_journal_with("seq 2"), ["journal (1 of 3 records)"]),
    "a record whose note is not text": (_journal_with(_record(2, note=["x"])), ["journal (1 of 3 records)"]),
    "a record repeating a sequence number": (_journal_with(_record(1)), ["journal (1 of 3 records)"]),
    "a series that is not a mapping": (_with(series=[1]), ["series"]),
    "an item that is not a series": (_with(series=_series() | {"type": "cron"}), ["series"]),
    "a heartbeat without an offset": (_with(last_alive="2026-06-01T16:58:00"), ["last_alive"]),
    "an override that is a number": (_with(override=5), ["override"]),
    "two fields at once": (_with(missed=None, source=None), ["source", "missed"]),
}


@pytest.mark.parametrize("case", list(SMALL))
def test_each_unreadable_field_is_named(case: str) -> None:
    data, lost = SMALL[case]
    state = parse_stored(copy.deepcopy(data))
    assert state.lost == lost
    assert not state.gate_lost
    assert state.dispatch_enabled


def test_without_the_device_an_override_is_not_range_checked() -> None:
    """Only the entry's removal reads the store without a device; nothing is refused then."""
    state = parse_stored(_override(reserve_pct=5000))
    assert state.override is not None


def test_a_1_1_file_that_is_not_a_mapping_is_left_for_the_checks() -> None:
    assert migrate_1_1([1]) == [1]
    assert migrate_1_2([1]) == [1]


async def test_a_1_2_override_loads_from_no_item(
    hass: HomeAssistant, hass_storage: dict[str, Any], entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    """1.2 kept no item for an override (run_item's was lost at a restart): it loads, named `override`."""
    assert "sources" not in valid_data()["override"]
    hass_storage[KEY_PREFIX + entry.entry_id] = _store(entry, valid_data(), minor=2)
    await load(hass, entry, wait="background")
    assert _issue(hass, "store_damaged", entry) is None
    ctl = controller(entry)
    assert ctl.override is not None
    assert ctl.override.setpoints.reserve_pct == 55.0
    assert dict(ctl.override.sources) == {}
    assert ctl.sources_at(dt_util.utcnow())["reserve_pct"] == "override"
    await hass.config_entries.async_unload(entry.entry_id)
    saved = hass_storage[KEY_PREFIX + entry.entry_id]
    assert saved["minor_version"] == STORAGE_MINOR_VERSION == 3
    assert saved["data"]["override"]["sources"] == {}  # written, from no item


async def test_a_newer_minor_version_is_read_as_is(
    hass: HomeAssistant, hass_storage: dict[str, Any], entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    """A newer minor version only adds keys: what this version knows is read (a downgrade works)."""
    hass_storage[KEY_PREFIX + entry.entry_id] = _store(entry, _with(extra=1), minor=STORAGE_MINOR_VERSION + 1)
    await load(hass, entry, wait="background")
    assert _issue(hass, "store_damaged", entry) is None
    assert controller(entry).override is not None
    await hass.config_entries.async_unload(entry.entry_id)


# ----------------------------------------------------------------- any JSON in any field (property)

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["auto", "idle", "api", "emulator", "2026-06-01T17:00:00+00:00", "2026-06-01"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def _keys_of(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys), _json)


_field_json = st.one_of(
    _json,
    st.builds(lambda r: [_record(1), r, _record(3)], _keys_of(list(_record(2)))),
    st.builds(lambda sp: {"setpoints": sp, "expires": None}, _keys_of(SETPOINTS)),
    st.builds(lambda sp, src: {"setpoints": sp, "expires": None, "sources": src}, _keys_of(SETPOINTS), _json),
    st.builds(lambda row: _series() | {"rows": [row]}, _keys_of(ROW_KEYS)),
)
LIMITS = Limits(max_charge_w=5000, max_discharge_w=5000, max_apparent_va=5000)
INFO = DeviceInfo(manufacturer="x", model="x", serial="x", firmware="x", capacity_kwh=10, limits=LIMITS)


def _check_state(state: StoredState) -> None:
    """What a controller may rely on, whatever the file held."""
    seqs = [JournalRecord.from_dict(rec).seq for rec in state.journal]
    assert seqs == sorted(set(seqs))
    if state.override is not None:
        INFO.check(state.override.setpoints)
        assert set(state.override.sources) <= state.override.setpoints.set_fields()
        assert all(isinstance(source, str) for source in state.override.sources.values())
    assert isinstance(state.reconciliation_enabled, bool)
    assert isinstance(state.dispatch_enabled, bool)
    assert state.source in ("manual", "api")
    assert state.transport in ("device", "emulator")
    assert state.resume_mode is None or state.resume_mode in set(Mode)
    assert all(isinstance(item, str) for item in state.missed)
    assert state.last_alive is None or state.last_alive.tzinfo is not None
    if state.gate_lost:
        assert not state.dispatch_enabled


@pytest.mark.parametrize("key", list(valid_data()))
def test_any_json_in_any_field_loads(key: str, long_run: bool) -> None:
    """Hypothesis: each field replaced by any JSON value; 100 examples per field (2000 with --long)."""

    @given(value=_field_json)
    @settings(max_examples=2000 if long_run else 100, deadline=None, database=None)
    def check(value: Any) -> None:
        data = valid_data() | {key: value}
        state = parse_stored(copy.deepcopy(data), INFO)
        _check_state(state)
        assert state.gate_lost is (key in ("dispatch_enabled", "resume_mode") and bool(state.lost))
        assert all(name.startswith(key) for name in state.lost)  # nothing else is dropped
        migrated = parse_stored(migrate_1_2(migrate_1_1(copy.deepcopy(data))), INFO)
        _check_state(migrated)

    check()


def test_any_json_as_the_whole_store_loads() -> None:
    @given(value=_json)
    @settings(max_examples=100, deadline=None, database=None)
    def check(value: Any) -> None:
        _check_state(parse_stored(value, INFO))
        _check_state(parse_stored(migrate_1_2(migrate_1_1(value)), INFO))

    check()
