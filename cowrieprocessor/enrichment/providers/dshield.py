"""DShield / ISC IP API: how often an IP was reported by DShield sensors.

``GET /api/ip/<ip>?json``, no key; ISC asks for a contact e-mail in the User-Agent, so the
provider is enabled by setting one (``COWRIE_ENRICH_DSHIELD_EMAIL`` or ``email`` in the
config file). Flagged: ``count`` (reports) or ``attacks`` (targets) above 0, or the IP is
listed in a threat feed (docs/report-schema.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar

from cowrieprocessor.enrichment.base import (
    Defaults,
    HttpProvider,
    Kind,
    Request,
    Result,
    as_int,
    clip,
    public_address,
)


class DShield(HttpProvider):
    """SANS Internet Storm Center's DShield reports per source IP."""

    name = "dshield"
    kinds: ClassVar[tuple[Kind, ...]] = ("ip",)
    description = "DShield/ISC reports of source IPs (no key; contact e-mail required)"
    key_required = False
    defaults = Defaults(
        url="https://isc.sans.edu/api",
        rate_limit=1,
        rate_period=1.0,
        daily_budget=10_000,
        ttl=timedelta(days=1),
        not_found_ttl=timedelta(days=1),
    )

    @classmethod
    def configured(cls, settings: Mapping[str, Any]) -> bool:
        return bool(settings.get("email"))

    def user_agent_extra(self) -> str:
        return f"contact: {self.settings['email']}"

    def request(self, kind: Kind, indicator: str) -> Request:
        address = public_address(indicator)[0]
        return Request("GET", f"/ip/{address}", params={"json": ""})

    def parse(self, kind: Kind, indicator: str, status: int, body: Any) -> Result:
        data = body.get("ip") if isinstance(body, dict) else None
        if status == 404 or not isinstance(data, dict):
            return Result.not_found(indicator, raw=body)
        reports, attacks = as_int(data.get("count")), as_int(data.get("attacks"))
        feeds = data.get("threatfeeds")
        listed = isinstance(feeds, dict) and bool(feeds)
        if reports is None and attacks is None and not listed:
            return Result.not_found(indicator, raw=body)
        asn = as_int(data.get("as"))
        name = clip(data.get("asname"))
        fields = {
            "flagged": bool(reports) or bool(attacks) or listed,
            "reports": reports,
            "asn": asn,
            "as_name": name,
            "country": clip(data.get("ascountry"), 2),
        }
        return Result(indicator, "ok", fields, raw=body)
