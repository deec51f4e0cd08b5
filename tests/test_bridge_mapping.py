"""The bridge driver over a hand-written mapping: shapes and edge cases no preset exercises."""

from typing import Any

from homeassistant.core import HomeAssistant, ServiceCall
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.battery_steward.bridge import BridgeConfig, EntityBridgeDriver
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
