"""URLhaus (abuse.ch): status, threat and tags of download URLs; signatures of payloads.

``POST /v1/url/`` (form ``url``) and ``POST /v1/payload/`` (form ``sha256_hash``), with the
key in ``Auth-Key``. ``query_status`` ``no_results`` is "not known".
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
    clip,
)

#: Most tags kept per URL.
MAX_TAGS = 20


class URLhaus(HttpProvider):
    """abuse.ch URLhaus knowledge of malware URLs and payloads."""

    name = "urlhaus"
    kinds: ClassVar[tuple[Kind, ...]] = ("url", "file")
    description = "URLhaus status/threat/tags of download URLs, payload signatures (key required)"
    auth_header = "Auth-Key"
    defaults = Defaults(
        url="https://urlhaus-api.abuse.ch",
        rate_limit=10,
        rate_period=1.0,
        daily_budget=20_000,
        ttl=timedelta(days=1),
        not_found_ttl=timedelta(days=1),
    )

    def request(self, kind: Kind, indicator: str) -> Request:
        if kind == "url":
            return Request("POST", "/v1/url/", form={"url": indicator})
        return Request("POST", "/v1/payload/", form={"sha256_hash": indicator.lower()})

    def parse(self, kind: Kind, indicator: str, status: int, body: Any) -> Result:
        query_status = body.get("query_status") if isinstance(body, dict) else None
        if status == 404 or query_status == "no_results":
            return Result.not_found(indicator, raw=body)
        if query_status != "ok":
            return Result.error(indicator, f"query_status {clip(query_status, 40)}")
        if kind == "file":
            return Result(indicator, "ok", {"label": clip(body.get("signature"))}, raw=body)
        raw_tags = body.get("tags")
        tags = (
            [clip(t) for t in raw_tags if isinstance(t, str)] if isinstance(raw_tags, list) else []
        )
        kept = tuple(dict.fromkeys(t for t in tags if t))[:MAX_TAGS]
        fields = {
            "url_status": clip(body.get("url_status"), 32),
            "threat": clip(body.get("threat")),
            "tags": list(kept),
        }
        return Result(indicator, "ok", fields, raw=body, tags=kept)
