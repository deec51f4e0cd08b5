"""The bridge mapping as data: transforms, parsing and what it refuses."""

from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from custom_components.battery_steward.bridge_presets import PRESETS, build_mapping, describe
from custom_components.battery_steward.bridge_spec import (
    BridgeSpec,
    BridgeSpecError,
    Condition,
    Transform,
    fill_tokens,
)
from custom_components.battery_steward.engine.state import Mode

SOC = "sensor.soc"
SELECT = "select.mode"


@pytest.mark.parametrize(
    ("transform", "ours", "theirs"),
    [
        (Transform(), 1500.0, 1500.0),
        (Transform(kilo=True), 1500.0, 1.5),  # W -> kW
        (Transform(percent_of_rated=True), 2500.0, 50.0),  # of a 5000 W rating
        (Transform(complement=True), 20.0, 80.0),  # reserve -> depth of discharge
        (Transform(scale=10, offset=5), 3.0, 35.0),
        (Transform(percent_of_rated=True, complement=True), 1000.0, 80.0),
    ],
)
def test_transforms_go_and_come_back(transform: Transform, ours: float, theirs: float) -> None:
    assert transform.to_source(ours, 5000) == pytest.approx(theirs)
    assert transform.from_source(theirs, 5000) == pytest.approx(ours)
    assert Transform.from_dict(transform.as_dict()) == transform


def test_a_full_mapping_round_trips() -> None:
    data: dict[str, Any] = {
        "soc": SOC,
        "power_sensor": "sensor.power",
        "power_sensor_charge_positive": True,
        "reserve": {"entity": "number.reserve", "transform": {"complement": True}, "order": 5},
        "power": {
            "shape": "signed",
            "entity": "number.power",
            "charge_positive": True,
            "transform": {"kilo": True},
            "order": 3,
        },
        "modes": {
            "auto": {"steps": [{"select": SELECT, "option": "a"}, {"switch": "switch.grid", "on": False}]},
            "force_charge": {
                "steps": [
                    {
                        "number": "number.power",
                        "value": "{signed_charge}",
                        "transform": {"kilo": True},
                        "order": 1,
                    },
                    {"action": "x.charge", "data": {"device_id": "{device_id}", "power": "{charge}"}},
                    {"press": "button.go"},
                ],
                "keepalive": True,
            },
        },
        "read_back": {"force_charge": [{"entity": "number.power", "above": 0}]},
        "keepalive_s": 60,
        "device_id": "abc",
    }
    spec = BridgeSpec.from_dict(data)
    assert spec.as_dict() == data
    assert spec.power_writable
    assert spec.conditions(Mode.AUTO) == (
        Condition(entity=SELECT, state="a"),
        Condition(entity="switch.grid", state="off"),
    )
    assert spec.services == ["x.charge"]
    assert "button.go" in spec.entity_ids
    assert "button.go" not in spec.read_entities  # a button has no state worth reading


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be a dictionary"),
        ({"soc": SOC, "nope": 1}, "unknown keys: nope"),
        ({"soc": "not an entity"}, "is not an entity id"),
        ({"soc": SOC}, "nothing to control"),
        ({"soc": SOC, "reserve": "number.x"}, "reserve must be a mapping"),
        (
            {"soc": SOC, "modes": {"turbo": {"steps": [{"select": SELECT, "option": "a"}]}}},
            "'turbo' is not one of",
        ),
        ({"soc": SOC, "modes": {"auto": {"steps": []}}}, "at least one step"),
        ({"soc": SOC, "modes": {"auto": {"steps": [{"select": SELECT}]}}}, "needs an option"),
        ({"soc": SOC, "modes": {"auto": {"steps": [{"number": "number.x"}]}}}, "needs a value"),
        (
            {"soc": SOC, "modes": {"auto": {"steps": [{"number": "number.x", "value": "{x}"}]}}},
            "unknown value",
        ),
        ({"soc": SOC, "modes": {"auto": {"steps": [{"switch": "switch.x"}]}}}, "needs on: true or false"),
        ({"soc": SOC, "modes": {"auto": {"steps": [{"action": "no dot"}]}}}, "is not domain.action"),
        (
            {"soc": SOC, "modes": {"auto": {"steps": [{"action": "a.b", "data": [1]}]}}},
            "data must be a mapping",
        ),
        (
            {"soc": SOC, "modes": {"auto": {"steps": [{"press": "button.x", "select": SELECT}]}}},
            "exactly one of",
        ),
        (
            {"soc": SOC, "modes": {"auto": {"steps": [{"press": "button.x", "transform": {"spin": 1}}]}}},
            "unknown transform keys: spin",
        ),
        (
            {"soc": SOC, "reserve": {"entity": "number.r", "transform": {"scale": 0}}},
            "scale cannot be 0",
        ),
        ({"soc": SOC, "power": {"shape": "sideways"}}, "power shape 'sideways'"),
        ({"soc": SOC, "power": {"shape": "split", "charge_entity": "number.c"}}, "missing its entities"),
        ({"soc": SOC, "power": {"shape": "mode"}}, "nothing to control"),
        (
            {
                "soc": SOC,
                "power": {"shape": "mode"},
                "reserve": {"entity": "number.r"},
                "modes": {"auto": {"steps": [{"press": "button.x"}]}},
            },
            "needs a mode step that carries a power",
        ),
        (
            {"soc": SOC, "reserve": {"entity": "number.r"}, "keepalive_s": 1},
            "at least 5 seconds",
        ),
        (
            {
                "soc": SOC,
                "modes": {"auto": {"steps": [{"select": SELECT, "option": "a"}]}},
                "read_back": {"idle": []},
            },
            "read-back for idle, which has no steps",
        ),
        (
            {
                "soc": SOC,
                "modes": {"auto": {"steps": [{"select": SELECT, "option": "a"}]}},
                "read_back": {"auto": [{"entity": SELECT}]},
            },
            "needs state, above or below",
        ),
        (
            {
                "soc": SOC,
                "modes": {
                    "auto": {"steps": [{"select": SELECT, "option": "a"}]},
                    "idle": {"steps": [{"select": SELECT, "option": "a"}, {"press": "button.x"}]},
                },
            },
            "look the same when read back",
        ),
    ],
)
def test_what_a_mapping_refuses(data: Any, message: str) -> None:
    with pytest.raises(BridgeSpecError, match=message):
        BridgeSpec.from_dict(data)


