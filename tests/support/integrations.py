"""Stand-ins for the integrations the bridge presets know.

Real Home Assistant entities (select, number, switch, button, sensor) with the unique ids,
translation keys, options and attributes each integration creates, set up through a config entry
of a mocked integration of that name, so the entity registry records them under its platform, as
the real integration would; its actions are registered under its domain with
`hass.services.async_register` and capture their calls. Every service call Home Assistant makes is
recorded (`World.calls`), so a test can check the exact calls the bridge made.
"""

from collections import defaultdict
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from homeassistant.components.button import ButtonEntity
from homeassistant.components.number import NumberEntity
from homeassistant.components.select import SelectEntity
from homeassistant.components.sensor import SensorDeviceClass, SensorEntity
from homeassistant.components.switch import SwitchEntity
from homeassistant.config_entries import ConfigEntry, ConfigFlow
from homeassistant.const import EVENT_CALL_SERVICE
from homeassistant.core import Event, HomeAssistant, ServiceCall, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockModule,
    MockPlatform,
    mock_config_flow,
    mock_integration,
    mock_platform,
)


class StandInFlow(ConfigFlow):
    """The stand-in integration's flow handler (entries are added directly)."""

    VERSION = 1


class FakeEntity(Entity):
    """Common to the stand-ins: a fixed unique id, translation key and name, pushed state."""

    _attr_should_poll = False
    platform_domain = ""

    def __init__(
        self,
        name: str,
        unique_id: str,
        *,
        translation_key: str | None = None,
        device: DeviceInfo | None = None,
        follows: bool = True,
    ) -> None:
        """`follows`: whether a write changes the state (False: the call is accepted, nothing changes)."""
        self._attr_name = name
        self._attr_unique_id = unique_id
        self._attr_translation_key = translation_key
        self._attr_device_info = device
        self.follows = follows

    @callback
    def set_available(self, available: bool) -> None:
        """The source goes away or comes back."""
        self._attr_available = available
        self.async_write_ha_state()


class FakeSelect(FakeEntity, SelectEntity):
    """A select with the integration's options."""

    platform_domain = "select"

    def __init__(self, name: str, unique_id: str, options: list[str], current: str, **kwargs: Any) -> None:
        """Options as the integration lists them."""
        super().__init__(name, unique_id, **kwargs)
        self._attr_options = options
        self._attr_current_option = current

    async def async_select_option(self, option: str) -> None:
        """Take the option (if this stand-in follows writes)."""
        if self.follows:
            self.set_option(option)

    @callback
    def set_option(self, option: str) -> None:
        """Something else (the app, the other integration) changes the option."""
        self._attr_current_option = option
        self.async_write_ha_state()


class FakeNumber(FakeEntity, NumberEntity):
    """A number with the integration's range, step and unit."""

    platform_domain = "number"

    def __init__(
        self,
        name: str,
        unique_id: str,
        value: float,
        *,
        low: float = 0,
        high: float = 100,
        step: float = 1,
        unit: str | None = "%",
        **kwargs: Any,
    ) -> None:
        """Range and unit as the integration declares them."""
        super().__init__(name, unique_id, **kwargs)
        self._attr_native_value = value
        self._attr_native_min_value = low
        self._attr_native_max_value = high
        self._attr_native_step = step
        self._attr_native_unit_of_measurement = unit

    async def async_set_native_value(self, value: float) -> None:
        """Take the value (if this stand-in follows writes)."""
        if self.follows:
            self.change(value)

    @callback
    def change(self, value: float) -> None:
        """Something else changes the value."""
        self._attr_native_value = value
        self.async_write_ha_state()


