"""The bridge driver over a hand-written mapping: shapes and edge cases no preset exercises."""

from typing import Any

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.battery_steward.bridge import BridgeConfig, EntityBridgeDriver
from custom_components.battery_steward.const import (
    CONF_MAPPING,
    CONF_RATED_POWER_W,
    CONF_RESERVE_ENTITY,
    CONF_SOC_ENTITY,
    DOMAIN,
)
from custom_components.battery_steward.device.driver import (
    DeviceConnectionError,
    UnsupportedDeviceError,
    UnsupportedFieldError,
)
from custom_components.battery_steward.engine.state import Mode, Setpoints


def driver_for(hass: HomeAssistant, mapping: dict[str, Any]) -> EntityBridgeDriver:
    config = BridgeConfig(soc_entity=mapping.get("soc", "sensor.soc"), rated_power_w=5000, mapping=mapping)
    return EntityBridgeDriver(hass, config, entry_id="e", serial="s", name="Test")


def capture(hass: HomeAssistant, domain: str, service: str) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    async def handle(call: ServiceCall) -> None:
        calls.append(dict(call.data))

    hass.services.async_register(domain, service, handle)
    return calls


async def test_signed_power_in_kw_reads_and_writes_through_the_transform(hass: HomeAssistant) -> None:
    hass.states.async_set("sensor.soc", "50")
    hass.states.async_set("number.power", "-1.5")  # kW, + discharge
    calls = capture(hass, "number", "set_value")
    driver = driver_for(
        hass,
        {
            "soc": "sensor.soc",
            "power": {"shape": "signed", "entity": "number.power", "transform": {"kilo": True}},
        },
    )
    info = await driver.identify()
    assert info.writable == {"power_w"}
    reading = await driver.read()
    assert reading.power_setpoint_w == -1500.0
    await driver.write(Setpoints(power_w=2000))
    assert calls == [{"entity_id": "number.power", "value": 2.0}]
    await driver.close()


async def test_a_power_no_mode_can_carry_is_refused(hass: HomeAssistant) -> None:
    hass.states.async_set("sensor.soc", "50")
    hass.states.async_set("select.mode", "a", {"options": ["a", "b"]})
    driver = driver_for(
        hass,
        {
            "soc": "sensor.soc",
            "power": {"shape": "mode"},
            "modes": {
                "auto": {"steps": [{"select": "select.mode", "option": "a"}]},
                "force_charge": {"steps": [{"action": "x.charge", "data": {"power": "{charge}"}}]},
            },
        },
    )
    await driver.identify()
    with pytest.raises(UnsupportedFieldError):
        await driver.write(Setpoints(power_w=-1000))  # the battery is in auto: nothing carries it
    await driver.close()


async def test_a_force_mode_without_a_power_uses_the_rated_power(hass: HomeAssistant) -> None:
    hass.states.async_set("sensor.soc", "50")
    calls = capture(hass, "vendor", "charge")
    driver = driver_for(
        hass,
        {
            "soc": "sensor.soc",
            "power": {"shape": "mode"},
            "modes": {
                "force_charge": {
                    "steps": [{"action": "vendor.charge", "data": {"watts": "{charge}", "kw": "{magnitude}"}}]
                }
            },
        },
    )
    await driver.identify()
    await driver.write(Setpoints(mode=Mode.FORCE_CHARGE))
    assert calls == [{"watts": 5000, "kw": 5000}]
    await driver.close()


async def test_an_invalid_stored_mapping_fails_identification(hass: HomeAssistant) -> None:
    driver = driver_for(hass, {"soc": "sensor.soc", "modes": {"turbo": {}}})
    assert driver.config.entity_ids == ["sensor.soc"]
    with pytest.raises(UnsupportedDeviceError, match="invalid bridge mapping"):
        await driver.identify()


async def test_an_unavailable_button_fails_the_write(hass: HomeAssistant) -> None:
    hass.states.async_set("sensor.soc", "50")
    hass.states.async_set("button.go", "unavailable")
    capture(hass, "button", "press")
    driver = driver_for(hass, {"soc": "sensor.soc", "modes": {"auto": {"steps": [{"press": "button.go"}]}}})
    await driver.identify()
    # The mode cannot be read back, so even with the source unreadable a write is attempted.
    with pytest.raises(DeviceConnectionError, match=r"button\.go"):
        await driver.write(Setpoints(mode=Mode.AUTO))
    await driver.close()


