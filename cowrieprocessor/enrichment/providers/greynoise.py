"""GreyNoise Community API: is a source IP internet-wide noise, or a known benign service?

``GET /v3/community/<ip>``, the key (optional: without one GreyNoise allows fewer lookups)
in ``key``. 404 with ``noise: false, riot: false`` is "not observed". RIOT marks common
business services (benign scanners); ``classification`` is benign, malicious or unknown.
Enabled by a key (``COWRIE_ENRICH_GREYNOISE_KEY``) or ``enabled = true`` in the config.
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
    as_bool,
    clip,
    public_address,
)


class GreyNoise(HttpProvider):
    """GreyNoise community classification of source IPs."""

    name = "greynoise"
    kinds: ClassVar[tuple[Kind, ...]] = ("ip",)
    description = "GreyNoise community: noise, RIOT, classification of source IPs"
    auth_header = "key"
    key_required = False
    defaults = Defaults(
        url="https://api.greynoise.io",
        rate_limit=1,
        rate_period=1.0,
        daily_budget=50,
        ttl=timedelta(days=1),
        not_found_ttl=timedelta(days=1),
    )

    @classmethod
    def configured(cls, settings: Mapping[str, Any]) -> bool:
        return "key" in settings or bool(settings.get("enabled"))

    def request(self, kind: Kind, indicator: str) -> Request:
        return Request("GET", f"/v3/community/{public_address(indicator)[0]}")

    def quota_exhausted(self, status: int, body: Any) -> bool:
        message = body.get("message") if isinstance(body, dict) else None
        return status == 429 and isinstance(message, str) and "limit" in message.lower()

    def parse(self, kind: Kind, indicator: str, status: int, body: Any) -> Result:
        if status == 404 or not isinstance(body, dict):
            return Result.not_found(indicator, raw=body)
        noise, riot = as_bool(body.get("noise")), as_bool(body.get("riot"))
        if noise is None and riot is None:
            return Result.error(indicator, "answer without noise/riot")
        fields = {
            "noise": noise,
            "riot": riot,
            "classification": clip(body.get("classification")),
        }
        return Result(indicator, "ok", fields, raw=body)