def test_conditions() -> None:
    assert Condition(entity=SELECT, state="a").holds("a")
    assert not Condition(entity=SELECT, state="a").holds("b")
    assert Condition(entity="number.x", above=0).holds("1.5")
    assert not Condition(entity="number.x", above=0).holds("nan-ish")
    assert Condition(entity="number.x", above=-1, below=1).holds("0")
    assert not Condition(entity="number.x", below=0).holds("0")


def test_tokens_fill_nested_data() -> None:
    assert fill_tokens({"a": ["{charge}", 1], "b": "x"}, {"{charge}": 5}) == {"a": [5, 1], "b": "x"}


@pytest.mark.parametrize("preset", PRESETS, ids=lambda preset: preset.key)
def test_every_preset_cites_its_source_and_makes_a_valid_mapping(preset: Any) -> None:
    assert preset.source
    entities = {role: f"{match.domain}.{role}" for role, match in preset.roles.items()}
    mapping = build_mapping(preset, entities, "device-1")
    spec = BridgeSpec.from_dict(mapping)
    assert spec.soc_entity == "sensor.soc"
    text = describe(mapping)
    for mode in spec.modes:
        assert f"**{mode.value}**" in text


def test_a_mode_whose_entity_is_missing_is_left_out() -> None:
    tesla = next(preset for preset in PRESETS if preset.key == "teslemetry")
    entities = {
        role: f"{match.domain}.{role}" for role, match in tesla.roles.items() if role != "grid_charging"
    }
    mapping = build_mapping(tesla, entities, None)
    assert set(mapping["modes"]) == {"auto", "idle"}  # force charge needs the grid charging switch
    assert "read_back" not in mapping


def test_the_documented_mapping_is_valid() -> None:
    """The example in docs/entity-bridge.md parses as it is written there."""
    text = (Path(__file__).parent.parent / "docs" / "entity-bridge.md").read_text(encoding="utf-8")
    section = text.split("## Writing a mapping", 1)[1]
    example = section.split("```yaml", 1)[1].split("```", 1)[0]
    spec = BridgeSpec.from_dict(yaml.safe_load(example))
    assert spec.power is not None
    assert spec.power.shape == "split"
    assert spec.modes[Mode.FORCE_CHARGE].keepalive
    assert spec.keepalive_s == 1800
