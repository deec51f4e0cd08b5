"""Reliability: credentials stay out of logs and diagnostics, control needs an admin, the built-in
simulator listens on loopback only.

Every test of the suite is also checked by the autouse `no_secret_in_logs` fixture (conftest).
"""

import asyncio
from collections.abc import AsyncIterator
import json
import logging
from types import SimpleNamespace
from typing import Any, cast

from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, Unauthorized
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser

from custom_components.battery_steward.api import fetcher as fetcher_module
from custom_components.battery_steward.const import (
    DOMAIN,
)
from custom_components.battery_steward.device.simulator import SimulatedBattery
from custom_components.battery_steward.device.simulator.cli import build_parser
from custom_components.battery_steward.diagnostics import async_get_config_entry_diagnostics
from custom_components.battery_steward.entity import admin_only

from .conftest import SERIAL, modbus_data
from .helpers import add_cron_item, device_id, entity_id, setup_entry, simulator_data
from .support.remote_server import ISSUED_TOKENS, ReferenceApi, serve
from .support.secrets import LogCapture, leaked_secrets
from .test_reliability_input import _valid

PASSWORD = "Pw-Reliability-93f1"
READ_ONLY_SERVICES = {"list_items", "get_journal", "preview_plan"}


@pytest.fixture
async def entry(hass: HomeAssistant, simulator: SimulatedBattery) -> AsyncIterator[MockConfigEntry]:
    entry = await setup_entry(hass, modbus_data(simulator.port))
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)


def test_leak_check_finds_tokens_and_passwords() -> None:
    ISSUED_TOKENS.add("0123456789abcdef0123456789abcdef")
    try:
        assert leaked_secrets(["Bearer 0123456789abcdef0123456789abcdef"]) == [
            "0123456789abcdef0123456789abcdef"
        ]
        assert leaked_secrets([f"login with {PASSWORD!r}"]) == [PASSWORD]
        assert leaked_secrets(["a secret-free line", "secretive"]) == []
    finally:
        ISSUED_TOKENS.discard("0123456789abcdef0123456789abcdef")


def test_log_capture_sees_arguments_and_tracebacks() -> None:
    capture = LogCapture()
    logger = logging.getLogger("battery_steward_security_test")
    logger.propagate = False  # kept from the autouse check, which would rightly fail this test
    logger.setLevel(logging.DEBUG)
    logger.addHandler(capture)
    try:
        logger.warning("login as %s", PASSWORD)
        try:
            int(PASSWORD)
        except ValueError:
            logger.debug("failed", exc_info=True)
    finally:
        logger.removeHandler(capture)
    assert len(capture.texts) == 2
    assert all(PASSWORD in text for text in capture.texts)  # in the arguments and in the traceback
    assert leaked_secrets(capture.texts) == [PASSWORD]


async def test_every_control_service_refuses_non_admin_users(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    simulator: SimulatedBattery,
    hass_read_only_user: MockUser,
) -> None:
    device = device_id(hass, entry)
    services = hass.services.async_services_for_domain(DOMAIN)
    assert len(services) >= 17
    item_id = (await add_cron_item(hass, device))[0]
    writes = simulator.write_count
    allowed: set[str] = set()
    for name in sorted(services):
        try:
            await hass.services.async_call(
                DOMAIN,
                name,
                _valid(name, device, item_id),  # valid, so only the user can be refused
                blocking=True,
                context=Context(user_id=hass_read_only_user.id),
                return_response=name in READ_ONLY_SERVICES,
            )
        except Unauthorized:
            continue
        except Exception:
            pass
        allowed.add(name)
    assert allowed == READ_ONLY_SERVICES
    assert simulator.write_count == writes


async def test_builtin_simulator_listens_on_loopback_only(hass: HomeAssistant) -> None:
    entry = await setup_entry(
        hass, simulator_data("SIM-LOOPBACK"), title="Simulated", unique_id="SIM-LOOPBACK"
    )
    simulator = entry.runtime_data.simulator
    assert simulator is not None
    server = cast(asyncio.Server, simulator._server.transport)
    addresses = {sock.getsockname()[0] for sock in server.sockets}
    assert addresses == {"127.0.0.1"}
    assert entry.runtime_data.driver.host == "127.0.0.1"
    await hass.config_entries.async_unload(entry.entry_id)
    # The stand-alone simulator binds loopback unless told otherwise.
    assert build_parser().parse_args([]).host == "127.0.0.1"


