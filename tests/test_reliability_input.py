"""Reliability: hypothesis-generated service payloads and config-flow input.

Every payload is either accepted, or refused by the action's schema (Home Assistant reports the
field) or with one of our translated errors; when refused, nothing was written to the battery.
Hypothesis runs in an executor thread and sends each example to Home Assistant's event loop.
"""

import asyncio
from collections.abc import Callable, Coroutine
import json
from pathlib import Path
from typing import Any, Literal

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util.yaml import load_yaml
from hypothesis import HealthCheck, example, given, settings, strategies as st
import probatio as vol
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.device.simulator import SimulatedBattery

from .conftest import modbus_data
from .helpers import add_cron_item, device_id, options_step, settings_input, setup_entry

COMPONENT = Path(__file__).parent.parent / "custom_components" / DOMAIN
STRINGS = json.loads((COMPONENT / "strings.json").read_text())
SERVICES: dict[str, Any] = load_yaml(str(COMPONENT / "services.yaml"))  # type: ignore[assignment]
EXCEPTION_KEYS = set(STRINGS["exceptions"])
FLOW_ERRORS = set(STRINGS["config"]["error"])
OPTIONS_ERRORS = set(STRINGS["options"]["error"])

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "0",
            "-1",
            "1e309",
            "nan",
            "idle",
            "force_charge",
            "auto",
            "12:00",
            "25:61",
            "2026-06-01T12:00:00",
            "2026-13-40",
            "Europe/Paris",
            "Mars/Olympus",
            "*/5 * * * *",
            "61 * * * *",
            "manual",
            "api",
            "device",
            "emulator",
            "window",
            "cron",
            "interval",
            "one_off",
            "ramp",
            "series",
            "peak_window",
            "night_idle",
            "00:30:00",
            "2026-06-01T12:00:00+02:00",
        ]
    ),
    st.integers(min_value=-5, max_value=110),
)
VALUES = st.one_of(
    SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(st.text(max_size=5), SCALARS, max_size=2)
)


ROWS = st.lists(
    st.fixed_dictionaries(
        {"start": SCALARS, "period_s": SCALARS, "power_w": SCALARS}, optional={"reactive_var": SCALARS}
    ),
    max_size=3,
)


def payloads(service: str, device_id: str, item_id: Callable[[], str]) -> st.SearchStrategy[dict[str, Any]]:
    """Any subset of the action's fields with any values, the target usually right."""
    declared = SERVICES[service].get("fields", {})
    fields = [f for f in declared if f not in ("device_id", "item_id")]
    values = st.one_of(VALUES, ROWS) if "rows" in fields else VALUES
    targets: dict[str, Any] = {}
    if "device_id" in declared:
        targets["device_id"] = st.one_of(
            st.just(device_id), st.just([device_id]), st.just(device_id), st.just("no-such-device"), VALUES
        )
    if "item_id" in declared:
        targets["item_id"] = st.one_of(
            st.builds(item_id), st.builds(item_id), st.just("no-such-item"), VALUES
        )
    extra = st.dictionaries(st.sampled_from(fields), values, max_size=5) if fields else st.just({})
    rare = st.one_of(st.just({}), st.just({}), st.just({}), st.dictionaries(st.just("unexpected"), VALUES))
    return st.builds(lambda t, e, r: {**t, **e, **r}, st.fixed_dictionaries(targets), extra, rare)


def _refused_properly(err: BaseException) -> str | None:
    """None when the refusal is a schema error or one of our translated errors, else why not."""
    if isinstance(err, vol.Invalid):
        return None
    if isinstance(err, HomeAssistantError):
        if err.translation_domain == DOMAIN and err.translation_key in EXCEPTION_KEYS:
            return None
        if err.translation_domain == "homeassistant" and err.translation_key:
            return None  # core's own translated refusals (e.g. a response that is required)
        return f"untranslated {type(err).__name__}: {err}"
    return f"unexpected {type(err).__name__}: {err!r}"


