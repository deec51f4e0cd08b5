"""Turning device errors into translated Home Assistant errors."""

from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .const import DOMAIN
from .device.driver import DeviceError, LimitError, UnsupportedFieldError


def translate_device_error(err: DeviceError) -> HomeAssistantError:
    """A translated error a user can act on; out-of-range input is the user's to fix."""
    if isinstance(err, LimitError):
        return ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key=err.translation_key,
            translation_placeholders={
                "field": err.field,
                "value": f"{err.value:g}",
                "minimum": f"{err.minimum:g}",
                "maximum": f"{err.maximum:g}",
            },
        )
    if isinstance(err, UnsupportedFieldError):
        return ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key=err.translation_key,
            translation_placeholders={"field": err.field, "value": str(err.value)},
        )
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=err.translation_key,
        translation_placeholders={"error": str(err)},
    )
