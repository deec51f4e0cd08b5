"""Battery Steward: keeps home and lab batteries on plan."""

from contextlib import AsyncExitStack
from typing import Any

from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntry,
    ConfigEntryChange,
)
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers import config_validation as cv, device_registry as dr, entity_registry as er
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.typing import ConfigType

from .api.fetcher import ScheduleFetcher, api_configured, make_client
from .api.posting import start_posting
from .bridge import async_follow_sources
from .connection import async_connect
from .const import CONF_KIND, CONF_SERIAL, DOMAIN, KIND_SIMULATOR, SOURCE_API
from .controller import BatteryController, ControllerSettings
from .coordinator import BatteryCoordinator
from .dashboard import async_batteries_changed, async_register_dashboard
from .default_item import async_ensure_default
from .lifecycle import async_journal_item_changes, async_track_retention
from .plan_feeds import PlanFeeds, async_remove_plan_store
from .recording import MeasurementRecording
from .repairs import Issue, async_clear_issue, async_raise_issue
from .run_watch import async_watch_runs
from .runtime import BatteryConfigEntry, BatteryRuntimeData
from .schedule import entry_items
from .services import async_setup_services
from .simulator_state import SimulatorState
from .store import ControllerStore, async_follow_gate

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
    """Connect to the battery (starting the built-in simulator first if chosen) and poll it.

    A set-up that fails part-way undoes what it did, newest first: no entity is left frozen as
    available, no server or task of the built-in simulator is left behind (a retried entry would
    otherwise leak one per attempt).
    """
    async with AsyncExitStack() as undo:
        await _async_setup(hass, entry, undo)
        undo.pop_all()
    return True


async def _async_setup(hass: HomeAssistant, entry: BatteryConfigEntry, undo: AsyncExitStack) -> None:
    connection = await async_connect(hass, entry)
    undo.push_async_callback(connection.async_close)
    coordinator = BatteryCoordinator(hass, entry, connection)
    if (bridge := connection.bridge) is not None:
        entry.async_on_unload(async_follow_sources(hass, bridge, coordinator.async_request_refresh))
    try:
        await coordinator.async_config_entry_first_refresh()
    except ConfigEntryError as err:
        if err.translation_key == Issue.ANOTHER_BATTERY:  # the coordinator found another battery there
            async_raise_issue(hass, Issue.ANOTHER_BATTERY, entry.entry_id, err.translation_placeholders or {})
        raise
    async_clear_issue(hass, Issue.ANOTHER_BATTERY, entry.entry_id)
    # Registered entities mean the battery ran before: a missing store was lost, not never made.
    store = ControllerStore(
        hass,
        entry.entry_id,
        name=entry.title,
        info=coordinator.info,
        known=bool(er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)),
    )
    await store.async_load()  # validated once, before any entity exists (see store.py)
    feeds = PlanFeeds(hass, entry)
    controller = BatteryController(
        hass,
        entry_id=entry.entry_id,
        name=entry.title,
        coordinator=coordinator,
        store=store,
        items_factory=lambda: feeds.plan_items(entry_items(entry)),
        settings=ControllerSettings.from_options(entry.options),
        connection=connection,
    )
    feeds.controller = controller
    runtime = entry.runtime_data = BatteryRuntimeData(
        connection=connection,
        coordinator=coordinator,
        controller=controller,
        recording=MeasurementRecording(hass, coordinator.async_read_device, entry.title),
    )
    async_ensure_default(hass, entry)  # before the controller plans (it reads the subentries)
    entry.async_on_unload(async_follow_gate(hass, controller))
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
    undo.push_async_callback(hass.config_entries.async_unload_platforms, entry, PLATFORMS)
    undo.push_async_callback(_async_stop_work, entry)
    await feeds.async_start()
    entry.async_on_unload(feeds.async_stop)
    await controller.async_start()
    entry.async_on_unload(async_watch_runs(hass, entry))  # the journal is loaded now
    if (poster := runtime.poster) is not None:
        # The source is known now (restored by the controller): sample for the poster if it posts.
        await runtime.recording.async_feed(poster.gate_open)
    if (fetcher := runtime.fetcher) is not None:
        fetcher.async_start()
        entry.async_on_unload(fetcher.async_stop)
    entry.async_on_unload(_follow_schedule_items(hass, entry, controller))
    entry.async_on_unload(async_journal_item_changes(hass, entry))
    entry.async_on_unload(async_track_retention(hass, entry))

    async def _async_on_stop(_event: Event) -> None:
        """Home Assistant does not unload entries when it stops: flush and save as an unload does."""
        await _async_stop_work(entry)

    entry.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, _async_on_stop))
    async_register_dashboard(hass)  # the generated Batteries dashboard (dashboard.py)
    async_batteries_changed(hass)
    entry.async_on_unload(lambda: async_batteries_changed(hass))


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


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: BatteryConfigEntry, device_entry: dr.DeviceEntry
) -> bool:
    """A device of another serial (a battery this entry no longer drives) may be removed."""
    return (DOMAIN, entry.unique_id or entry.data[CONF_SERIAL]) not in device_entry.identifiers


async def async_remove_entry(hass: HomeAssistant, entry: BatteryConfigEntry) -> None:
    """The battery was deleted: forget its journal, override and day-ahead series."""
    await ControllerStore(hass, entry.entry_id).async_remove()
    await async_remove_plan_store(hass, entry.entry_id)
    if entry.data[CONF_KIND] == KIND_SIMULATOR:
        await SimulatorState(hass, entry.entry_id).async_remove()


async def _async_stop_work(entry: BatteryConfigEntry) -> None:
    """Stop sampling and recording (pending rows written), timers and runs (state saved)."""
    await entry.runtime_data.recording.async_shutdown()
    await entry.runtime_data.controller.async_stop()
    if (simulator := entry.runtime_data.simulator) is not None:
        await SimulatorState(entry.runtime_data.coordinator.hass, entry.entry_id).async_save(simulator)
