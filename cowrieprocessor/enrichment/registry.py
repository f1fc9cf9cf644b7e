"""Every enrichment provider, by name: adding one is its module plus one line here."""

from __future__ import annotations

from cowrieprocessor.enrichment.base import Provider
from cowrieprocessor.enrichment.providers.dshield import DShield
from cowrieprocessor.enrichment.providers.greynoise import GreyNoise
from cowrieprocessor.enrichment.providers.offline import Offline
from cowrieprocessor.enrichment.providers.spur import Spur
from cowrieprocessor.enrichment.providers.urlhaus import URLhaus
from cowrieprocessor.enrichment.providers.virustotal import VirusTotal

PROVIDERS: dict[str, type[Provider]] = {
    p.name: p
    for p in (
        Offline,
        DShield,
        VirusTotal,
        URLhaus,
        Spur,
        GreyNoise,
    )
}

#: The provider that runs by default (ingest, `enrich` without --provider): no network.
DEFAULT = Offline.name


def names() -> tuple[str, ...]:
    """Registered provider names, in registration order."""
    return tuple(PROVIDERS)
