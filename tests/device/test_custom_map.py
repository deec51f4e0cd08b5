"""Custom register maps: precise validation errors, a property test, and end to end over TCP."""

from collections.abc import AsyncIterator, Callable
import json
from pathlib import Path
import string
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
import yaml  # type: ignore[import-untyped]

from custom_components.battery_steward.device.driver import (
    UnsupportedDeviceError,
    UnsupportedFieldError,
)
from custom_components.battery_steward.device.modbus import ModbusBatteryDriver
from custom_components.battery_steward.device.profiles import make_profile
from custom_components.battery_steward.device.profiles.custom import (
    ERROR_CODES,
    FIELDS,
    RegisterMap,
    RegisterMapError,
    parse,
    validate,
)
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery, cli
from custom_components.battery_steward.device.simulator.presentation import make_presentation
from custom_components.battery_steward.engine.state import Mode, Setpoints

from .conftest import FakeClock

STRINGS = Path(__file__).parents[2] / "custom_components" / "battery_steward" / "strings.json"

GOOD_MAP = """
manufacturer: Acme
model: Home 10
word_order: little
max_charge_w: 4000
max_discharge_w: 4500
capacity_kwh: 9.5
modes: {auto: 0, force_charge: 1, force_discharge: 2, idle: 4}
registers:
  - {field: serial, address: 0, type: str, length: 6}
  - {field: firmware, address: 6, type: str, length: 2}
  - {field: soc_pct, address: 1000, type: u16, scale: 0.1}
  - {field: active_power_w, address: 1001, type: i32}
  - {field: voltage_v, address: 1003, type: u16, scale: 0.01}
  - {field: temperature_c, address: 1004, type: i16, scale: 0.1}
  - {field: mode, address: 2000, type: u16, access: read_write}
  - {field: reserve_pct, address: 2001, type: u16, access: read_write}
  - {field: power_w, address: 2002, type: i32, word_order: big, access: read_write}
  - {field: enabled, address: 2004, type: u16, access: read_write}
"""


def _good() -> dict[str, Any]:
    return yaml.safe_load(GOOD_MAP)  # type: ignore[no-any-return]


def test_good_map() -> None:
    register_map = parse(GOOD_MAP)
    assert register_map.manufacturer == "Acme"
    assert register_map.limits.max_apparent_va == 4500
    assert register_map.modes[Mode.IDLE] == 4
    assert register_map.registers["active_power_w"].register.swap_words
    assert not register_map.registers["power_w"].register.swap_words
    caps = register_map.capabilities()
    assert caps.reserve
    assert caps.enable
    assert not caps.reactive_power
    assert not caps.energy
    assert caps.modes == frozenset(Mode)


def _with(path: str, value: Any) -> dict[str, Any]:
    document = _good()
    target: Any = document
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if value is _DELETE:
        del target[int(last) if last.isdigit() else last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return document


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "code", "placeholders"),
    [
        ("colour", "red", "map_unknown_key", {"path": "map", "key": "colour"}),
        ("max_charge_w", _DELETE, "map_missing_key", {"path": "map", "key": "max_charge_w"}),
        ("max_charge_w", -5, "map_bad_number", {"path": "max_charge_w"}),
        ("word_order", "middle", "map_bad_choice", {"path": "word_order", "choices": "big, little"}),
        ("model", "", "map_bad_text", {"path": "model"}),
        ("registers", {"a": 1}, "map_not_list", {"path": "registers"}),
        ("registers.2", 7, "map_not_mapping", {"path": "registers[2]"}),
        ("registers.2.address", 70000, "map_bad_integer", {"path": "registers[2].address"}),
        ("registers.2.address", 1001, "map_overlap", {"path": "registers[3].address", "other": "soc_pct"}),
        ("registers.2.type", "float", "map_bad_choice", {"path": "registers[2].type"}),
        ("registers.2.type", "str", "map_missing_key", {"path": "registers[2]", "key": "length"}),
        ("registers.2.length", 3, "map_unknown_key", {"path": "registers[2]", "key": "length"}),
        ("registers.2.scale", 0, "map_bad_scale", {"path": "registers[2].scale"}),
        ("registers.2.field", "serial", "map_duplicate_field", {"field": "serial"}),
        ("registers.2.field", "power", "map_bad_choice", {"path": "registers[2].field"}),
        ("registers.2.access", "read_write", "map_writable_measurement", {"field": "soc_pct"}),
        ("registers.7.access", "read", "map_read_only_control", {"field": "reserve_pct"}),
        (
            "registers.0",
            {"field": "serial", "address": 0, "type": "u16"},
            "map_field_type",
            {"field": "serial", "types": "str"},
        ),
        (
            "registers.2",
            {"field": "reactive_power_var", "address": 9, "type": "u16"},
            "map_missing_field",
            {},
        ),
        (
            "registers.0",
            {"field": "model", "address": 60, "type": "str", "length": 2},
            "map_missing_field",
            {},
        ),
        ("modes", _DELETE, "map_missing_key", {"path": "map", "key": "modes"}),
        ("modes", {}, "map_missing_key", {"path": "modes"}),
        ("modes.idle", 1, "map_duplicate_mode", {"path": "modes"}),
        ("modes.idle", 70000, "map_bad_integer", {"path": "modes.idle", "maximum": "65535"}),
        ("modes.sleep", 5, "map_unknown_key", {"path": "modes", "key": "sleep"}),
    ],
)
def test_precise_errors(path: str, value: Any, code: str, placeholders: dict[str, str]) -> None:
    with pytest.raises(RegisterMapError) as caught:
        validate(_with(path, value))
    assert caught.value.code == code
    assert placeholders.items() <= caught.value.placeholders.items()