@pytest.fixture
async def entry(hass: HomeAssistant, simulator: SimulatedBattery) -> MockConfigEntry:
    entry = await setup_entry(hass, modbus_data(simulator.port))
    # Power follows nothing: a safe stop (also behind set_source / set_transport) ends at once.
    simulator.model.stuck_power_w = 0.0
    return entry


def examples(count: int) -> settings:
    """Hypothesis settings: count examples, no deadline, no example database, no health checks."""
    return settings(max_examples=count, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def _run_in_loop[T](hass: HomeAssistant, coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run_coroutine_threadsafe(coro, hass.loop).result(timeout=60)


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_service_payloads(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    simulator: SimulatedBattery,
    service: str,
    long_run: bool,
) -> None:
    device = device_id(hass, entry)
    ctl = entry.runtime_data.controller
    item_ids = await add_cron_item(hass, device)

    def existing_item() -> str:
        return item_ids[0]

    outcomes: dict[str, int] = {"accepted": 0, "refused": 0}
    problems: list[str] = []

    async def reset() -> None:
        ctl.override = None
        ctl.source = "manual"
        if ctl.transports is not None:
            ctl.transports.current = "device"
        ctl.async_set_dispatch(True)
        ctl.switching = False
        if existing_item() not in entry.subentries:
            item_ids.insert(0, (await add_cron_item(hass, device))[0])
        await hass.async_block_till_done()

    async def check(payload: dict[str, Any]) -> None:
        await reset()
        writes = simulator.write_count
        try:
            await hass.services.async_call(
                DOMAIN, service, payload, blocking=True, return_response=_returns(service)
            )
        except Exception as err:
            outcomes["refused"] += 1
            if (why := _refused_properly(err)) is not None:
                problems.append(f"{service} {payload!r}: {why}")
            if simulator.write_count != writes:
                problems.append(f"{service} {payload!r}: refused after writing to the battery")
        else:
            outcomes["accepted"] += 1
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED

    @examples(300 if long_run else 25)
    @given(payloads(service, device, existing_item))
    @example(_valid(service, device, existing_item()))
    def run(payload: dict[str, Any]) -> None:
        _run_in_loop(hass, check(payload))

    await hass.async_add_executor_job(run)
    assert not problems, "\n".join(problems[:10])
    assert outcomes["refused"] > 0, outcomes
    assert outcomes["accepted"] > 0, outcomes


def _valid(service: str, device_id: str, item_id: str) -> dict[str, Any]:
    """One payload each action accepts."""
    extra: dict[str, dict[str, Any]] = {
        "add_item": {"type": "cron", "cron": "0 4 * * *", "reserve_pct": 50},
        "add_preset": {"preset": "night_idle"},
        "set_override": {"reserve_pct": 40, "until_cleared": True},
        "set_series": {"rows": [{"start": "2026-06-01T12:00:00+00:00", "period_s": 900, "power_w": 100}]},
        "set_source": {"source": "api"},
        "set_transport": {"transport": "emulator"},
        "safe_stop": {"timeout_s": 5},
        "update_item": {"reserve_pct": 45},
        "remove_item": {},
        "run_item": {},
    }
    if service in ("update_item", "remove_item", "run_item"):
        return {"item_id": item_id, **extra[service]}
    return {"device_id": device_id, **extra.get(service, {})}


def _returns(service: str) -> bool:
    return service in {"add_item", "add_preset", "list_items", "get_journal", "preview_plan", "safe_stop"}


HOSTS = st.sampled_from(["127.0.0.1", ""])  # never a name: no lookups beyond loopback


async def test_config_flow_input(
    hass: HomeAssistant, simulator: SimulatedBattery, closed_port: int, long_run: bool
) -> None:
    ports = st.one_of(st.just(simulator.port), st.just(closed_port), VALUES)
    user_input = st.fixed_dictionaries(
        {},
        optional={
            "host": st.one_of(HOSTS, VALUES.filter(lambda v: not isinstance(v, str))),
            "port": ports,
            "unit": st.one_of(st.just(1), VALUES),
            "profile": st.one_of(st.just("steward"), VALUES),
            "capacity_kwh": VALUES,
            "unexpected": VALUES,
        },
    )
    problems: list[str] = []
    writes = simulator.write_count

    async def check(step: str, data: dict[str, Any]) -> None:
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": step})
        try:
            result = await hass.config_entries.flow.async_configure(result["flow_id"], data)
        except vol.Invalid:
            hass.config_entries.flow.async_abort(result["flow_id"])
            return  # the form's schema refused it; Home Assistant shows the field
        if result["type"] is FlowResultType.FORM:
            errors = set((result.get("errors") or {}).values())
            if not errors <= FLOW_ERRORS:
                problems.append(f"{step} {data!r}: unknown error keys {errors - FLOW_ERRORS}")
            hass.config_entries.flow.async_abort(result["flow_id"])
        elif result["type"] is FlowResultType.CREATE_ENTRY:
            created = hass.config_entries.async_get_entry(result["result"].entry_id)
            assert created is not None
            await hass.config_entries.async_remove(created.entry_id)
        elif result["type"] is FlowResultType.ABORT and result["reason"] not in STRINGS["config"]["abort"]:
            problems.append(f"{step} {data!r}: unknown abort reason {result['reason']}")
        await hass.async_block_till_done()

    @examples(200 if long_run else 25)
    @given(st.sampled_from(["modbus", "simulator"]), user_input)
    def run(step: str, data: dict[str, Any]) -> None:
        _run_in_loop(hass, check(step, data))

    await hass.async_add_executor_job(run)
    assert not problems, "\n".join(problems[:10])
    assert simulator.write_count == writes  # adding a battery only reads it


async def test_options_flow_input(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, closed_port: int, long_run: bool
) -> None:
    option_input = st.fixed_dictionaries(
        {},
        optional={
            "poll_interval": VALUES,
            "patrol_interval_min": VALUES,
            "fight_max_corrections": VALUES,
            "safe_stop_timeout_s": VALUES,
            "journal_size": VALUES,
            "api_url": st.one_of(
                st.sampled_from([f"http://127.0.0.1:{closed_port}/", "notaurl", "ftp://127.0.0.1/", ""]),
                VALUES.filter(lambda v: not isinstance(v, str)),
            ),
            "api_username": VALUES,
            "api_password": st.one_of(st.just("Pw-Reliability-93f1"), VALUES),
            "api_plant": VALUES,
            "api_tomorrow_hour": VALUES,
        },
    )
    problems: list[str] = []

    async def check(data: dict[str, Any]) -> None:
        for step in ("settings", "api"):
            await check_step(step, data)

    async def check_step(step: Literal["settings", "api"], data: dict[str, Any]) -> None:
        """Configure's settings (sectioned) and schedule API steps, each with what it asks."""
        writes = simulator.write_count
        result = await options_step(hass, entry.entry_id, step)
        if step == "settings":
            data = settings_input(data)
        else:
            data = {key: value for key, value in data.items() if key.startswith("api_")}
        try:
            result = await hass.config_entries.options.async_configure(result["flow_id"], data)
        except vol.Invalid:
            hass.config_entries.options.async_abort(result["flow_id"])
            return
        if result["type"] is FlowResultType.FORM:
            errors = set((result.get("errors") or {}).values())
            if not errors <= OPTIONS_ERRORS:
                problems.append(f"{data!r}: unknown error keys {errors - OPTIONS_ERRORS}")
            hass.config_entries.options.async_abort(result["flow_id"])
            if simulator.write_count != writes:
                problems.append(f"{data!r}: refused after writing to the battery")
        await hass.async_block_till_done()

    @examples(150 if long_run else 20)
    @given(option_input)
    def run(data: dict[str, Any]) -> None:
        _run_in_loop(hass, check(data))

    await hass.async_add_executor_job(run)
    assert not problems, "\n".join(problems[:10])