async def test_a_failed_keepalive_is_logged_and_retried_next_time(
    hass: HomeAssistant, freezer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    hass.states.async_set("sensor.soc", "50")
    hass.states.async_set("button.go", "unknown")  # never pressed yet
    presses = capture(hass, "button", "press")
    driver = driver_for(
        hass,
        {
            "soc": "sensor.soc",
            "modes": {"force_charge": {"steps": [{"press": "button.go"}], "keepalive": True}},
            "keepalive_s": 60,
        },
    )
    await driver.identify()
    await driver.identify()  # identified again (a reload): still one keep-alive
    await driver.write(Setpoints(mode=Mode.FORCE_CHARGE))
    assert len(presses) == 1
    hass.states.async_set("button.go", "unavailable")
    freezer.tick(60)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert "keep-alive of force_charge failed" in caplog.text
    hass.states.async_set("button.go", "2026-06-01T17:00:00+00:00")
    freezer.tick(60)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert len(presses) == 2
    await driver.close()
    freezer.tick(60)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert len(presses) == 2  # stopped with the driver


async def test_a_keepalive_without_a_keepalive_mode_never_starts(hass: HomeAssistant) -> None:
    hass.states.async_set("sensor.soc", "50")
    hass.states.async_set("number.reserve", "20")
    driver = driver_for(
        hass, {"soc": "sensor.soc", "reserve": {"entity": "number.reserve"}, "keepalive_s": 60}
    )
    await driver.identify()
    assert driver._keepalive is None
    await driver.close()


MAPPING_YAML = """
soc: sensor.soc
power_sensor: sensor.power
reserve:
  entity: number.reserve
power:
  shape: split
  charge_entity: number.charge
  discharge_entity: number.discharge
modes:
  auto:
    steps:
      - select: select.mode
        option: a
  force_charge:
    steps:
      - select: select.mode
        option: b
"""


async def test_a_mapping_written_in_yaml(hass: HomeAssistant) -> None:
    for entity, state in (("sensor.soc", "50"), ("sensor.power", "0"), ("number.reserve", "20")):
        hass.states.async_set(entity, state)
    hass.states.async_set("number.charge", "0")
    hass.states.async_set("number.discharge", "0")
    hass.states.async_set("select.mode", "a", {"options": ["a", "b"]})
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert "bridge_mapping" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "bridge_mapping"}
    )
    assert result["step_id"] == "bridge_mapping"
    for text, said in (("soc: [unclosed", "while parsing"), ("soc: sensor.soc\n", "nothing to control")):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_MAPPING: text, CONF_RATED_POWER_W: 3000}
        )
        assert result["errors"] == {"base": "bridge_invalid_mapping"}
        assert said in (result["description_placeholders"] or {})["error"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_MAPPING: MAPPING_YAML, CONF_RATED_POWER_W: 3000}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    data = result["data"]
    assert data[CONF_MAPPING]["power"] == {
        "shape": "split",
        "charge_entity": "number.charge",
        "discharge_entity": "number.discharge",
    }
    assert (data[CONF_SOC_ENTITY], data[CONF_RESERVE_ENTITY], data[CONF_RATED_POWER_W]) == (
        "sensor.soc",
        "number.reserve",
        3000,
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    entry = result["result"]
    info = entry.runtime_data.coordinator.info
    assert info.writable == {"mode", "power_w", "reserve_pct"}
    await hass.config_entries.async_unload(entry.entry_id)


async def test_after_a_restart_the_mode_read_back_is_kept_alive(hass: HomeAssistant, freezer: Any) -> None:
    """Nothing written since start-up: the mode and power the entities show are re-sent as they are."""
    hass.states.async_set("sensor.soc", "50")
    hass.states.async_set("select.control", "on", {"options": ["off", "on"]})
    hass.states.async_set("number.power", "1200")  # + charge at the source
    numbers = capture(hass, "number", "set_value")
    selects = capture(hass, "select", "select_option")
    driver = driver_for(
        hass,
        {
            "soc": "sensor.soc",
            "power": {"shape": "signed", "entity": "number.power", "charge_positive": True},
            "modes": {
                "auto": {"steps": [{"select": "select.control", "option": "off"}]},
                "force_charge": {
                    "steps": [
                        {"select": "select.control", "option": "on"},
                        {"number": "number.power", "value": "{signed_charge}"},
                    ],
                    "keepalive": True,
                },
            },
            "keepalive_s": 60,
        },
    )
    await driver.identify()
    reading = await driver.read()
    assert (reading.mode, reading.power_setpoint_w) == (Mode.FORCE_CHARGE, -1200.0)
    freezer.tick(60)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert selects == [{"entity_id": "select.control", "option": "on"}]
    assert numbers == [{"entity_id": "number.power", "value": 1200.0}]
    await driver.close()
