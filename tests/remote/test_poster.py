"""The measurement poster against the reference server."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from custom_components.battery_steward.remote.client import MeasurementRow, RemoteScheduleClient
from custom_components.battery_steward.remote.poster import MeasurementPoster

from ..support.remote_server import ReferenceApi, serve


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def row(i: int) -> MeasurementRow:
    return MeasurementRow(
        timestamp=datetime(2026, 6, 1, tzinfo=UTC) + timedelta(seconds=5 * i),
        soc_pct=50,
        active_power_w=i,
        reactive_power_var=0,
    )


@pytest.fixture
async def setup() -> AsyncIterator[tuple[ReferenceApi, RemoteScheduleClient]]:
    api = ReferenceApi()
    async with serve(api) as url, aiohttp.ClientSession() as session:

        async def no_sleep(_: float) -> None:
            return None

        yield api, RemoteScheduleClient(session, url, "steward", "secret", retries=0, sleep=no_sleep)


async def test_overflow_backoff_gate_and_invariant(setup: tuple[ReferenceApi, RemoteScheduleClient]) -> None:
    api, client = setup
    clock = Clock()
    gate = {"open": False}
    poster = MeasurementPoster(client, "lib", lambda: gate["open"], max_queue=5, batch=3, clock=clock)

    def invariant() -> None:
        t = poster.telemetry
        assert t.enqueued == t.posted + t.dropped_count + poster.pending

    for i in range(8):
        poster.enqueue(row(i))
        invariant()
    assert poster.pending == 5
    assert poster.telemetry.dropped_count == 3  # the oldest went
    await poster.async_post()
    assert api.measurements == []  # gate closed (source not api, or posting off)
    assert poster.status()["posting_enabled"] is False
    gate["open"] = True
    api.fail_5xx = 1
    await poster.async_post()
    assert poster.telemetry.last_error is not None
    await poster.async_post()  # still backing off: no attempt
    assert api.calls == 1  # the failed attempt (its login got the 503)
    clock.now += 6
    await poster.async_post()
    assert [m["active_power_w"] for m in api.measurements] == [3, 4, 5]
    invariant()
    await poster.async_post()
    assert poster.pending == 0
    invariant()
    status = poster.status()
    assert status["pending_queue_count"] == 0
    assert status["oldest_pending_age_s"] is None
    assert status["posted"] == 5
    poster.enqueue(row(9))
    clock.now += 30
    assert poster.status()["oldest_pending_age_s"] == 30.0


async def test_one_post_at_a_time_against_a_slow_server(
    setup: tuple[ReferenceApi, RemoteScheduleClient],
) -> None:
    # The 10 s timer fires again while a post is still waiting for a slow server: the second call
    # must not post the same rows again (nor remove rows it did not send).
    api, client = setup
    poster = MeasurementPoster(client, "lib", lambda: True, max_queue=100, batch=3)
    for i in range(6):
        poster.enqueue(row(i))
    api.delay_s = 0.1
    await asyncio.gather(poster.async_post(), poster.async_post())
    assert [m["active_power_w"] for m in api.measurements] == [0, 1, 2]
    assert poster.pending == 3
    await poster.async_post()
    assert [m["active_power_w"] for m in api.measurements] == [0, 1, 2, 3, 4, 5]
    t = poster.telemetry
    assert (t.enqueued, t.posted, t.dropped_count, poster.pending) == (6, 6, 0, 0)


async def test_overflow_while_a_batch_is_in_flight_keeps_newer_rows(
    setup: tuple[ReferenceApi, RemoteScheduleClient],
) -> None:
    api, client = setup
    poster = MeasurementPoster(client, "lib", lambda: True, max_queue=3, batch=3)
    for i in range(3):
        poster.enqueue(row(i))
    api.delay_s = 0.1
    task = asyncio.create_task(poster.async_post())
    await asyncio.sleep(0.05)
    assert poster.posting
    poster.enqueue(row(3))  # full: row 0 (in flight) is dropped, row 3 must survive the post
    t = poster.telemetry
    assert t.enqueued == t.posted + t.dropped_count + poster.pending
    await task
    assert [m["active_power_w"] for m in api.measurements] == [0, 1, 2]
    # Row 0 was counted once, as dropped; rows 1 and 2 as posted; row 3 waits.
    assert (t.enqueued, t.posted, t.dropped_count, poster.pending) == (4, 2, 1, 1)
    api.delay_s = 0
    await poster.async_post()
    assert [m["active_power_w"] for m in api.measurements][-1] == 3
    assert (t.enqueued, t.posted, t.dropped_count, poster.pending) == (4, 3, 1, 0)


@pytest.mark.parametrize("fault", ["store_then_503", "store_then_answer_after_the_timeout"])
async def test_rows_are_stored_exactly_once_when_answers_are_lost(fault: str) -> None:
    """The server stores each batch, then its answer is lost: a 503, or one after the client's timeout.

    Issue 18 found 720 unique rows arriving 3,120 times while `posted` said 720. With a row id
    per row the server stores each row once, and the client counts the re-sent rows as
    duplicates: posted = unique rows stored, arrivals = posted + duplicates.
    """
    api = ReferenceApi()
    async with serve(api) as url, aiohttp.ClientSession() as session:

        async def no_sleep(_: float) -> None:
            return None

        client = RemoteScheduleClient(
            session, url, "steward", "secret", retries=2, sleep=no_sleep, timeout_s=0.2
        )
        clock = Clock()
        poster = MeasurementPoster(client, "lib", lambda: True, max_queue=2000, batch=60, clock=clock)
        unique = 720
        for i in range(unique):
            poster.enqueue(row(i))
        for attempt in range(100):
            if not poster.pending:
                break
            if attempt % 2 == 0:  # every other batch loses its first answer after being stored
                if fault == "store_then_503":
                    api.store_then_fail = 1
                else:
                    api.store_then_late = 1
            await poster.async_post()
            clock.now += 3600  # past any back-off
        t = poster.telemetry
        assert poster.pending == 0
        assert len(api.measurements) == unique  # each row stored once
        assert sorted(m["active_power_w"] for m in api.measurements) == list(range(unique))
        assert t.posted == unique
        assert t.duplicates > 0
        assert api.arrivals == unique + api.duplicates  # every re-sent row was a known duplicate
        assert t.duplicates == api.duplicates == 360  # six of the twelve batches arrived twice
        assert poster.status()["duplicates"] == t.duplicates
        assert t.enqueued == t.posted + t.dropped_count + poster.pending
