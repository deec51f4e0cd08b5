"""Posting measurements to the schedule API: samples from the recording, queued and sent."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_interval

from ..const import CONF_API_PASSWORD, CONF_API_PLANT, CONF_API_POSTING, DOMAIN
from ..recording import MeasurementRecording
from ..remote.client import MeasurementRow, RemoteScheduleClient
from ..remote.poster import MeasurementPoster
from ..sampling import Sample

POST_INTERVAL = timedelta(seconds=10)


def start_posting(
    hass: HomeAssistant,
    entry: ConfigEntry,
    recording: MeasurementRecording,
    *,
    client: RemoteScheduleClient,
    options: dict[str, Any],
    source_is_api: Callable[[], bool],
) -> MeasurementPoster:
    """Post samples while the source is api, a password is set and posting is on.

    The sampler runs for the poster while those three gates are open, whether or not the Recording
    switch (CSV files) is on; the gates are looked at on every post tick.
    """

    def gate() -> bool:
        return (
            source_is_api()
            and bool(options.get(CONF_API_PASSWORD))
            and bool(options.get(CONF_API_POSTING, True))
        )

    poster = MeasurementPoster(client, str(options[CONF_API_PLANT]), gate)

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
        await recording.async_feed(gate())
        await poster.async_post()

    recording.listeners.append(enqueue)
    entry.async_on_unload(
        async_track_time_interval(hass, post, POST_INTERVAL, name=f"{DOMAIN} post", cancel_on_shutdown=True)
    )
    return poster
