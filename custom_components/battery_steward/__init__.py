"""Battery Steward: keeps home and lab batteries on plan."""

from datetime import datetime, timedelta
from typing import Any

from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntry,
    ConfigEntryChange,
)
from homeassistant.const import CONF_HOST, CONF_PORT, EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryError, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.typing import ConfigType

from .bridge import REFRESH_COOLDOWN_S, BridgeConfig, EntityBridgeDriver, async_follow_sources
from .const import (
    CONF_CAPACITY_KWH,
    CONF_KIND,
    CONF_SERIAL,
    CONF_UNIT,
    DEFAULT_CAPACITY_KWH,
    DOMAIN,
    KIND_BRIDGE,
    KIND_SIMULATOR,
    SIMULATOR_HOST,
    SOURCE_API,
)
from .controller import BatteryController
from .coordinator import BatteryConfigEntry, BatteryCoordinator, BatteryRuntimeData
from .dashboard import async_batteries_changed, async_register_dashboard
from .device.driver import BatteryDriver
from .device.modbus import ModbusBatteryDriver
from .device.profiles import RegisterMapError
from .device.simulator import SimConfig, SimulatedBattery
from .fetcher import (
    CONF_API_PASSWORD,
    CONF_API_PLANT,
    CONF_API_POSTING,
    ScheduleFetcher,
    api_configured,
    make_client,
)
from .recording import MeasurementRecording
from .register_map import async_profile
from .remote.client import MeasurementRow, RemoteScheduleClient
from .remote.poster import MeasurementPoster
from .sampling import Sample
from .schedule import controller_settings, entry_items
from .services import async_setup_services
from .simulator_state import SimulatorState
from .store import ControllerStore
from .transport import Transports

POST_INTERVAL = timedelta(seconds=10)

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
    simulator: SimulatedBattery | None = None
    modbus: ModbusBatteryDriver | None = None
    driver: BatteryDriver
    if entry.data[CONF_KIND] == KIND_BRIDGE:
        driver = bridge = EntityBridgeDriver(
            hass,
            BridgeConfig.from_data(entry.data),
            entry_id=entry.entry_id,
            serial=entry.data[CONF_SERIAL],
            name=entry.title,
        )
        coordinator = BatteryCoordinator(hass, entry, driver, refresh_cooldown_s=REFRESH_COOLDOWN_S)
        entry.async_on_unload(async_follow_sources(hass, bridge, coordinator.async_request_refresh))
    elif entry.data[CONF_KIND] == KIND_SIMULATOR:
        simulator = SimulatedBattery(
            SimConfig(
                serial=entry.data[CONF_SERIAL],
                capacity_kwh=entry.data.get(CONF_CAPACITY_KWH, DEFAULT_CAPACITY_KWH),
            )
        )
        await SimulatorState(hass, entry.entry_id).async_restore(simulator)
        await simulator.start(host=SIMULATOR_HOST, port=0)
        driver = ModbusBatteryDriver(SIMULATOR_HOST, simulator.port, 1)
        coordinator = BatteryCoordinator(hass, entry, driver)
    else:
        try:
            profile = await async_profile(hass, entry.data, entry.options)
        except RegisterMapError as err:
            # Nothing is polled until the map is valid: fix it in the options.
            raise ConfigEntryError(
                translation_domain=DOMAIN,
                translation_key="invalid_register_map",
                translation_placeholders={"error": str(err)},
            ) from err
        driver = modbus = ModbusBatteryDriver(
            entry.data[CONF_HOST], entry.data[CONF_PORT], entry.data[CONF_UNIT], profile=profile
        )
        coordinator = BatteryCoordinator(hass, entry, driver)
    try:
        await coordinator.async_config_entry_first_refresh()
    except ConfigEntryNotReady:
        await _async_close(driver, simulator)
        raise
    transports = Transports(modbus) if modbus is not None else None
    controller = BatteryController(
        hass,
        entry_id=entry.entry_id,
        name=entry.title,
        coordinator=coordinator,
        store=ControllerStore(hass, entry.entry_id),
        items_factory=lambda: entry_items(entry),
        settings=controller_settings(dict(entry.options)),
    )
    controller.transports = transports
    entry.runtime_data = BatteryRuntimeData(
        driver=driver,
        coordinator=coordinator,
        controller=controller,
        recording=MeasurementRecording(hass, coordinator.async_read_device, entry.title),
        transports=transports,
        simulator=simulator,
    )
    if api_configured(options := dict(entry.options)):
        client = make_client(async_get_clientsession(hass), options)
        entry.runtime_data.fetcher = ScheduleFetcher(hass, entry, controller, client, options)
        _start_posting(hass, entry, client, options)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    await controller.async_start()
    if (poster := entry.runtime_data.poster) is not None:
        # The source is known now (restored by the controller): sample for the poster if it posts.
        await entry.runtime_data.recording.async_feed(poster.gate_open)
    if (fetcher := entry.runtime_data.fetcher) is not None:
        fetcher.async_start()
        entry.async_on_unload(fetcher.async_stop)
    entry.async_on_unload(_follow_schedule_items(hass, entry, controller))

    async def _async_on_stop(_event: Event) -> None:
        """Home Assistant does not unload entries when it stops: flush and save as an unload does."""
        await _async_stop_work(entry)

    entry.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, _async_on_stop))
    async_register_dashboard(hass)  # the generated Batteries dashboard (dashboard.py)
    async_batteries_changed(hass)
    entry.async_on_unload(lambda: async_batteries_changed(hass))
    return True


