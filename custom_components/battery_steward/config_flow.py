"""Config flow: a built-in simulated battery or a Modbus TCP battery."""

from collections.abc import Mapping
from typing import Any, override
import uuid

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import selector
from homeassistant.helpers.aiohttp_client import async_get_clientsession
import probatio as vol

from .const import (
    CONF_CAPACITY_KWH,
    CONF_KIND,
    CONF_POLL_INTERVAL,
    CONF_PROFILE,
    CONF_SERIAL,
    CONF_UNIT,
    DEFAULT_CAPACITY_KWH,
    DEFAULT_POLL_INTERVAL_S,
    DEFAULT_PORT,
    DEFAULT_UNIT,
    DOMAIN,
    KIND_MODBUS,
    KIND_SIMULATOR,
    LOGGER,
    MAX_POLL_INTERVAL_S,
    MIN_POLL_INTERVAL_S,
    SIMULATOR_HOST,
)
from .coordinator import BatteryConfigEntry
from .device.driver import (
    DeviceConnectionError,
    DeviceInfo,
    DeviceResponseError,
    UnsupportedDeviceError,
)
from .device.modbus import PROFILE_STEWARD, PROFILES, ModbusBatteryDriver
from .device.simulator import SimConfig, SimulatedBattery
from .fetcher import (
    CONF_API_PASSWORD,
    CONF_API_PLANT,
    CONF_API_POSTING,
    CONF_API_TOMORROW_HOUR,
    CONF_API_URL,
    CONF_API_USERNAME,
    DEFAULT_TOMORROW_HOUR,
    api_configured,
    make_client,
)
from .item_flow import ScheduleItemFlow
from .remote.client import RemoteApiError, RemoteAuthError
from .schedule import (
    CONF_FIGHT_MAX,
    CONF_FIGHT_WINDOW_MIN,
    CONF_JOURNAL_SIZE,
    CONF_PATROL_MIN,
    CONF_VERIFY_S,
    DEFAULT_FIGHT_MAX,
    DEFAULT_FIGHT_WINDOW_MIN,
    DEFAULT_JOURNAL_SIZE,
    DEFAULT_PATROL_MIN,
    DEFAULT_VERIFY_S,
    SUBENTRY_ITEM,
)


def _modbus_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, vol.UNDEFINED)): str,
            vol.Required(CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_PORT)): vol.All(
                selector.NumberSelector(
                    selector.NumberSelectorConfig(min=1, max=65535, mode=selector.NumberSelectorMode.BOX)
                ),
                vol.Coerce(int),
                vol.Range(min=1, max=65535),
            ),
            vol.Required(CONF_UNIT, default=defaults.get(CONF_UNIT, DEFAULT_UNIT)): vol.All(
                selector.NumberSelector(
                    selector.NumberSelectorConfig(min=1, max=247, mode=selector.NumberSelectorMode.BOX)
                ),
                vol.Coerce(int),
                vol.Range(min=1, max=247),
            ),
            vol.Required(
                CONF_PROFILE, default=defaults.get(CONF_PROFILE, PROFILE_STEWARD)
            ): selector.SelectSelector(
                selector.SelectSelectorConfig(options=list(PROFILES), translation_key="profile")
            ),
        }
    )


def _simulator_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(
                CONF_CAPACITY_KWH, default=defaults.get(CONF_CAPACITY_KWH, DEFAULT_CAPACITY_KWH)
            ): vol.All(
                selector.NumberSelector(
                    selector.NumberSelectorConfig(
                        min=1,
                        max=1000,
                        step=0.5,
                        unit_of_measurement="kWh",
                        mode=selector.NumberSelectorMode.BOX,
                    )
                ),
                vol.Coerce(float),
                vol.Range(min=1, max=1000),
            )
        }
    )


