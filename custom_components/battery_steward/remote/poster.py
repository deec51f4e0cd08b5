"""Measurement posting (seed 001): a bounded queue per battery, independent of sampling.

Oldest rows are dropped on overflow; failed posts back off exponentially; posting happens only
while the gate allows it (source is api, a password is set, posting is enabled). Invariant:
enqueued = posted + dropped + pending, exact at every moment.

One post at a time: a call while a post is in flight (slow server, retries) returns at once. Rows
carry a sequence number and a successful post removes exactly the rows it sent that are still
queued, so rows enqueued meanwhile are never lost. A row of the batch in flight that overflow
dropped meanwhile was counted as dropped and is not counted again when the post succeeds.

Exactly once where the server allows it: every row carries an idempotency key (`row_id`), the
same on every retry, so a server that stored a batch and then failed to answer (a 5xx, or an
answer after the client's timeout) stores the retried rows once and reports them as duplicates,
counted here (`duplicates`); `posted` counts rows, not arrivals.
"""

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
import itertools
import time
from typing import Any

from .client import MeasurementRow, RemoteApiError, RemoteScheduleClient

BACKOFF_START_S = 5.0
BACKOFF_MAX_S = 600.0


@dataclass(kw_only=True)
class PostTelemetry:
    """Seed 001's measurement_post_status, plus the counters of the invariant."""

    posting_enabled: bool = False
    last_success: datetime | None = None
    last_attempt: datetime | None = None
    last_error: str | None = None
    last_enqueue: datetime | None = None
    enqueued: int = 0
    posted: int = 0
    dropped_count: int = 0
    duplicates: int = 0  # rows the server reported it already had (stored by an earlier attempt)

    def as_dict(self, pending: int, oldest_age_s: float | None) -> dict[str, Any]:
        """Attributes / diagnostics."""
        return {
            "posting_enabled": self.posting_enabled,
            "last_success": self.last_success.isoformat() if self.last_success else None,
            "last_attempt": self.last_attempt.isoformat() if self.last_attempt else None,
            "last_error": self.last_error,
            "pending_queue_count": pending,
            "oldest_pending_age_s": oldest_age_s,
            "last_enqueue": self.last_enqueue.isoformat() if self.last_enqueue else None,
            "dropped_count": self.dropped_count,
            "enqueued": self.enqueued,
            "posted": self.posted,
            "duplicates": self.duplicates,
        }


class MeasurementPoster:
    """Queue rows with enqueue(); call async_post() on a timer of its own."""

    def __init__(
        self,
        client: RemoteScheduleClient,
        plant: str,
        gate: Callable[[], bool],
        *,
        max_queue: int = 2000,
        batch: int = 200,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Nothing is posted until async_post is called with the gate open."""
        self._client = client
        self._plant = plant
        self._gate = gate
        self._queue: deque[tuple[int, float, MeasurementRow]] = deque()
        self._seq = 0
        self._posting = False
        self._max = max_queue
        self._batch = batch
        self._clock = clock
        self._backoff_s = 0.0
        self._next_try = 0.0
        self.telemetry = PostTelemetry()

    @property
    def pending(self) -> int:
        """Rows waiting."""
        return len(self._queue)

    def status(self) -> dict[str, Any]:
        """Telemetry with the queue's current figures."""
        oldest = round(self._clock() - self._queue[0][1], 1) if self._queue else None
        self.telemetry.posting_enabled = self._gate()
        return self.telemetry.as_dict(self.pending, oldest)

    def enqueue(self, row: MeasurementRow) -> None:
        """Add a row; the oldest goes when the queue is full."""
        if len(self._queue) >= self._max:
            self._queue.popleft()
            self.telemetry.dropped_count += 1
        self._seq += 1
        self._queue.append((self._seq, self._clock(), row))
        self.telemetry.enqueued += 1
        self.telemetry.last_enqueue = datetime.now(UTC)

    @property
    def gate_open(self) -> bool:
        """Whether rows would be posted now (source is api, password set, posting on)."""
        return self._gate()

    @property
    def posting(self) -> bool:
        """Whether a post is in flight."""
        return self._posting

    async def async_post(self) -> None:
        """Post one batch if the gate is open, no back-off is running and no post is in flight."""
        self.telemetry.posting_enabled = self._gate()
        if (
            self._posting
            or not self._queue
            or not self.telemetry.posting_enabled
            or self._clock() < self._next_try
        ):
            return
        self._posting = True
        try:
            await self._async_post_batch()
        finally:
            self._posting = False

    async def _async_post_batch(self) -> None:
        batch = list(itertools.islice(self._queue, self._batch))
        self.telemetry.last_attempt = datetime.now(UTC)
        try:
            duplicates = await self._client.post_measurements(self._plant, [row for _, _, row in batch])
        except RemoteApiError as err:
            self.telemetry.last_error = str(err)
            self._backoff_s = min(BACKOFF_MAX_S, max(BACKOFF_START_S, self._backoff_s * 2))
            self._next_try = self._clock() + self._backoff_s
            return
        # Overflow may have dropped some of the batch meanwhile (counted as dropped then); the
        # rest is still at the head of the queue, in order.
        sent = {seq for seq, _, _ in batch}
        while self._queue and self._queue[0][0] in sent:
            self._queue.popleft()
            self.telemetry.posted += 1
        self.telemetry.duplicates += duplicates
        self.telemetry.last_success = self.telemetry.last_attempt
        self.telemetry.last_error = None
        self._backoff_s = 0.0
        self._next_try = 0.0