def test_document_level_errors() -> None:
    with pytest.raises(RegisterMapError) as caught:
        parse("registers: [\n  {field: soc_pct,\n")
    assert caught.value.code == "map_yaml"
    assert caught.value.placeholders["line"].isdigit()
    for text, code in (("- 1\n- 2", "map_not_mapping"), ("x" * 100_001, "map_too_long")):
        with pytest.raises(RegisterMapError) as caught:
            parse(text)
        assert caught.value.code == code
    document = _good()
    del document["modes"]
    document["registers"] = [reg for reg in document["registers"] if reg["field"] != "mode"]
    assert validate(document).capabilities().modes == frozenset({Mode.AUTO})
    document["modes"] = {"auto": 0}
    with pytest.raises(RegisterMapError) as caught:
        validate(document)
    assert caught.value.placeholders == {"field": "mode"}
    document = _good()
    document["registers"] = [{"field": f, "address": 0, "type": "u16"} for f in range(201)]
    with pytest.raises(RegisterMapError, match="map_bad_integer"):
        validate(document)


def test_every_error_code_is_translated() -> None:
    strings = json.loads(STRINGS.read_text())
    for section in (strings["config"]["error"], strings["options"]["error"]):
        for code, placeholders in ERROR_CODES.items():
            assert code in section, code
            for name in placeholders:
                assert f"{{{name}}}" in section[code], (code, name)


# Property: any document is either accepted or refused with a known code, never anything else.

_keys = st.sampled_from(["field", "address", "type", "scale", "word_order", "access", "length", "x"])
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=string.printable, max_size=12),
    st.sampled_from([*FIELDS, "u16", "i16", "u32", "i32", "str", "read", "read_write", "big", "little"]),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_register = st.dictionaries(_keys, _values, max_size=7) | st.fixed_dictionaries(
    {
        "field": st.sampled_from(FIELDS),
        "address": st.integers(min_value=-2, max_value=70000),
        "type": st.sampled_from(["u16", "i16", "u32", "i32", "str"]),
    },
    optional={
        "scale": st.one_of(st.floats(allow_nan=True), st.integers()),
        "length": st.integers(min_value=-1, max_value=70),
        "access": st.sampled_from(["read", "read_write", "write"]),
        "word_order": st.sampled_from(["big", "little", "x"]),
    },
)
_document = st.one_of(
    _values,
    st.fixed_dictionaries(
        {
            "max_charge_w": st.one_of(st.integers(min_value=-10, max_value=10**10), _scalars),
            "max_discharge_w": st.integers(min_value=1, max_value=10000),
            "registers": st.lists(_register, max_size=8),
        },
        optional={
            "serial": _scalars,
            "modes": st.dictionaries(st.sampled_from([*(m.value for m in Mode), "z"]), _values, max_size=5),
            "word_order": _scalars,
            "capacity_kwh": _scalars,
            "max_apparent_va": _scalars,
            "model": _scalars,
            "manufacturer": _scalars,
        },
    ),
)