def _start_posting(
    hass: HomeAssistant, entry: BatteryConfigEntry, client: RemoteScheduleClient, options: dict[str, Any]
) -> None:
    """Post samples while the source is api, a password is set and posting is on.

    The sampler runs for the poster while those three gates are open, whether or not the Recording
    switch (CSV files) is on; the gates are looked at on every post tick.
    """
    runtime = entry.runtime_data

    def gate() -> bool:
        return (
            runtime.controller.source == SOURCE_API
            and bool(options.get(CONF_API_PASSWORD))
            and bool(options.get(CONF_API_POSTING, True))
        )

    poster = MeasurementPoster(client, str(options[CONF_API_PLANT]), gate)
    runtime.poster = poster

    @callback
    def enqueue(sample: Sample) -> None:
        m = sample.measurements
        poster.enqueue(
            MeasurementRow(
                timestamp=sample.at,
                soc_pct=m.soc_pct,
                active_power_w=m.active_power_w,
                reactive_power_var=m.reactive_power_var,
            )
        )

    async def post(_now: datetime) -> None:
        await runtime.recording.async_feed(gate())
        await poster.async_post()

    runtime.recording.listeners.append(enqueue)
    entry.async_on_unload(
        async_track_time_interval(hass, post, POST_INTERVAL, name=f"{DOMAIN} post", cancel_on_shutdown=True)
    )


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
        await _async_close(entry.runtime_data.driver, entry.runtime_data.simulator)
        if entry.runtime_data.transports is not None:
            await entry.runtime_data.transports.async_close()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: BatteryConfigEntry) -> None:
    """The battery was deleted: forget its journal, override and day-ahead series."""
    await ControllerStore(hass, entry.entry_id).async_remove()
    if entry.data[CONF_KIND] == KIND_SIMULATOR:
        await SimulatorState(hass, entry.entry_id).async_remove()


async def _async_stop_work(entry: BatteryConfigEntry) -> None:
    """Stop sampling and recording (pending rows written), timers and runs (state saved)."""
    await entry.runtime_data.recording.async_shutdown()
    await entry.runtime_data.controller.async_stop()
    if (simulator := entry.runtime_data.simulator) is not None:
        await SimulatorState(entry.runtime_data.coordinator.hass, entry.entry_id).async_save(simulator)


async def _async_close(driver: BatteryDriver, simulator: SimulatedBattery | None) -> None:
    await driver.close()
    if simulator is not None:
        await simulator.stop()
