"""SPUR Context API: infrastructure class and tunnels (VPN, proxy, Tor) of source IPs.

``GET /v2/context/<ip>`` with the key in ``Token``. A context without infrastructure,
tunnels or AS is "not known".
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from cowrieprocessor.enrichment.base import (
    Defaults,
    HttpProvider,
    Kind,
    Request,
    Result,
    as_bool,
    as_int,
    clip,
    public_address,
)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class Spur(HttpProvider):
    """SPUR's view of an IP: hosting class, tunnels, anonymity."""

    name = "spur"
    kinds: ClassVar[tuple[Kind, ...]] = ("ip",)
    description = "SPUR context of source IPs: infrastructure, tunnels (key required)"
    auth_header = "Token"
    defaults = Defaults(
        url="https://api.spur.us",
        rate_limit=10,
        rate_period=1.0,
        daily_budget=1_000,
        ttl=timedelta(days=7),
        not_found_ttl=timedelta(days=1),
    )

    def request(self, kind: Kind, indicator: str) -> Request:
        return Request("GET", f"/v2/context/{public_address(indicator)[0]}")

    def quota_exhausted(self, status: int, body: Any) -> bool:
        return status == 402  # SPUR: Payment Required when the query balance is spent

    def parse(self, kind: Kind, indicator: str, status: int, body: Any) -> Result:
        if status == 404 or not isinstance(body, dict):
            return Result.not_found(indicator, raw=body)
        tunnels = [t for t in body.get("tunnels") or [] if isinstance(t, dict)]
        system = _mapping(body.get("as"))
        infrastructure = clip(body.get("infrastructure"))
        if not tunnels and infrastructure is None and not system:
            return Result.not_found(indicator, raw=body)
        location = _mapping(body.get("location"))
        fields = {
            "classification": infrastructure,
            "tunnel": bool(tunnels),
            "anonymous": any(as_bool(t.get("anonymous")) for t in tunnels),
            "asn": as_int(system.get("number")),
            "as_name": clip(system.get("organization")),
            "country": clip(location.get("country"), 2),
        }
        return Result(indicator, "ok", fields, raw=body)