async def test_no_credential_or_token_in_diagnostics_or_logs(
    hass: HomeAssistant, simulator: SimulatedBattery, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = ReferenceApi(password=PASSWORD)
    async with serve(api) as url:
        options: dict[str, Any] = {
            "api_url": url,
            "api_username": "steward",
            "api_password": PASSWORD,
            "api_plant": "lib",
            "api_tomorrow_hour": 13,
        }
        entry = await setup_entry(hass, modbus_data(simulator.port), options=options)
        fetcher = entry.runtime_data.fetcher
        assert fetcher is not None
        await fetcher.async_refresh()
        assert api.tokens  # logged in: a live token exists
        # Failures are logged too: a revoked token, then a rejected password.
        api.revoke_tokens()
        api.password = "Pw-Rotated-Reliability-11"
        await fetcher.async_refresh()
        text = json.dumps(await async_get_config_entry_diagnostics(hass, entry), default=str)
        assert PASSWORD not in text
        assert not any(token in text for token in ISSUED_TOKENS)
        await hass.config_entries.async_unload(entry.entry_id)
    logs = [f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records]
    assert any("steward" in line or "schedule" in line.lower() for line in logs)
    assert leaked_secrets(logs) == []


# Every entity action of a battery with a valid value: what a non-admin user tried (issue 18).
ENTITY_ACTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "button": ("press", {}),
    "select.operating_mode": ("select_option", {"option": "force_discharge"}),
    "select.schedule_source": ("select_option", {"option": "api"}),
    "select.transport": ("select_option", {"option": "emulator"}),
    "number.backup_reserve": ("set_value", {"value": 5}),
    "number.power_setpoint": ("set_value", {"value": 1000}),
    "number.reactive_power_setpoint": ("set_value", {"value": 100}),
    "switch": ("turn_off", {}),
}


def _actions(hass: HomeAssistant, entry: MockConfigEntry) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(entity id, domain, action, data) for every entity of the entry that has an action."""
    found = []
    for reg in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id):
        domain = reg.entity_id.split(".")[0]
        key = reg.unique_id.removeprefix(f"{SERIAL}_")
        action = ENTITY_ACTIONS.get(f"{domain}.{key}") or ENTITY_ACTIONS.get(domain)
        if action is not None:
            found.append((reg.entity_id, domain, action[0], action[1]))
    return found


async def _non_admin(hass: HomeAssistant) -> Context:
    """A regular (non-admin) user: may control entities by Home Assistant's own permissions."""
    users = await hass.auth.async_get_group("system-users")
    assert users is not None
    user = MockUser(name="Guest", groups=[users]).add_to_hass(hass)
    user.mock_policy({"entities": True})  # the Users group's policy: control every entity
    assert not user.is_admin
    return Context(user_id=user.id)


async def test_every_entity_action_refuses_non_admin_users(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, hass_read_only_user: MockUser
) -> None:
    """A user of the Users group (refused by this option) and a read-only user (by Home Assistant)."""
    guest = await _non_admin(hass)
    actions = _actions(hass, entry)
    assert {domain for _, domain, _, _ in actions} == {"button", "select", "number", "switch"}
    assert len(actions) == 14  # 3 buttons (with Restore), 3 selects, 3 numbers, 5 (with Confirm switching)
    writes = simulator.write_count
    before = {entity: hass.states.get(entity) for entity, *_ in actions}
    for user in (guest, Context(user_id=hass_read_only_user.id)):
        for entity, domain, action, data in actions:
            with pytest.raises(Unauthorized):
                await hass.services.async_call(
                    domain, action, {"entity_id": entity, **data}, blocking=True, context=user
                )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert simulator.write_count == writes
    ctl = entry.runtime_data.controller
    assert ctl.dispatch_enabled
    assert ctl.source == "manual"
    assert ctl.override is None
    for entity, state in before.items():
        if entity.startswith("button."):
            continue  # a button's state is when it was pressed, written before the action runs
        now = hass.states.get(entity)
        assert now is not None
        assert state is not None
        assert now.state == state.state, entity


