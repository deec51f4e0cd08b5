"""What README.md and docs/*.md state, checked against the code: a doc that promises what the code
does not do fails here.

The tables of docs/configuration.md are read as they are written (option names, defaults and
ranges; entity names and categories; the actions) and compared with the options form, the
entities a loaded battery registers, strings.json and services.yaml.
"""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import re
import sys
from typing import Any, Literal, cast

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml, parse_yaml
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol

from custom_components.battery_steward import CONFIG_SCHEMA, config_flow
from custom_components.battery_steward.bridge_presets import PRESETS, Preset
from custom_components.battery_steward.config_flow import OPTIONS, SECTIONS
from custom_components.battery_steward.const import (
    CONF_API_TOMORROW_HOUR,
    CONF_KIND,
    CONF_RATED_POWER_W,
    CONF_RESERVE_ENTITY,
    CONF_SERIAL,
    CONF_SOC_ENTITY,
    DEFAULT_TOMORROW_HOUR,
    DOMAIN,
    KIND_BRIDGE,
)
from custom_components.battery_steward.dashboard import battery_section
from custom_components.battery_steward.device import registers
from custom_components.battery_steward.device.profiles import custom as custom_map, make_profile
from custom_components.battery_steward.device.registers import MODE_CODES
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery
from custom_components.battery_steward.device.simulator.cli import build_parser, run
from custom_components.battery_steward.diagnostics import async_get_config_entry_diagnostics
from custom_components.battery_steward.engine.items import IntervalItem, OneOffItem, RampItem
from custom_components.battery_steward.engine.journal import Result, Trigger
from custom_components.battery_steward.engine.planner import Schedule
from custom_components.battery_steward.engine.state import Mode, Setpoints

from .conftest import NIGHT, PARIS, PEAK, SERIAL, START, Tick, modbus_data
from .helpers import (
    cron_item,
    develop_bootstrap,
    device_id,
    entity_id,
    freeze_at,
    move_to,
    options_step,
    setup_entry,
)

