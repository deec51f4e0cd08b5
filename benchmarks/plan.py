"""Planning the next change over 10,000 mixed schedule items (pure engine, no Home Assistant).

Run from the repo root: .venv/bin/python benchmarks/plan.py
"""

from datetime import UTC, datetime, time, timedelta
import os
import statistics
import time as clock

from _harness import emit

from custom_components.battery_steward.engine.items import (
    CronItem,
    IntervalItem,
    Item,
    OneOffItem,
    WindowItem,
)
from custom_components.battery_steward.engine.planner import Schedule
from custom_components.battery_steward.engine.state import Mode, Setpoints

ITEMS = 10_000
T0 = datetime(2026, 3, 28, 12, tzinfo=UTC)
CHANGES = 500


def build() -> list[Item]:
    """A quarter each of windows, cron steps, one-offs and timed intervals, in three zones."""
    zones = ["Europe/Paris", "America/New_York", "Australia/Lord_Howe"]
    items: list[Item] = []
    for i in range(ITEMS):
        tz = zones[i % 3]
        match i % 4:
            case 0:
                items.append(
                    WindowItem(
                        id=f"w{i}",
                        tz=tz,
                        weekdays=frozenset({i % 7}),
                        start=time(i % 24, (i * 7) % 60),
                        end=time((i + 3) % 24),
                        priority=i % 5,
                        setpoints=Setpoints(reserve_pct=float(i % 100)),
                    )
                )
            case 1:
                items.append(
                    CronItem(
                        id=f"c{i}",
                        tz=tz,
                        cron=f"{i % 60} {i % 24} * * *",
                        setpoints=Setpoints(power_w=float(i % 500)),
                    )
                )
            case 2:
                items.append(
                    OneOffItem(id=f"o{i}", at=T0 + timedelta(minutes=i), setpoints=Setpoints(mode=Mode.IDLE))
                )
            case _:
                items.append(
                    IntervalItem(
                        id=f"i{i}",
                        anchor=T0,
                        every_s=3600 + i,
                        duration_s=600,
                        setpoints=Setpoints(reactive_var=float(i % 100)),
                    )
                )
    return items


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(changes: int = CHANGES) -> dict[str, float]:
    """Plan as the controller does, in milliseconds.

    Cold: a freshly built schedule (start-up, or any edit of the items) resolves the state now and
    finds the next change, at five instants. Per change: the timer fires at each change in turn;
    the controller re-plans a few milliseconds later (state now, next change) and looks at the
    state just before the instant, over `changes` consecutive changes. Per poll: the state now,
    ten seconds later each time.
    """
    items = build()
    cold: list[float] = []
    for k in range(5):
        t = T0 + timedelta(hours=7 * k)  # crosses the Paris spring-forward night
        schedule = Schedule(items)
        started = clock.perf_counter()
        schedule.desired_at(t)
        schedule.next_change_after(t)
        cold.append((clock.perf_counter() - started) * 1000)

    schedule = Schedule(items)
    now = T0
    schedule.desired_at(now)
    change = schedule.next_change_after(now)
    per_change: list[float] = []
    for _ in range(changes):
        assert change is not None
        now = change + timedelta(milliseconds=3)
        started = clock.perf_counter()
        schedule.desired_at(now)
        following = schedule.next_change_after(now)
        schedule.desired_at(change - timedelta(microseconds=1))
        per_change.append((clock.perf_counter() - started) * 1000)
        change = following
    per_poll: list[float] = []
    for k in range(1, 361):
        started = clock.perf_counter()
        schedule.desired_at(now + timedelta(seconds=10 * k))
        per_poll.append((clock.perf_counter() - started) * 1000)
    return {
        "items": ITEMS,
        "changes": changes,
        "plan_10k_items_ms": round(statistics.median(per_change), 2),
        "plan_10k_items_p99_ms": round(percentile(per_change, 0.99), 2),
        "plan_10k_items_max_ms": round(max(per_change), 2),
        "plan_10k_items_cold_ms": round(statistics.median(cold), 1),
        "plan_10k_items_cold_max_ms": round(max(cold), 1),
        "desired_at_10k_items_per_poll_ms": round(statistics.median(per_poll), 3),
    }


def main() -> None:
    figures = measure(int(os.environ.get("BENCH_CHANGES", CHANGES)))
    print(
        f"{ITEMS} items: per change median {figures['plan_10k_items_ms']} ms, "
        f"p99 {figures['plan_10k_items_p99_ms']} ms; cold {figures['plan_10k_items_cold_ms']} ms"
    )
    emit(figures)


if __name__ == "__main__":
    main()
