"""VirusTotal API v3 file lookups: detections, suggested threat label, first submission.

``GET /api/v3/files/<sha256>`` with the key in ``x-apikey``. 404 (``NotFoundError``) is an
unknown file, cached as such. Defaults respect the free tier: 4 requests a minute, 500 a
day. A ``QuotaExceededError`` stops the provider for the run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from cowrieprocessor.enrichment.base import (
    Defaults,
    HttpProvider,
    Kind,
    Request,
    Result,
    as_int,
    clip,
)


def _error_code(body: Any) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


class VirusTotal(HttpProvider):
    """VirusTotal verdicts on downloaded and uploaded files."""

    name = "virustotal"
    kinds: ClassVar[tuple[Kind, ...]] = ("file",)
    description = "VirusTotal v3 file reports of SHA-256 hashes (key required)"
    auth_header = "x-apikey"
    defaults = Defaults(
        url="https://www.virustotal.com/api/v3",
        rate_limit=4,
        rate_period=60.0,
        daily_budget=500,
        ttl=timedelta(days=7),
        not_found_ttl=timedelta(days=1),
        concurrency=1,
    )

    def request(self, kind: Kind, indicator: str) -> Request:
        return Request("GET", f"/files/{indicator.lower()}")

    def quota_exhausted(self, status: int, body: Any) -> bool:
        return status == 429 and _error_code(body) == "QuotaExceededError"

    def parse(self, kind: Kind, indicator: str, status: int, body: Any) -> Result:
        if status == 404:
            return Result.not_found(indicator, _error_code(body), raw=body)
        attributes = body["data"]["attributes"]
        stats = attributes.get("last_analysis_stats") or {}
        malicious = as_int(stats.get("malicious"))
        engines = sum(v for v in stats.values() if isinstance(v, int) and not isinstance(v, bool))
        popular = attributes.get("popular_threat_classification") or {}
        label = clip(popular.get("suggested_threat_label")) if isinstance(popular, dict) else None
        first = as_int(attributes.get("first_submission_date"))
        fields = {
            "label": label,
            "malicious": malicious,
            "engines": engines or None,
            "first_submitted_at": None if first is None else datetime.fromtimestamp(first, UTC),
        }
        return Result(indicator, "ok", fields, raw=body)