ROOT = Path(__file__).parent.parent
COMPONENT = ROOT / "custom_components" / DOMAIN
STRINGS: dict[str, Any] = json.loads((COMPONENT / "strings.json").read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = load_yaml(str(COMPONENT / "services.yaml"))  # type: ignore[assignment]


def doc(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def table(text: str, heading: str) -> list[list[str]]:
    """The cells of the first Markdown table after `heading` (header and rule rows left out)."""
    after = text.split(f"\n{heading}\n", 1)[1]
    rows: list[list[str]] = []
    for line in after.splitlines():
        if line.startswith("|"):
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
        elif rows:
            break
    return rows[2:]


def numbers(cell: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", cell)]


def test_every_option_in_the_table_has_the_default_and_range_the_form_has() -> None:
    """docs/configuration.md, "Options (Configure)": name, section, default and range of each option."""
    settings = STRINGS["options"]["step"]["settings"]["sections"]
    label_to_key = {
        label: (section["name"], key)
        for name, section in settings.items()
        for key, label in section["data"].items()
    }
    api_labels = STRINGS["options"]["step"]["api"]["data"]
    limits = {key: (default, low, high) for key, default, low, high, _ in OPTIONS}
    limits[CONF_API_TOMORROW_HOUR] = (DEFAULT_TOMORROW_HOUR, 0, 23)
    documented: set[str] = set()
    rows = table(doc("docs/configuration.md"), "## Options (Configure)")
    for section, option, default, bounds, _meaning in rows:
        for label in option.split(", "):
            if label in label_to_key:
                section_name, key = label_to_key[label]
                assert section == section_name, f"{label} is in section {section_name}, not {section}"
            else:
                assert section == "Schedule API", f"{label}: no such option"
                key = next(k for k, text in api_labels.items() if text == label)
            documented.add(key)
            if key in limits and bounds != "—":
                assert numbers(default)[:1] + numbers(bounds) == list(limits[key]), label
    every_key = {key for keys in SECTIONS.values() for key in keys} | set(api_labels)
    assert every_key | {"admin_only"} == documented


def test_entity_names_are_the_translated_ones_and_all_are_documented() -> None:
    """docs/configuration.md, "Entities": each row names entities by their strings.json names."""
    names = {
        translation["name"]
        for platform in STRINGS["entity"].values()
        for key, translation in platform.items()
        if key != "schedule_item"  # named after the item: "*item name*" in the table
    }
    documented: set[str] = set()
    for row in table(doc("docs/configuration.md"), "## Entities"):
        if row[0] != "*item name*":
            documented |= set(re.split(r", | / ", row[0]))
    assert documented == names


async def test_diagnostic_configuration_and_disabled_entities_are_as_documented(
    hass: HomeAssistant, simulator: SimulatedBattery, closed_port: int
) -> None:
    """The table's "diagnostic", "configuration" and "disabled by default" marks, on a loaded battery.

    With a schedule API configured (its sensor exists only then), unreachable: it does not matter.
    """
    entry: MockConfigEntry = await setup_entry(
        hass,
        modbus_data(simulator.port),
        options={
            "api_url": f"http://127.0.0.1:{closed_port}",
            "api_username": "u",
            "api_password": "p",
            "api_plant": "lib",
        },
    )
    registry = er.async_get(hass)
    by_name = {
        translation["name"]: (platform, key)
        for platform, keys in STRINGS["entity"].items()
        for key, translation in keys.items()
    }
    for row in table(doc("docs/configuration.md"), "## Entities"):
        if row[0] == "*item name*":
            continue
        kind = row[1]
        category = (
            EntityCategory.DIAGNOSTIC
            if "diagnostic" in kind
            else EntityCategory.CONFIG
            if "configuration" in kind
            else None
        )
        for name in re.split(r", | / ", row[0]):
            platform, key = by_name[name]
            registered = registry.async_get_entity_id(platform, DOMAIN, f"{SERIAL}_{key}")
            assert registered is not None, f"{name} not registered"
            entity = registry.async_get(registered)
            assert entity is not None
            assert entity.entity_category == category, name
            disabled = "disabled by default" in row[2]
            assert (entity.disabled_by is not None) == disabled, name
    # docs/remote-api.md, "Status": the Schedule API sensor's attributes.
    status = doc("docs/remote-api.md").split("- **Status**", 1)[1].split("Diagnostics include", 1)[0]
    state = hass.states.get(entity_id(hass, "sensor", "schedule_api"))
    assert state is not None
    shown = set(state.attributes) - {"friendly_name", "device_class"}
    assert set(re.findall(r"`([a-z_]+)`", status)) == shown
    assert entry.runtime_data is not None


def test_the_actions_table_names_every_action_once() -> None:
    """docs/configuration.md, "Actions": every action of services.yaml, and no other."""
    documented = [
        name
        for action, _ in table(doc("docs/configuration.md"), "## Actions")
        for name in re.findall(r"`([a-z_]+)`", action)
    ]
    assert sorted(documented) == sorted(SERVICES)


def test_readme_scripts_test_runs_what_it_says() -> None:
    """README.md, "The two commands": ruff, mypy, the translations check, coverage 95 % and 100 %."""
    script = doc("scripts/test")
    for step in ("ruff check", "mypy", "translations.py --check", "--cov"):
        assert step in script, step
    assert "config_flow.py' --fail-under=100" in script
    assert "fail_under = 95" in doc("pyproject.toml")


async def test_readme_add_integration_offers_what_it_says(hass: HomeAssistant) -> None:
    """README.md, "A short tour": simulated, Modbus TCP, and the entity bridge three ways."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
    labels = STRINGS["config"]["step"]["user"]["menu_options"]
    assert [labels[option] for option in cast(list[str], result["menu_options"])] == [
        "Built-in simulated battery",
        "Modbus TCP battery",
        "Entities of another integration (entity bridge)",
        "A battery of an integration Battery Steward knows (bridge preset)",
        "Entities of another integration, with a mapping written in YAML",
    ]


def test_every_action_takes_a_target_but_those_naming_an_item() -> None:
    """README.md and docs/configuration.md: targets for every action but the three given an item_id."""
    untargeted = {name for name, action in SERVICES.items() if "target" not in action}
    assert untargeted == {"update_item", "remove_item", "run_item"}
    for name in untargeted:
        assert SERVICES[name]["fields"]["item_id"]["required"] is True


async def test_readme_simulator_profiles() -> None:
    """README.md: the stand-alone simulator's --profile choices; custom needs --register-map."""
    parser = build_parser()
    choices = next(action.choices for action in parser._actions if action.dest == "profile")
    documented = ["steward", "sunspec", "marstek", "huawei", "sungrow", "victron", "custom"]
    assert sorted(cast(list[str], choices)) == sorted(documented)
    with pytest.raises(ValueError, match="--register-map"):
        await run(parser.parse_args(["--port", "0", "--profile", "custom"]), asyncio.Event())


def test_no_yaml_section(caplog: pytest.LogCaptureFixture) -> None:
    """docs/configuration.md: `configuration.yaml` takes no `battery_steward:` section."""
    CONFIG_SCHEMA({DOMAIN: {"host": "127.0.0.1"}})
    assert "does not support YAML setup" in caplog.text


async def test_each_options_form_links_its_page(hass: HomeAssistant, loaded: MockConfigEntry) -> None:
    """docs/configuration.md, "Options": settings link this page, the schedule API remote-api.md."""
    pages: tuple[tuple[Literal["settings", "api"], str], ...] = (
        ("settings", "configuration.md"),
        ("api", "remote-api.md"),
    )
    for step, page in pages:
        result = await options_step(hass, loaded.entry_id, step)
        placeholders = result["description_placeholders"]
        assert placeholders is not None
        assert placeholders["docs_url"].endswith(f"/docs/{page}")
    # The schedule API form: "Post measurements" on, "Fetch tomorrow from" 13 h, until changed.
    schema = result["data_schema"]
    assert schema is not None
    defaults = {str(key): key.default() for key in schema.schema if callable(key.default)}
    assert (defaults["api_posting"], defaults["api_tomorrow_hour"]) == (True, 13)
    # "Schedule API last fetch: only when the schedule API is configured" (it is not, here).
    assert er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{SERIAL}_schedule_api") is None


async def test_last_run_result_states_and_attributes(hass: HomeAssistant, loaded: MockConfigEntry) -> None:
    """docs/configuration.md, "Entities": Last run result's states and attributes, after a run."""
    await hass.services.async_call(
        DOMAIN, "set_override", {"device_id": device_id(hass, loaded), "reserve_pct": 40}, blocking=True
    )
    state = hass.states.get(entity_id(hass, "sensor", "last_run_result"))
    assert state is not None
    assert state.state == "success"
    row = next(r for r in table(doc("docs/configuration.md"), "## Entities") if r[0] == "Last run result")
    results, attributes = row[2].split("; attributes: ")
    names = STRINGS["entity"]["sensor"]["last_run_result"]["state"]
    assert [names[option].lower() for option in state.attributes["options"]] == results.split(", ")
    documented = [name.split(" ")[0] for name in re.split(r", (?![^(]*\))", attributes)]
    assert documented == [
        key for key in state.attributes if key not in {"options", "device_class", "friendly_name"}
    ]
    assert state.attributes["items"] == {"reserve_pct": "override"}
    assert state.attributes["fields"]["reserve_pct"] is not None


def test_validation_codes_are_the_engine_s_and_translated() -> None:
    """docs/schedules.md, "Validation codes": every code the checks raise, each an `item_<code>` text."""
    section = doc("docs/schedules.md").split("## Validation codes", 1)[1]
    codes = re.sub(r"\([^()]*\)", "", section)  # not the fields named in parentheses
    documented = set(re.findall(r"`([a-z_]+)`", codes))
    source = (COMPONENT / "engine" / "validation.py").read_text(encoding="utf-8")
    raised = set(re.findall(r"\"([a-z]+_[a-z_]+)\"", source)) | {"field_not_supported"}
    assert documented == raised
    forms = STRINGS["config_subentries"]["schedule_item"]["error"]
    for code in documented:
        assert f"item_{code}" in STRINGS["exceptions"], code
        assert f"item_{code}" in forms, code


def test_steps_older_than_400_days_are_ignored() -> None:
    """docs/schedules.md: a plan made afresh looks 400 days back for steps; a kept one holds its step."""
    at = datetime(2026, 6, 1, tzinfo=UTC)
    once = OneOffItem(id="once", at=at, setpoints=Setpoints(reserve_pct=40))
    daily = IntervalItem(id="daily", anchor=at, every_s=86400, setpoints=Setpoints(mode=Mode.IDLE))
    schedule = Schedule([once])
    assert schedule.desired_at(at + timedelta(days=400)) == Setpoints(reserve_pct=40)
    assert Schedule([once]).desired_at(at + timedelta(days=400, seconds=1)) == Setpoints()
    assert schedule.desired_at(at + timedelta(days=400, seconds=1)) == Setpoints(reserve_pct=40)
    # A step that recurs is always recent: the latest occurrence holds.
    assert Schedule([daily]).desired_at(at + timedelta(days=1000)) == Setpoints(mode=Mode.IDLE)


def examples(name: str) -> list[dict[str, Any]]:
    """The action calls of a doc's ```yaml blocks, in order (a block may hold several, split by ---)."""
    blocks = re.findall(r"```yaml\n(.*?)```", doc(name), re.DOTALL)
    calls = [parse_yaml(part) for block in blocks for part in block.split("\n---\n")]
    return [c for c in calls if isinstance(c, dict) and str(c.get("action", "")).startswith(f"{DOMAIN}.")]


# A battery that follows a command at once: the effect check 30 s after a write sees it charge.
@pytest.mark.parametrize("sim_config", [SimConfig(serial=SERIAL, noise_w=0.0, tau_s=0.001)])
async def test_use_case_examples_run_as_written(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> None:
    """docs/use-cases.md: each example action, as written, and what the text says it does."""
    await freeze_at(hass, freezer, datetime(2026, 6, 1, 5, tzinfo=PARIS))  # a Monday, before 06:00
    entry = await setup_entry(hass, modbus_data(simulator.port), wait="background")
    device = device_id(hass, entry)
    calls = examples("docs/use-cases.md")
    assert [c["action"].split(".")[1] for c in calls] == [
        "add_preset",
        "add_item",
        "add_item",
        "add_item",
        "set_override",
        "run_item",
        "get_journal",
    ]

    async def act(index: int, **ids: str) -> Any:
        data = {
            key: ids.get(key, device) if key in ("device_id", "item_id") else v
            for key, v in calls[index]["data"].items()
        }
        return await hass.services.async_call(
            DOMAIN,
            calls[index]["action"].split(".")[1],
            data,
            blocking=True,
            return_response=calls[index]["action"].split(".")[1] in ("get_journal", "add_item", "add_preset"),
        )

    for index in range(4):  # §1 night idle (the preset, or two crons), §3 on-peak reserve 10 %
        await act(index)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert simulator.read_register("mode") == MODE_CODES["idle"]  # 05:00: the night
    # §1: the crons' steps are sticky, so 07:30 still says automatic; §3: on-peak reserve 10 %.
    await move_to(hass, freezer, datetime(2026, 6, 1, 7, 30, tzinfo=PARIS))
    assert simulator.read_register("mode") == MODE_CODES["auto"]
    assert simulator.read_register("reserve_pct") == 10
    # §6: force charge at 2 kW for two hours, then the schedule again.
    await act(4)
    assert simulator.read_register("mode") == MODE_CODES["force_charge"]
    assert simulator.read_register("power_setpoint_w") == -2000
    await move_to(hass, freezer, datetime(2026, 6, 1, 7, 31, tzinfo=PARIS))
    await move_to(hass, freezer, datetime(2026, 6, 1, 9, 31, tzinfo=PARIS))
    assert simulator.read_register("mode") == MODE_CODES["auto"]
    # §6: run an item (from list_items) now; §7: list_items filters, the journal, the preview.
    listed = await hass.services.async_call(
        DOMAIN, "list_items", {"device_id": device, "type": ["window"]}, blocking=True, return_response=True
    )
    windows = next(iter(cast(dict[str, Any], listed).values()))["items"]
    assert {w["name"] for w in windows} == {"Heures pleines", "Night idle 22:00-06:00"}
    assert {"next_start", "last_run", "last_result"} <= set(windows[0])
    heures_pleines = next(w["id"] for w in windows if w["name"] == "Heures pleines")
    await act(5, item_id=heures_pleines)
    paused = await hass.services.async_call(
        DOMAIN, "list_items", {"device_id": device, "enabled": False}, blocking=True, return_response=True
    )
    assert next(iter(cast(dict[str, Any], paused).values()))["items"] == []
    journal = next(iter(cast(dict[str, Any], await act(6)).values()))
    assert journal["records"] == [], str(journal["records"])  # nothing failed
    assert set(journal) >= {"records", "statistics"}
    preview = await hass.services.async_call(
        DOMAIN, "preview_plan", {"device_id": device, "hours": 48}, blocking=True, return_response=True
    )
    assert next(iter(cast(dict[str, Any], preview).values()))["changes"]


async def test_diagnostics_hold_a_day_of_plan_and_the_last_50_records(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> None:
    """docs/troubleshooting.md: diagnostics hold the plan for the next 24 hours, the last 50 records."""
    await freeze_at(hass, freezer, datetime(2026, 6, 1, 10, 30, tzinfo=PARIS))
    entry = await setup_entry(
        hass,
        modbus_data(simulator.port),
        items=[
            cron_item("Even", "0 */2 * * *", reserve_pct=30),
            cron_item("Odd", "0 1-23/2 * * *", reserve_pct=40),
        ],
    )
    journal = entry.runtime_data.controller.journal
    for minute in range(60):
        journal.add(
            trigger=Trigger.MANUAL,
            scheduled=None,
            executed=datetime(2026, 6, 1, 9, minute, tzinfo=PARIS),
            result=Result.SKIPPED,
            note=f"record {minute}",
        )
    diag = await async_get_config_entry_diagnostics(hass, entry)
    changes = [datetime.fromisoformat(change["at"]) for change in diag["plan_24h"]]
    assert changes[0] == datetime(2026, 6, 1, 11, tzinfo=PARIS)
    assert changes[-1] == datetime(2026, 6, 2, 10, tzinfo=PARIS)
    assert len(changes) == 24
    assert len(diag["journal_tail"]) == 50
    assert diag["journal_tail"][-1]["note"] == "record 59"


def strings_texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [text for value in node.values() for text in strings_texts(value)]
    return [node] if isinstance(node, str) else []


def symptoms(name: str) -> list[str]:
    """The italic message texts (three words or more) in the first column of a doc's tables."""
    cells = re.findall(r"^\| ([^|]*)", doc(name), re.MULTILINE)
    return [text for cell in cells for text in re.findall(r"\*([^*]+)\*", cell) if len(text.split()) >= 3]


def fragments(text: str) -> list[str]:
    return [part.strip() for part in text.split("…") if part.strip()]


def test_troubleshooting_messages_are_the_ones_shown() -> None:
    """docs/troubleshooting.md: each message quoted is a text of strings.json (… stands for a name)."""
    texts = [*strings_texts(STRINGS), "Failed to connect"]  # Home Assistant's common cannot_connect
    for symptom in symptoms("docs/troubleshooting.md"):
        assert any(all(part in text for part in fragments(symptom)) for text in texts), symptom


def test_every_repair_issue_is_explained() -> None:
    """docs/troubleshooting.md names every repair issue Battery Steward raises, by its title."""
    documented = symptoms("docs/troubleshooting.md")
    for key, issue in STRINGS["issues"].items():
        title = re.sub(r"\{[a-z_]+\}", "…", issue["title"])
        assert any(all(part in title for part in fragments(symptom)) for symptom in documented), key


async def test_a_suspended_field_still_takes_an_override_and_a_closed_gate_says_dispatch_off(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery, tick: Tick
) -> None:
    """docs/troubleshooting.md: fight detection stops corrections, not an override you set; runs
    with the Dispatch switch off are *skipped*, "dispatch off"."""
    await freeze_at(hass, freezer, START)
    options = {"fight_max_corrections": 2, "fight_window_min": 1440}
    entry = await setup_entry(
        hass, modbus_data(simulator.port), options=options, items=[PEAK, NIGHT], wait="background"
    )
    await tick(60)
    for value in (50, 60, 50):  # something else keeps changing the reserve
        simulator.set_control("reserve_pct", value)
        await tick(20)
    controller = entry.runtime_data.controller
    assert "reserve_pct" in controller.fight.suspended
    device = device_id(hass, entry)
    await hass.services.async_call(
        DOMAIN, "set_override", {"device_id": device, "reserve_pct": 70}, blocking=True
    )
    assert simulator.read_register("reserve_pct") == 70
    assert "reserve_pct" in controller.fight.suspended
    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": entity_id(hass, "switch", "dispatch")}, blocking=True
    )
    await hass.services.async_call(
        DOMAIN, "set_override", {"device_id": device, "reserve_pct": 30}, blocking=True
    )
    last = controller.journal.last
    assert last is not None
    assert (last.result, last.note) == (Result.SKIPPED, "dispatch off")
    assert simulator.read_register("reserve_pct") == 70


async def test_reliability_counts(hass: HomeAssistant, loaded: MockConfigEntry) -> None:
    """docs/reliability.md: the number of actions fuzzed and of entity actions refused to non-admins."""
    text = doc("docs/reliability.md")
    fuzzed = re.search(r"hypothesis payloads for all (\d+) actions", text)
    assert fuzzed is not None
    assert int(fuzzed[1]) == len(SERVICES)
    counted = re.search(
        r"\((\d+) on the simulator's Modbus entry: "
        r"(\d+) buttons, (\d+) selects, (\d+) numbers, (\d+) switches\)",
        text,
    )
    assert counted is not None
    platforms = [
        entity.entity_id.split(".")[0]
        for entity in er.async_entries_for_config_entry(er.async_get(hass), loaded.entry_id)
        if not entity.config_subentry_id  # an item's switch is not the battery's (no items here anyway)
    ]
    counts = [platforms.count(platform) for platform in ("button", "select", "number", "switch")]
    assert [int(n) for n in counted.groups()] == [sum(counts), *counts]
    assert f"| non-admin through entities | {sum(counts)} entity actions" in text


@pytest.mark.parametrize("sim_config", [SimConfig(serial=SERIAL, noise_w=0.0, tau_s=0.05)])
async def test_a_switch_shows_switching_on_both_selects_while_it_safe_stops(
    hass: HomeAssistant, loaded: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    """docs/dispatch.md: during a source switch the selects' attribute `switching` is true."""
    selects = [entity_id(hass, "select", key) for key in ("schedule_source", "transport")]
    for select in selects:
        assert hass.states.get(select).attributes["switching"] is False  # type: ignore[union-attr]
    simulator.model.stuck_power_w = 3000.0  # the power does not fall: the stop waits for its timeout
    loaded.runtime_data.controller.settings = replace(
        loaded.runtime_data.controller.settings, safe_stop_timeout_s=1.0
    )
    switch = hass.async_create_task(
        hass.services.async_call(
            DOMAIN, "set_source", {"device_id": device_id(hass, loaded), "source": "api"}, blocking=True
        )
    )
    seen: set[bool] = set()
    while not switch.done():
        seen |= {hass.states.get(s).attributes["switching"] for s in selects}  # type: ignore[union-attr]
        await asyncio.sleep(0.05)
    with pytest.raises(HomeAssistantError):
        await switch  # the threshold was never reached: switch_failed, the old source stays
    assert True in seen
    for select in selects:
        assert hass.states.get(select).attributes["switching"] is False  # type: ignore[union-attr]


@pytest.mark.parametrize(("on_stop", "mode_after"), [("leave", "force_discharge"), ("hand_back", "auto")])
async def test_removing_a_battery_writes_only_what_the_stop_option_says(
    hass: HomeAssistant, simulator: SimulatedBattery, on_stop: str, mode_after: str
) -> None:
    """docs/installation.md, "Removal": by default nothing is written; *hand control back* writes auto."""
    entry = await setup_entry(
        hass, modbus_data(simulator.port), options={"on_stop": on_stop}, wait="background"
    )
    await hass.services.async_call(
        DOMAIN,
        "set_override",
        {"device_id": device_id(hass, entry), "mode": "force_discharge", "until_cleared": True},
        blocking=True,
    )
    writes = simulator.write_count
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert simulator.read_register("mode") == MODE_CODES[mode_after]
    assert (simulator.write_count == writes) == (on_stop == "leave")


@pytest.mark.parametrize("profile", ["marstek", "huawei", "sungrow", "victron"])
def test_every_register_the_doc_lists_is_in_the_profile(profile: str) -> None:
    """docs/supported-devices.md: each register a vendor profile's tables name is one the profile uses."""
    section = doc("docs/supported-devices.md").split(f"\n## `{profile}`", 1)[1].split("\n## ", 1)[0]
    source = (COMPONENT / "device" / "profiles" / f"{profile}.py").read_text(encoding="utf-8")
    in_code = {int(n) for n in re.findall(r"\b\d{3,5}\b", source)}
    listed: list[int] = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if cells and re.match(r"^\d", cells[0]):
            listed += [int(re.findall(r"\d+", part)[0]) for part in cells[0].split("/")]
    assert len(listed) >= 9
    assert sorted(set(listed) - in_code) == []


@pytest.mark.parametrize("profile", ["steward", "marstek", "huawei", "sungrow", "victron"])
def test_capability_table_is_what_the_profile_declares(profile: str) -> None:
    """docs/supported-devices.md, "Capabilities": the column of each profile with fixed capabilities."""
    rows = table(doc("docs/supported-devices.md"), "## Capabilities")
    header = doc("docs/supported-devices.md").split("| Capability |", 1)[1].splitlines()[0]
    column = [c.strip() for c in header.strip().strip("|").split("|")].index(f"{profile}") + 1
    cells = {row[0]: row[column] for row in rows}
    declared = make_profile(profile, {}).capabilities

    def said(cell: str) -> bool:
        return cell.split(" ", maxsplit=1)[0] in ("yes", "all")

    assert (declared.modes == frozenset(Mode)) == said(cells["modes"])
    assert declared.reserve == said(cells["backup reserve"])
    assert declared.power_setpoint == said(cells["power setpoint"])
    assert declared.active_power == said(cells["active power measured"])
    assert declared.reactive_power == said(cells["reactive power"])
    assert declared.enable == said(cells["enable/disable"])
    voltage, temperature = cells["voltage / temperature"].split(" / ")
    assert (declared.voltage, declared.temperature) == (said(voltage), said(temperature))
    assert declared.energy == said(cells["energy counters"])


def test_register_map_tables_are_registers_py() -> None:
    """docs/register-map.md: each register's address, type and scale as `device/registers.py` has it."""
    defined = {reg.name: reg for reg in vars(registers).values() if isinstance(reg, registers.Register)}
    dash = "\N{EN DASH}"
    rows: list[list[str]] = []
    header = ""
    for line in doc("docs/register-map.md").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if not cells:
            header = ""
        elif not header:
            header = cells[0]
        elif header == "Address" and cells[1].startswith("`"):
            rows.append(cells)
    assert len(rows) == len(defined)
    for address, name, kind, unit, *_ in rows:
        reg = defined[name.strip("`")]
        assert reg.address == int(address.split(dash)[0]), name
        assert kind.split(" ")[0] == reg.type.value, name
        if reg.scale != 1:
            assert unit.startswith(f"{reg.scale:g} "), name


async def test_register_map_python_example_runs(
    simulator: SimulatedBattery, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/register-map.md, "Talking to it with pymodbus": the example, run against the simulator."""
    code = re.findall(r"```python\n(.*?)```", doc("docs/register-map.md"), re.DOTALL)[0]
    code = code.replace("port=5020", f"port={simulator.port}").replace("asyncio.run(main())", "")
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    await namespace["main"]()
    assert capsys.readouterr().out.splitlines() == [SERIAL, "50.0"]
    assert simulator.read_register("mode") == MODE_CODES["force_discharge"]
    assert simulator.read_register("power_setpoint_w") == 2000


def test_simulator_options_listed_are_its_options() -> None:
    """docs/register-map.md, "Running the simulator on its own": the options of the steward map."""
    listed = doc("docs/register-map.md").split("Options: ", 1)[1].split(". It logs", 1)[0]
    documented = {option.split("/")[-1] for option in re.findall(r"`(-[-a-z/]+)`", listed)}
    parser = build_parser()
    options = {
        option for action in parser._actions for option in action.option_strings if option.startswith("--")
    }
    assert documented <= options
    profile_options = {
        o for o in options if re.match(r"--(profile|sunspec|marstek|register-map|no-sunspec)", o)
    }
    assert options - documented - profile_options == {"--help"}


@pytest.mark.parametrize("preset", PRESETS, ids=lambda preset: preset.key)
def test_every_bridge_preset_is_documented_with_its_source_and_entities(preset: Preset) -> None:
    """docs/entity-bridge.md, "Presets": each preset's source is named and its entities are listed."""
    section = doc("docs/entity-bridge.md").split("\n## Presets", 1)[1].split("\n## Writing a mapping", 1)[0]
    parts = preset.source.split(" ")[0].split("/")
    # A core integration by its folder, a community one by its repository (owner/name).
    named = f"homeassistant/components/{parts[2]}/" if parts[0] == "homeassistant" else "/".join(parts[:2])
    assert named in section, preset.key
    for role, match in preset.roles.items():
        key = match.their_key or (match.unique_id or "").strip("^_$").replace("\\", "")
        assert key in section, f"{preset.key} {role}: {key}"


def test_readme_names_every_benchmark_and_each_prints_json() -> None:
    """README.md, "Benchmarks": every script in benchmarks/, each printing its figures with emit (JSON)."""
    section = doc("README.md").split("## Benchmarks", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(?:\.venv/bin/python benchmarks/)?([a-z_]+\.py)`", section))
    scripts = {path.name for path in (ROOT / "benchmarks").glob("*.py") if not path.name.startswith("_")}
    assert named == scripts
    harness = (ROOT / "benchmarks" / "_harness.py").read_text(encoding="utf-8")
    assert "print(json.dumps(clean), flush=True)" in harness
    for script in scripts:
        assert re.search(r"\bemit\(", (ROOT / "benchmarks" / script).read_text(encoding="utf-8")), script


async def test_desired_mode_only_where_the_mode_can_be_set(hass: HomeAssistant) -> None:
    """docs/configuration.md, "Entities": Desired mode exists only for a battery whose mode can be set."""
    assert await async_setup_component(
        hass,
        "input_number",
        {
            "input_number": {
                "soc": {"min": 0, "max": 100, "step": 1, "initial": 55},
                "reserve": {"min": 5, "max": 100, "step": 1, "initial": 20},
            }
        },
    )
    serial = "bridge-input_number.soc"
    data = {
        CONF_KIND: KIND_BRIDGE,
        CONF_SERIAL: serial,
        CONF_SOC_ENTITY: "input_number.soc",
        CONF_RESERVE_ENTITY: "input_number.reserve",
        CONF_RATED_POWER_W: 5000,
    }
    await setup_entry(hass, data, unique_id=serial, wait="background")
    registry = er.async_get(hass)
    assert registry.async_get_entity_id("sensor", DOMAIN, f"{serial}_desired_reserve") is not None
    assert registry.async_get_entity_id("sensor", DOMAIN, f"{serial}_desired_mode") is None
    assert registry.async_get_entity_id("select", DOMAIN, f"{serial}_operating_mode") is None


def test_a_ramp_start_during_a_run_begins_it_again_and_one_step_is_the_end_value() -> None:
    """docs/schedules.md, `ramp`: a start during a run begins it again; a ramp of one step sets `to`."""
    every_five = RampItem(
        id="r", tz="UTC", cron="*/5 * * * *", duration_s=600, step_s=60, power_from_w=0, power_to_w=900
    )
    start = datetime(2026, 6, 1, 12, tzinfo=UTC)
    schedule = Schedule([every_five])
    assert schedule.desired_at(start + timedelta(minutes=4)).power_w == 400
    assert schedule.desired_at(start + timedelta(minutes=5)).power_w == 0  # begun again, not 500
    assert schedule.desired_at(start + timedelta(minutes=9)).power_w == 400
    once = RampItem(id="o", start_at=start, duration_s=30, power_from_w=0, power_to_w=500)  # step_s 60
    assert once.step_s == 60
    assert Schedule([once]).desired_at(start).power_w == 500


def test_develop_prepares_a_loopback_instance_with_one_simulated_battery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README.md, "Logging in to the development instance", and docs/remote-api.md's last paragraph."""
    module = develop_bootstrap()
    monkeypatch.setattr(sys, "argv", ["develop_bootstrap", str(tmp_path)])
    module.main()
    storage = tmp_path / ".storage"

    def data(name: str) -> Any:
        return json.loads((storage / name).read_text(encoding="utf-8"))["data"]

    assert data("onboarding")["done"] == ["user", "core_config", "analytics", "integration"]
    assert data("http")["stable"]["server_host"] == ["127.0.0.1"]
    (entry,) = data("core.config_entries")["entries"]
    assert entry["data"]["kind"] == "simulator"
    said = re.search(r"user `(\w+)`, password\s+`(\w+)`, plant `(\w+)`", doc("docs/remote-api.md"))
    assert said is not None
    options = entry["options"]
    assert (options["api_username"], options["api_password"], options["api_plant"]) == said.groups()
    assert options["api_url"] == "http://127.0.0.1:8124"
    script = doc("scripts/develop")
    assert "--script auth -c config add dev dev" in script
    assert "remote_server --port 8124" in script


def test_the_extra_step_of_each_register_map_asks_what_the_doc_says() -> None:
    """docs/configuration.md, "When adding a battery": the fields of the SunSpec, Marstek, Victron steps."""
    fields = {
        "sunspec": set(vol.Schema(config_flow._power_sign_field({})).schema),
        "marstek": set(config_flow._marstek_schema({}).schema),
        "victron": set(config_flow._victron_schema({}).schema),
    }
    names = {
        step: {STRINGS["config"]["step"][step]["data"][str(key)] for key in keys}
        for step, keys in fields.items()
    }
    text = " ".join(
        doc("docs/configuration.md").split("Some register maps ask for more", 1)[1].split("\n\n")[0].split()
    )
    for step, said in (("sunspec", "SunSpec the"), ("marstek", "Marstek the"), ("victron", "Victron the")):
        clause = text.split(said, 1)[1].split(";", 1)[0].lower()
        assert sorted(name.lower() for name in names[step]) == sorted(
            part.strip().removeprefix("the ") for part in re.split(r",| and ", clause) if part.strip()
        ), step


def test_the_custom_map_example_and_fields_are_the_parser_s() -> None:
    """docs/supported-devices.md, `custom`: the example map is valid as written; the field table and
    the types are the ones a custom map may use."""
    section = doc("docs/supported-devices.md").split("\n## `custom`", 1)[1].split("\n## ", 1)[0]
    example = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)[0]
    parsed = custom_map.parse(example)
    assert parsed.capabilities().modes == frozenset(Mode)
    documented = {
        field
        for line in section.splitlines()
        if line.startswith("| `")
        for field in re.findall(r"`([a-z_]+)`", line.split("|")[1])
    }
    assert documented == set(custom_map.FIELDS)
    types = re.search(r"`type` \(([^)]*)\)", section)
    assert types is not None
    assert tuple(re.findall(r"`([a-z0-9]+)`", types[1])) == custom_map.TYPES


def test_batteries_dashboard_asks_before_safe_stop_and_restore_and_hides_what_is_not_planned() -> None:
    """docs/dashboard.md: *Safe stop* and *Restore* ask for a confirmation, *Reconcile now* does not;
    *Desired backup reserve* and *Next change* are hidden while unavailable."""
    keys = ("desired_reserve", "next_change", "state_of_charge", "safe_stop", "restore", "reconcile_now")
    section = battery_section("Garage", {key: (f"sensor.garage_{key}", None) for key in keys})
    tiles = {
        card["entity"].removeprefix("sensor.garage_"): card for card in section["cards"] if "entity" in card
    }
    asks = {key for key, tile in tiles.items() if "confirmation" in tile.get("icon_tap_action", {})}
    assert asks == {"safe_stop", "restore"}
    hidden = {key for key, tile in tiles.items() if "visibility" in tile}
    assert hidden == {"desired_reserve", "next_change"}
    for key in hidden:
        assert tiles[key]["visibility"] == [
            {"condition": "state", "entity": f"sensor.garage_{key}", "state_not": "unavailable"}
        ]


def test_discovery_is_for_fronius_only() -> None:
    """docs/troubleshooting.md, "Known limitations": the manifest matches Fronius's DHCP OUI, nothing else."""
    manifest = json.loads((COMPONENT / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["dhcp"] == [{"macaddress": "0003AC*"}]
    assert not {"zeroconf", "ssdp", "usb", "bluetooth", "mqtt", "homekit"} & set(manifest)


def test_admin_only_default_follows_the_enable_flag_as_documented() -> None:
    """docs/reliability.md, "Who can do what": on by default where the plant can be disabled."""
    text = " ".join(
        doc("docs/reliability.md").split("*Only administrators control this battery* (options)")[1].split()
    )
    said_off = re.search(r"home batteries \(([^)]*)\)", text)
    assert said_off is not None
    off = {name.strip().lower() for name in said_off[1].split(",")} - {"the entity bridge"}
    fixed = ("steward", "marstek", "huawei", "sungrow", "victron")
    assert off == {name for name in fixed if not make_profile(name, {}).capabilities.enable}
    assert "the steward simulator" in text
    assert make_profile("steward", {}).capabilities.enable


def anchors(name: str) -> set[str]:
    """GitHub's anchors for a Markdown file's headings."""
    headings = re.findall(r"^#+ (.+)$", doc(name), re.MULTILINE)
    return {re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-") for heading in headings}


# Files of other projects the docs cite as sources (each checked to exist upstream):
# wills106/homeassistant-solax-modbus (two) and davidusb-geek/emhass.
OTHER_PROJECTS_FILES = {
    "docs/solax-mode1-modbus-power-control.md",
    "docs/solax-G4-operation-modes.md",
    "docs/publish_data.md",
}


def test_every_link_to_a_section_finds_it() -> None:
    """README.md and docs/*.md: each `page.md#section` and `(#section)` names a heading that exists, and
    each file of this repository named by its path exists."""
    # docs/benchmarks.md is another engineer's (its figures change with each run): not read here.
    docs = sorted(path.name for path in (ROOT / "docs").glob("*.md") if path.name != "benchmarks.md")
    pages = ["README.md", *(f"docs/{name}" for name in docs)]
    for page in pages:
        text = doc(page)
        for target, anchor in re.findall(r"([a-z-]+\.md)#([a-z0-9-]+)", text):
            linked = target if target == "README.md" else f"docs/{target}"
            assert anchor in anchors(linked), f"{page}: {target}#{anchor}"
        for anchor in re.findall(r"\]\(#([a-z0-9-]+)\)", text):
            assert anchor in anchors(page), f"{page}: #{anchor}"
        for named in re.findall(
            r"`((?:docs|tests|scripts|benchmarks|blueprints|dashboards)/[\w./-]+)`", text
        ):
            assert (ROOT / named).exists() or named in OTHER_PROJECTS_FILES, f"{page}: {named}"