class FakeSwitch(FakeEntity, SwitchEntity):
    """A switch."""

    platform_domain = "switch"

    def __init__(self, name: str, unique_id: str, on: bool = False, **kwargs: Any) -> None:
        """Initially on or off."""
        super().__init__(name, unique_id, **kwargs)
        self._attr_is_on = on

    async def async_turn_on(self, **kwargs: Any) -> None:
        """On (if this stand-in follows writes)."""
        if self.follows:
            self._attr_is_on = True
            self.async_write_ha_state()

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Off (if this stand-in follows writes)."""
        if self.follows:
            self._attr_is_on = False
            self.async_write_ha_state()


class FakeButton(FakeEntity, ButtonEntity):
    """A button that counts its presses."""

    platform_domain = "button"
    presses = 0

    async def async_press(self) -> None:
        """Count the press."""
        self.presses += 1


class FakeSensor(FakeEntity, SensorEntity):
    """A sensor with the integration's unit and device class."""

    platform_domain = "sensor"

    def __init__(
        self,
        name: str,
        unique_id: str,
        value: float,
        *,
        unit: str = "%",
        device_class: SensorDeviceClass | None = None,
        **kwargs: Any,
    ) -> None:
        """Unit and class as the integration declares them."""
        super().__init__(name, unique_id, **kwargs)
        self._attr_native_value = value
        self._attr_native_unit_of_measurement = unit
        self._attr_device_class = device_class

    @callback
    def set(self, value: float) -> None:
        """The battery reports a new value."""
        self._attr_native_value = value
        self.async_write_ha_state()


def soc_sensor(name: str, unique_id: str, value: float = 50, **kwargs: Any) -> FakeSensor:
    """A state-of-charge sensor."""
    return FakeSensor(name, unique_id, value, device_class=SensorDeviceClass.BATTERY, **kwargs)


def power_sensor(name: str, unique_id: str, value: float = 0, unit: str = "W", **kwargs: Any) -> FakeSensor:
    """A battery power sensor."""
    return FakeSensor(name, unique_id, value, unit=unit, device_class=SensorDeviceClass.POWER, **kwargs)


@dataclass
class World:
    """The stand-in entities (by entity id once added), the actions' calls, and every service call."""

    entities: dict[str, FakeEntity] = field(default_factory=dict)
    actions: list[ServiceCall] = field(default_factory=list)
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    cleanup: ExitStack = field(default_factory=ExitStack)  # closed when the test ends

    def writes(self) -> list[tuple[str, str, dict[str, Any]]]:
        """The service calls made to other integrations (ours and Home Assistant's own left out)."""
        return [call for call in self.calls if call[0] not in ("battery_steward", "homeassistant")]

    def take(self) -> list[tuple[str, str, dict[str, Any]]]:
        """The writes so far, forgetting them."""
        found = self.writes()
        self.calls.clear()
        self.actions.clear()
        return found


def record_calls(hass: HomeAssistant, world: World) -> None:
    """Record every service call, in order, as (domain, service, data)."""

    @callback
    def _called(event: Event) -> None:
        world.calls.append((event.data["domain"], event.data["service"], dict(event.data["service_data"])))

    hass.bus.async_listen(EVENT_CALL_SERVICE, _called)


def register_actions(hass: HomeAssistant, domain: str, services: Iterable[str], world: World) -> None:
    """The integration's actions: accepted, captured, and otherwise doing nothing."""

    async def _handle(call: ServiceCall) -> None:
        world.actions.append(call)

    for service in services:
        hass.services.async_register(domain, service, _handle)


async def setup_integration(
    hass: HomeAssistant, domain: str, entities: list[FakeEntity], world: World
) -> ConfigEntry:
    """A config entry of `domain` whose platforms add `entities` (registered under `domain`)."""
    by_platform: dict[str, list[FakeEntity]] = defaultdict(list)
    for entity in entities:
        by_platform[entity.platform_domain].append(entity)
    platforms = list(by_platform)

    async def setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
        await hass.config_entries.async_forward_entry_setups(entry, platforms)
        return True

    async def unload_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
        return await hass.config_entries.async_unload_platforms(entry, platforms)

    mock_integration(hass, MockModule(domain, async_setup_entry=setup_entry, async_unload_entry=unload_entry))
    mock_platform(hass, f"{domain}.config_flow")
    world.cleanup.enter_context(mock_config_flow(domain, StandInFlow))
    for platform, members in by_platform.items():

        async def add(
            hass: HomeAssistant,
            entry: ConfigEntry,
            async_add_entities: AddConfigEntryEntitiesCallback,
            members: list[FakeEntity] = members,
        ) -> None:
            async_add_entities(members)

        mock_platform(hass, f"{domain}.{platform}", MockPlatform(async_setup_entry=add))
    entry = MockConfigEntry(domain=domain, title=domain)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    for entity in entities:
        assert entity.entity_id is not None
        world.entities[entity.entity_id] = entity
    added: ConfigEntry = entry
    return added
