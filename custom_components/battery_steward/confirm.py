"""A confirmed switch: changing the schedule source or the transport safe-stops the plant.

Seed 004 (plant control) asks for a confirmed switch. Home Assistant has no confirmation for a
select, so the battery has a *Confirm switching* switch, the interlock pattern of plant panels:
turn it on, then change *Schedule source* or *Transport* within a minute. A change without it is
refused with a translated message saying so; the switch turns itself off after one switch or a
minute. The actions (`set_source`, `set_transport`) are explicit commands and need no confirmation.
"""

from datetime import datetime

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_call_later

from .const import DOMAIN, signal_state

ARM_S = 60.0


class SwitchConfirmation:
    """Armed for ARM_S seconds or one switch."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Disarmed."""
        self._hass = hass
        self._entry_id = entry_id
        self._cancel: CALLBACK_TYPE | None = None

    @property
    def armed(self) -> bool:
        """Whether the next source or transport switch is confirmed."""
        return self._cancel is not None

    @callback
    def arm(self) -> None:
        """Confirm the next switch, for ARM_S seconds."""
        self._clear()
        self._cancel = async_call_later(self._hass, ARM_S, self._expire)
        self._notify()

    @callback
    def disarm(self) -> None:
        """Take the confirmation back (or it was used)."""
        self._clear()
        self._notify()

    def take(self, battery: str) -> None:
        """Use the confirmation for one switch; refuse the switch without one."""
        if not self.armed:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="switch_not_confirmed",
                translation_placeholders={"battery": battery},
            )
        self.disarm()

    @callback
    def _expire(self, _now: datetime) -> None:
        self._cancel = None
        self._notify()

    def _clear(self) -> None:
        if self._cancel is not None:
            self._cancel()
            self._cancel = None

    def _notify(self) -> None:
        async_dispatcher_send(self._hass, signal_state(self._entry_id))
