"""Battery Steward: keeps home and lab batteries on plan."""

from typing import Any

from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntry,
    ConfigEntryChange,
)
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.typing import ConfigType

from .api.fetcher import ScheduleFetcher, api_configured, make_client
from .api.posting import start_posting
from .bridge import async_follow_sources
from .connection import async_connect
from .const import DOMAIN, SOURCE_API
from .controller import BatteryController, ControllerSettings
from .coordinator import BatteryCoordinator
from .recording import MeasurementRecording
from .runtime import BatteryConfigEntry, BatteryRuntimeData
from .schedule import entry_items
from .services import async_setup_services
from .store import ControllerStore

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.CALENDAR,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions once, whatever batteries are configured."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: BatteryConfigEntry) -> bool:
    """Connect to the battery (starting the built-in simulator first if chosen) and poll it."""
    connection = await async_connect(hass, entry)
    coordinator = BatteryCoordinator(hass, entry, connection)
    try:
        await coordinator.async_config_entry_first_refresh()
    except ConfigEntryNotReady:
        await connection.async_close()
        raise
    if connection.bridge is not None:
        entry.async_on_unload(
            async_follow_sources(hass, connection.bridge, coordinator.async_request_refresh)
        )
    controller = BatteryController(
        hass,
        entry_id=entry.entry_id,
        name=entry.title,
        coordinator=coordinator,
        store=ControllerStore(hass, entry.entry_id),
        items_factory=lambda: entry_items(entry),
        settings=ControllerSettings.from_options(entry.options),
        connection=connection,
    )
    runtime = entry.runtime_data = BatteryRuntimeData(
        connection=connection,
        coordinator=coordinator,
        controller=controller,
        recording=MeasurementRecording(hass, coordinator.async_read_device, entry.title),
    )
    if api_configured(options := dict(entry.options)):
        client = make_client(async_get_clientsession(hass), options)
        runtime.fetcher = ScheduleFetcher(
            hass, entry, sink=controller, limits=coordinator.info.limits, client=client, options=options
        )
        runtime.poster = start_posting(
            hass,
            entry,
            runtime.recording,
            client=client,
            options=options,
            source_is_api=lambda: controller.source == SOURCE_API,
        )
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    await controller.async_start()
    if (poster := runtime.poster) is not None:
        # The source is known now (restored by the controller): sample for the poster if it posts.
        await runtime.recording.async_feed(poster.gate_open)
    if (fetcher := runtime.fetcher) is not None:
        fetcher.async_start()
        entry.async_on_unload(fetcher.async_stop)
    entry.async_on_unload(_follow_schedule_items(hass, entry, controller))

    async def _async_on_stop(_event: Event) -> None:
        """Home Assistant does not unload entries when it stops: flush and save as an unload does."""
        await _async_stop_work(entry)

    entry.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, _async_on_stop))
    return True


def _follow_schedule_items(
    hass: HomeAssistant, entry: BatteryConfigEntry, controller: BatteryController
) -> CALLBACK_TYPE:
    """Re-plan when schedule items (subentries) are added, edited or deleted.

    An update listener cannot be used with OptionsFlowWithReload, so listen for entry changes
    and compare the subentries.
    """

    def snapshot(changed: ConfigEntry) -> dict[str, Any]:
        # Subentries are updated in place, so compare copies of their data.
        return {sid: dict(sub.data) for sid, sub in changed.subentries.items()}

    seen = snapshot(entry)

    @callback
    def _changed(change: ConfigEntryChange, changed: ConfigEntry) -> None:
        nonlocal seen
        if changed.entry_id != entry.entry_id or change is not ConfigEntryChange.UPDATED:
            return
        if (now := snapshot(changed)) != seen:
            seen = now
            controller.async_plan_changed()

    return async_dispatcher_connect(hass, SIGNAL_CONFIG_ENTRY_CHANGED, _changed)


async def async_unload_entry(hass: HomeAssistant, entry: BatteryConfigEntry) -> bool:
    """Unload platforms, close the connection and stop the built-in simulator."""
    if unloaded := await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
        await _async_stop_work(entry)
        await entry.runtime_data.connection.async_close()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: BatteryConfigEntry) -> None:
    """The battery was deleted: forget its journal, override and day-ahead series."""
    await ControllerStore(hass, entry.entry_id).async_remove()


async def _async_stop_work(entry: BatteryConfigEntry) -> None:
    """Stop sampling and recording (pending rows written), timers and runs (state saved)."""
    await entry.runtime_data.recording.async_shutdown()
    await entry.runtime_data.controller.async_stop()
