"""Turning device errors into translated Home Assistant errors."""

from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def device_errors() -> Iterator[None]:
    """Every command's one error mapping: a device error leaves as a translated error.

    Wrap a command's device calls in it (peblar's `peblar_exception_handler` does the same for its
    library's errors, as a decorator).
    """
    try:
        yield
    except DeviceError as err:
        raise translate_device_error(err) from err
