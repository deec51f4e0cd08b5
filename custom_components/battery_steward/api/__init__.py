"""The schedule API glue: fetching day-ahead series and posting measurements.

It depends on a small protocol (`SeriesSink`: where fetched series go) rather than on the
controller, so the controller and this package do not know each other.
"""

from typing import Protocol

from ..engine.items import SeriesItem


class SeriesSink(Protocol):
    """Where a fetched day-ahead series goes (the battery's controller is one)."""

    @property
    def series(self) -> SeriesItem | None:
        """The series in force (None: none yet)."""
        ...

    async def async_set_series(self, series: SeriesItem) -> None:
        """Replace the series."""
        ...
