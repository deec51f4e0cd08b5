"""Fight detection: stop correcting a field that something else keeps changing.

When the same field has had to be corrected more than `max_corrections` times within `window_s`,
the field is suspended: the controller stops writing it and raises a repair issue. A suspended
field resumes when the user resolves the repair, or when the battery stops drifting (the value
someone else set has stayed put for a whole window, so we try once more).
"""

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True, slots=True)
class FightSettings:
    """Options: how many corrections within how long count as a fight."""

    max_corrections: int = 3
    window_s: float = 3600.0


@dataclass(kw_only=True, slots=True)
class _FieldState:
    corrections: deque[float] = field(default_factory=deque)
    values_seen: deque[str] = field(default_factory=lambda: deque(maxlen=5))
    suspended_at: float | None = None
    last_actual: str | None = None
    stable_since: float | None = None


class FightDetector:
    """Per-field correction counts; pure and clock-free (callers pass monotonic seconds)."""

    def __init__(self, settings: FightSettings) -> None:
        """Start with no corrections and nothing suspended."""
        self.settings = settings
        self._fields: dict[str, _FieldState] = {}

    def _state(self, name: str) -> _FieldState:
        return self._fields.setdefault(name, _FieldState())

    @property
    def suspended(self) -> frozenset[str]:
        """Fields we have stopped correcting."""
        return frozenset(n for n, s in self._fields.items() if s.suspended_at is not None)

    def values_seen(self, name: str) -> list[str]:
        """The other side's values we corrected, newest last (for the repair issue)."""
        return list(self._state(name).values_seen)

    def record_correction(self, name: str, found: str, now: float) -> bool:
        """Count one correction of `name` (the battery had `found`); True when it starts a fight."""
        state = self._state(name)
        state.corrections.append(now)
        state.values_seen.append(found)
        while state.corrections and state.corrections[0] < now - self.settings.window_s:
            state.corrections.popleft()
        if state.suspended_at is None and len(state.corrections) > self.settings.max_corrections:
            state.suspended_at = now
            state.last_actual = found
            state.stable_since = now
            return True
        return False

    def observe(self, name: str, actual: str, now: float) -> bool:
        """Watch a suspended field; True when it has been stable for a window (resume it)."""
        state = self._state(name)
        if state.suspended_at is None:
            return False
        if actual != state.last_actual:
            state.last_actual = actual
            state.stable_since = now
            return False
        if state.stable_since is not None and now - state.stable_since >= self.settings.window_s:
            self.resume(name)
            return True
        return False

    def resume(self, name: str) -> None:
        """Correct the field again, with a clean count."""
        self._fields.pop(name, None)
