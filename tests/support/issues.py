"""Which repair issues the test scenarios raised: every test's issue registry is watched.

`tests/test_repairs.py` checks at the end of a full run that every issue translated in
strings.json was raised by some scenario, as fixable as its texts say, with the placeholders its
texts use. Recording wraps the registry's own method; the issue is still created as usual.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from homeassistant.helpers import issue_registry as ir

from custom_components.battery_steward.const import DOMAIN


@dataclass
class Raised:
    """What the scenarios raised under one translation key."""

    fixable: set[bool] = field(default_factory=set)
    placeholders: set[frozenset[str]] = field(default_factory=set)


RAISED: dict[str, Raised] = {}


@contextmanager
def recording_issues() -> Iterator[None]:
    """Record every issue of the integration created or updated while the block runs."""
    original = ir.IssueRegistry.async_get_or_create

    def recorded(self: ir.IssueRegistry, domain: str, issue_id: str, **kwargs: Any) -> ir.IssueEntry:
        if domain == DOMAIN:
            raised = RAISED.setdefault(str(kwargs["translation_key"]), Raised())
            raised.fixable.add(bool(kwargs["is_fixable"]))
            raised.placeholders.add(frozenset(kwargs.get("translation_placeholders") or {}))
        return original(self, domain, issue_id, **kwargs)

    ir.IssueRegistry.async_get_or_create = recorded  # type: ignore[method-assign]
    try:
        yield
    finally:
        ir.IssueRegistry.async_get_or_create = original  # type: ignore[method-assign]