async def _async_identify(host: str, port: int, unit: int) -> tuple[DeviceInfo | None, str | None]:
    """Identify the device; return (info, None) or (None, form error key)."""
    driver = ModbusBatteryDriver(host, port, unit)
    try:
        return await driver.identify(), None
    except DeviceConnectionError:
        return None, "cannot_connect"
    except DeviceResponseError:
        return None, "invalid_unit"
    except UnsupportedDeviceError:
        return None, "unsupported_device"
    except Exception:
        LOGGER.exception("Unexpected error identifying %s:%s unit %s", host, port, unit)
        return None, "unknown"
    finally:
        await driver.close()


class BatteryStewardConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a battery: tested before the entry is created, unique by serial."""

    VERSION = 1

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: BatteryConfigEntry) -> BatteryOptionsFlow:
        return BatteryOptionsFlow()

    @classmethod
    @callback
    @override
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        return {SUBENTRY_ITEM: ScheduleItemFlow}

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose what kind of battery to add."""
        return self.async_show_menu(step_id="user", menu_options=[KIND_SIMULATOR, KIND_MODBUS])

    async def async_step_simulator(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """A simulated battery that runs inside Home Assistant, for trying things safely."""
        if user_input is None:
            return self.async_show_form(step_id="simulator", data_schema=_simulator_schema({}))
        serial = f"SIM-{uuid.uuid4().hex[:8].upper()}"
        await self.async_set_unique_id(serial)
        self._abort_if_unique_id_configured()
        # Start it once so the entry is only created for a simulator that answers.
        simulator = SimulatedBattery(SimConfig(serial=serial, capacity_kwh=user_input[CONF_CAPACITY_KWH]))
        await simulator.start(host=SIMULATOR_HOST, port=0)
        try:
            info, error = await _async_identify(SIMULATOR_HOST, simulator.port, 1)
        finally:
            await simulator.stop()
        if info is None:
            return self.async_abort(reason=error or "unknown")
        return self.async_create_entry(
            title=f"Simulated battery {serial}",
            data={
                CONF_KIND: KIND_SIMULATOR,
                CONF_SERIAL: serial,
                CONF_CAPACITY_KWH: user_input[CONF_CAPACITY_KWH],
            },
        )

    async def async_step_modbus(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """A battery reached over Modbus TCP."""
        errors: dict[str, str] = {}
        if user_input is not None:
            info, error = await _async_identify(
                user_input[CONF_HOST], user_input[CONF_PORT], user_input[CONF_UNIT]
            )
            if info is None:
                errors["base"] = error or "unknown"
            else:
                await self.async_set_unique_id(info.serial)
                self._abort_if_unique_id_configured(updates=user_input)
                return self.async_create_entry(
                    title=f"{info.model} {info.serial}",
                    data={CONF_KIND: KIND_MODBUS, CONF_SERIAL: info.serial, **user_input},
                )
        return self.async_show_form(
            step_id="modbus",
            data_schema=self.add_suggested_values_to_schema(_modbus_schema({}), user_input),
            errors=errors,
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The schedule API refused the credentials twice in a row."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the API password again and check it."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            options = {**entry.options, CONF_API_PASSWORD: user_input[CONF_API_PASSWORD]}
            error = await _async_check_api(self.hass, options)
            if error is None:
                return self.async_update_reload_and_abort(entry, options=options)
            errors["base"] = error
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_API_PASSWORD): selector.TextSelector(
                        selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
                    )
                }
            ),
            description_placeholders={"username": str(entry.options.get(CONF_API_USERNAME, ""))},
            errors=errors,
        )

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Change where the battery is reached (Modbus) or how big it is (simulator)."""
        entry = self._get_reconfigure_entry()
        if entry.data[CONF_KIND] == KIND_SIMULATOR:
            if user_input is not None:
                return self.async_update_reload_and_abort(entry, data_updates=user_input)
            return self.async_show_form(step_id="reconfigure", data_schema=_simulator_schema(entry.data))
        errors: dict[str, str] = {}
        if user_input is not None:
            info, error = await _async_identify(
                user_input[CONF_HOST], user_input[CONF_PORT], user_input[CONF_UNIT]
            )
            if info is None:
                errors["base"] = error or "unknown"
            else:
                await self.async_set_unique_id(info.serial)
                self._abort_if_unique_id_mismatch(reason="wrong_device")
                return self.async_update_reload_and_abort(entry, data_updates=user_input)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=_modbus_schema(user_input or entry.data),
            errors=errors,
        )


def _int_field(key: str, default: int, low: int, high: int, unit: str | None = None) -> tuple[Any, Any]:
    config = selector.NumberSelectorConfig(min=low, max=high, step=1, mode=selector.NumberSelectorMode.BOX)
    if unit is not None:
        config["unit_of_measurement"] = unit
    return (
        vol.Required(key, default=default),
        vol.All(selector.NumberSelector(config), vol.Coerce(int), vol.Range(min=low, max=high)),
    )


# key, default, minimum, maximum, unit
OPTIONS: tuple[tuple[str, int, int, int, str | None], ...] = (
    (CONF_POLL_INTERVAL, DEFAULT_POLL_INTERVAL_S, MIN_POLL_INTERVAL_S, MAX_POLL_INTERVAL_S, "s"),
    (CONF_PATROL_MIN, DEFAULT_PATROL_MIN, 1, 1440, "min"),
    (CONF_FIGHT_MAX, DEFAULT_FIGHT_MAX, 1, 100, None),
    (CONF_FIGHT_WINDOW_MIN, DEFAULT_FIGHT_WINDOW_MIN, 1, 1440, "min"),
    (CONF_VERIFY_S, DEFAULT_VERIFY_S, 5, 3600, "s"),
    (CONF_JOURNAL_SIZE, DEFAULT_JOURNAL_SIZE, 100, 100000, None),
)


async def _async_check_api(hass: HomeAssistant, options: Mapping[str, Any]) -> str | None:
    """Log in to the API; a form error key, or None when the credentials work."""
    client = make_client(async_get_clientsession(hass), dict(options))
    try:
        await client.async_check_credentials()
    except RemoteAuthError:
        return "invalid_auth"
    except RemoteApiError:
        return "api_cannot_connect"
    return None


class BatteryOptionsFlow(OptionsFlowWithReload):
    """Poll interval and controller settings; the entry reloads to apply them."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the options; API credentials are checked by logging in."""
        errors: dict[str, str] = {}
        if user_input is not None:
            error = await _async_check_api(self.hass, user_input) if api_configured(user_input) else None
            if error is None:
                return self.async_create_entry(data=user_input)
            errors["base"] = error
        current = dict(self.config_entry.options)
        fields = dict(
            _int_field(key, int(current.get(key, default)), low, high, unit)
            for key, default, low, high, unit in OPTIONS
        )
        fields |= {
            vol.Optional(CONF_API_URL): selector.TextSelector(
                selector.TextSelectorConfig(type=selector.TextSelectorType.URL)
            ),
            vol.Optional(CONF_API_USERNAME): selector.TextSelector(),
            vol.Optional(CONF_API_PASSWORD): selector.TextSelector(
                selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
            ),
            vol.Optional(CONF_API_PLANT): selector.TextSelector(),
            vol.Optional(
                CONF_API_POSTING, default=bool(current.get(CONF_API_POSTING, True))
            ): selector.BooleanSelector(),
        }
        hour = int(current.get(CONF_API_TOMORROW_HOUR, DEFAULT_TOMORROW_HOUR))
        fields.update([_int_field(CONF_API_TOMORROW_HOUR, hour, 0, 23, "h")])
        schema = self.add_suggested_values_to_schema(vol.Schema(fields), user_input or current)
        return self.async_show_form(step_id="init", data_schema=schema, errors=errors)
