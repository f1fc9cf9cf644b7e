"""Every enrichment provider, by name: adding one is its module plus one line here."""

from __future__ import annotations

from cowrieprocessor.enrichment.base import Provider
from cowrieprocessor.enrichment.providers.offline import Offline

PROVIDERS: dict[str, type[Provider]] = {p.name: p for p in (Offline,)}

#: The provider that runs by default (ingest, `enrich` without --provider): no network.
DEFAULT = Offline.name


def names() -> tuple[str, ...]:
    """Registered provider names, in registration order."""
    return tuple(PROVIDERS)