async def test_an_admin_and_automations_still_control_entities(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, hass_admin_user: MockUser
) -> None:
    reserve = entity_id(hass, "number", "backup_reserve")
    admin = Context(user_id=hass_admin_user.id)
    await hass.services.async_call(
        "number", "set_value", {"entity_id": reserve, "value": 30}, blocking=True, context=admin
    )
    assert simulator.read_register("reserve_pct") == 30
    await hass.services.async_call("number", "set_value", {"entity_id": reserve, "value": 40}, blocking=True)
    assert simulator.read_register("reserve_pct") == 40


async def test_with_the_option_off_any_user_controls_entities(
    hass: HomeAssistant, simulator: SimulatedBattery
) -> None:
    entry = await setup_entry(hass, modbus_data(simulator.port), options={"admin_only": False})
    guest = await _non_admin(hass)
    reserve = entity_id(hass, "number", "backup_reserve")
    await hass.services.async_call(
        "number", "set_value", {"entity_id": reserve, "value": 30}, blocking=True, context=guest
    )
    assert simulator.read_register("reserve_pct") == 30
    await hass.config_entries.async_unload(entry.entry_id)


def test_admin_only_by_default_for_a_plant_off_for_a_home_battery() -> None:
    """The default follows the device: a plant that can be disabled, or not known yet, is admin-only."""
    unloaded = MockConfigEntry(domain=DOMAIN)
    assert admin_only(unloaded)
    for enable, expected in ((True, True), (False, False)):
        home = MockConfigEntry(domain=DOMAIN)
        home.runtime_data = SimpleNamespace(
            coordinator=SimpleNamespace(info=SimpleNamespace(capabilities=SimpleNamespace(enable=enable)))
        )
        assert admin_only(home) is expected
    assert not admin_only(MockConfigEntry(domain=DOMAIN, options={"admin_only": False}))


async def test_diagnostics_redact_addresses_serials_and_credentials_inside_error_text(
    hass: HomeAssistant, simulator: SimulatedBattery, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The battery's and the API's addresses appear in error text; diagnostics show neither.

    The API is down (its address is in the fetcher's last error) and the battery goes away
    after set-up (its address is in the failed run's journal record).
    """
    monkeypatch.setattr(fetcher_module, "CLIENT_BACKOFF_S", 0.01)
    api_url = f"http://127.0.0.1:{closed_port}"
    options = {"api_url": api_url, "api_username": "operator", "api_password": PASSWORD, "api_plant": "lib"}
    entry = await setup_entry(hass, modbus_data(simulator.port), options=options)
    fetcher = entry.runtime_data.fetcher
    assert fetcher is not None
    await fetcher.async_refresh()
    await simulator.stop()
    errors: list[str] = []
    try:
        await hass.services.async_call(
            DOMAIN,
            "set_override",
            {"device_id": device_id(hass, entry), "reserve_pct": 45, "until_cleared": True},
            blocking=True,
        )
    except HomeAssistantError as err:
        errors += [str(err), *(err.translation_placeholders or {}).values()]
    address = f"127.0.0.1:{simulator.port}"
    journal_errors = [rec.error or "" for rec in entry.runtime_data.controller.journal.query()]
    assert any(address in text for text in journal_errors), journal_errors  # the raw text names it
    assert fetcher.status.last_error is not None
    assert f"127.0.0.1:{closed_port}" in fetcher.status.last_error
    errors += [*journal_errors, fetcher.status.last_error]

    diag = await async_get_config_entry_diagnostics(hass, entry)
    text = json.dumps(diag, default=str)
    for value in (address, f"127.0.0.1:{closed_port}", api_url, "127.0.0.1", SERIAL, "operator"):
        assert value not in text, value
    assert "**REDACTED**" in diag["schedule_api"]["last_error"]
    assert any("**REDACTED**" in (rec["error"] or "") for rec in diag["journal_tail"])
    # The credentials check of every log record covers the diagnostics and the error strings too.
    assert leaked_secrets([text, *errors]) == []
    assert leaked_secrets([f"{PASSWORD} in an error"]) == [PASSWORD]
    await hass.config_entries.async_unload(entry.entry_id)