def _outcome[T](check: Callable[[T], RegisterMap], document: T) -> RegisterMap | RegisterMapError:
    """The map, or the RegisterMapError; any other exception fails the test."""
    try:
        return check(document)
    except RegisterMapError as err:
        return err


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_document)
def test_generated_documents_are_accepted_or_refused_precisely(document: Any) -> None:
    outcome = _outcome(validate, document)
    if isinstance(outcome, RegisterMapError):
        assert outcome.code in ERROR_CODES
        assert set(outcome.placeholders) == set(ERROR_CODES[outcome.code])
        assert all(isinstance(v, str) for v in outcome.placeholders.values())
        return
    register_map = outcome
    assert isinstance(register_map, RegisterMap)
    assert "soc_pct" in register_map.registers
    make_profile("custom", {"map": register_map})  # a valid map always makes a profile


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_generated_text_is_accepted_or_refused_precisely(text: str) -> None:
    outcome = _outcome(parse, text)
    assert isinstance(outcome, RegisterMap) or outcome.code in ERROR_CODES


@pytest.fixture
async def custom_battery(clock: FakeClock) -> AsyncIterator[tuple[SimulatedBattery, ModbusBatteryDriver]]:
    register_map = parse(GOOD_MAP)
    battery = SimulatedBattery(
        SimConfig(serial="ACME01", firmware="v2", noise_w=0.0, max_charge_w=4000, max_discharge_w=4500),
        clock=clock,
        presentation=make_presentation("custom", {"map": register_map}),
    )
    await battery.start(host="127.0.0.1", port=0)
    driver = ModbusBatteryDriver(
        "127.0.0.1", battery.port, 1, profile=make_profile("custom", {"map": register_map})
    )
    yield battery, driver
    await driver.close()
    await battery.stop()


async def test_custom_map_end_to_end(
    custom_battery: tuple[SimulatedBattery, ModbusBatteryDriver], clock: FakeClock
) -> None:
    battery, driver = custom_battery
    info = await driver.identify()
    assert (info.manufacturer, info.model, info.serial, info.firmware) == ("Acme", "Home 10", "ACME01", "v2")
    assert info.capacity_kwh == 9.5
    reading = await driver.read()
    assert (reading.soc_pct, reading.mode, reading.reserve_pct, reading.enabled) == (
        50.0,
        Mode.AUTO,
        20,
        True,
    )
    assert reading.reactive_power_var == 0.0
    assert reading.charge_energy_kwh is None
    await driver.write(Setpoints(mode=Mode.FORCE_CHARGE, power_w=-3000, reserve_pct=10, reactive_var=0))
    assert [w.name for w in battery.writes_log] == ["reserve_pct", "power_w", "mode"]
    clock.advance(60)
    reading = await driver.read()
    assert (reading.mode, reading.power_setpoint_w, reading.reserve_pct) == (Mode.FORCE_CHARGE, -3000, 10)
    assert reading.active_power_w == pytest.approx(-3000, abs=1)  # little word order, negative, round trip
    with pytest.raises(UnsupportedFieldError):
        await driver.write(Setpoints(reactive_var=10))
    await driver.set_enabled(False)
    assert not (await driver.read()).enabled
    await driver.write(Setpoints(mode=Mode.IDLE))
    assert battery.model.mode == 3


async def test_custom_map_refused_by_a_foreign_device(simulator: SimulatedBattery) -> None:
    driver = ModbusBatteryDriver(
        "127.0.0.1", simulator.port, 1, profile=make_profile("custom", {"map": parse(GOOD_MAP)})
    )
    with pytest.raises(UnsupportedDeviceError):
        await driver.identify()
    await driver.close()
    with pytest.raises(ValueError, match="validated register map"):
        make_profile("custom", {})
    with pytest.raises(ValueError, match="validated register map"):
        make_presentation("custom", {})


def test_cli_custom_map(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(GOOD_MAP)
    args = cli.build_parser().parse_args(["--profile", "custom", "--register-map", str(path)])
    assert isinstance(cli._profile_settings(args)["map"], RegisterMap)
    for argv in (["--profile", "custom"], ["--profile", "custom", "--register-map", str(tmp_path / "none")]):
        with pytest.raises(ValueError, match=r"register-map|cannot read"):
            cli._profile_settings(cli.build_parser().parse_args(argv))
