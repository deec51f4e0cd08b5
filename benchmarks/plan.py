"""Planning the next change over 10,000 mixed schedule items (pure engine, no Home Assistant).

Run from the repo root: .venv/bin/python benchmarks/plan.py
"""

from datetime import UTC, datetime, time, timedelta
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


def main() -> None:
    schedule = Schedule(build())
    runs_ms: list[float] = []
    desired_ms: list[float] = []
    for k in range(10):
        t = T0 + timedelta(hours=7 * k)  # crosses the Paris spring-forward night
        started = clock.perf_counter()
        schedule.next_change_after(t)
        runs_ms.append((clock.perf_counter() - started) * 1000)
        started = clock.perf_counter()
        schedule.desired_at(t)
        desired_ms.append((clock.perf_counter() - started) * 1000)
    print(f"next_change_after over {ITEMS} items: median {statistics.median(runs_ms):.1f} ms")
    emit(
        {
            "items": ITEMS,
            "plan_10k_items_ms": round(statistics.median(runs_ms), 1),
            "plan_10k_items_max_ms": round(max(runs_ms), 1),
            "desired_at_10k_items_ms": round(statistics.median(desired_ms), 1),
        }
    )


if __name__ == "__main__":
    main()
