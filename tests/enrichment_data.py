"""Enrichment for the report tests: real offline lookups and made-up online answers.

:func:`enrich_reference` runs the offline provider over the loaded database, stores online
answers (DShield, SPUR, GreyNoise, VirusTotal, URLhaus) made up from a hash of each
indicator, and returns the same facts as a :class:`RefEnrichment` for the plain-Python
oracle. The oracle's offline facts come from geoip2fast itself, read here with the rule of
docs/enrichment.md (public addresses only, IPv4-mapped IPv6 as IPv4), not from the
package's provider.
"""

from __future__ import annotations

import functools
import ipaddress
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from report_reference import RefEnrichment, ref_sessions
from sqlalchemy import Engine

from cowrieprocessor.enrichment import store
from cowrieprocessor.enrichment.base import Result
from cowrieprocessor.enrichment.providers.offline import Offline
from cowrieprocessor.enrichment.runner import run_provider

DOWNLOAD = "cowrie.session.file_download"
UPLOAD = "cowrie.session.file_upload"
NOW = datetime(2024, 3, 10, tzinfo=UTC)


def _h(text: str) -> int:
    return zlib.crc32(text.encode())


@functools.cache
def _geoip() -> Any:
    from geoip2fast import GeoIP2Fast

    return GeoIP2Fast(geoip2fast_data_file="geoip2fast-asn-ipv6.dat.gz")


def offline_facts(ip: str) -> dict[str, Any]:
    """Country and AS label of ``ip`` straight from geoip2fast's shipped data."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return {}
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_global or address.is_multicast:
        return {}
    detail = _geoip().lookup(str(address))
    facts = {}
    if not detail.is_private and len(detail.country_code) == 2:
        facts["country"] = detail.country_code
    if detail.asn_name and detail.asn_name not in ("<unknown>", "IANA.ORG"):
        facts["as_label"] = detail.asn_name
    return facts


def offline_reference(events: list[dict[str, Any]]) -> RefEnrichment:
    """What offline enrichment (on by default in `ingest`) says about the events' IPs."""
    ref = RefEnrichment()
    for s in ref_sessions(events):
        if s.src_ip and s.src_ip not in ref.ip:
            facts = offline_facts(s.src_ip)
            if facts:
                ref.ip[s.src_ip] = facts
    return ref


def enrich_reference(engine: Engine, events: list[dict[str, Any]]) -> RefEnrichment:
    """Enrich the database and return the same facts for the oracle."""
    run_provider(engine, Offline())
    ref = RefEnrichment()
    sessions = ref_sessions(events)
    ips = sorted({s.src_ip for s in sessions if s.src_ip})
    transfers = [e for s in sessions for e in s.downloads + s.uploads]
    shas = sorted({e["shasum"] for e in transfers if isinstance(e.get("shasum"), str)})
    urls = sorted(
        {e["url"] for e in transfers if e["eventid"] == DOWNLOAD and isinstance(e.get("url"), str)}
    )
    dshield, spur, greynoise = _ip_results(ips, ref)
    vt = _virustotal_results(shas, ref)
    urlhaus = _urlhaus_results(urls, ref)
    with engine.begin() as conn:
        day, week = timedelta(days=1), timedelta(days=7)
        store.save(conn, "dshield", "ip", dshield, NOW, ttl=day, not_found_ttl=day)
        store.save(conn, "spur", "ip", spur, NOW, ttl=week, not_found_ttl=day)
        store.save(conn, "greynoise", "ip", greynoise, NOW, ttl=day, not_found_ttl=day)
        store.save(conn, "virustotal", "file", vt, NOW, ttl=week, not_found_ttl=day)
        store.save(conn, "urlhaus", "url", urlhaus, NOW, ttl=day, not_found_ttl=day)
    return ref


def _ip_results(
    ips: list[str], ref: RefEnrichment
) -> tuple[list[Result], list[Result], list[Result]]:
    """DShield, SPUR and GreyNoise answers for ``ips`` (chosen by a hash of the address),
    recorded in ``ref`` with the offline facts."""
    dshield, spur, greynoise = [], [], []
    for ip in ips:
        facts = offline_facts(ip)
        h = _h(ip)
        if h % 3 == 0:
            facts["dshield_flagged"] = True
            dshield.append(Result(ip, "ok", {"flagged": True, "reports": h % 97 + 1}))
        elif h % 3 == 1:
            dshield.append(Result(ip, "ok", {"flagged": False, "reports": 0}))
        else:  # a failed lookup: counts as nothing
            dshield.append(Result.error(ip, "HTTP 503"))
        if h % 5 != 0:
            tunnel = h % 7 < 3
            cls = ("DATACENTER", "MOBILE", "RESIDENTIAL")[h % 3]
            anonymous = tunnel and h % 2 == 0
            facts.update(spur_class=cls, tunnel=tunnel, anonymous=anonymous)
            fields = {"classification": cls, "tunnel": tunnel, "anonymous": anonymous}
            spur.append(Result(ip, "ok", fields))
        else:
            spur.append(Result.not_found(ip))
        if h % 4 == 0:
            cls = ("malicious", "benign", "unknown")[h % 3]
            riot = h % 8 == 0
            facts.update(gn_class=cls, riot=riot)
            greynoise.append(Result(ip, "ok", {"classification": cls, "riot": riot, "noise": True}))
        if facts:
            ref.ip[ip] = facts
    return dshield, spur, greynoise


def _virustotal_results(shas: list[str], ref: RefEnrichment) -> list[Result]:
    """VirusTotal answers for ``shas`` (every fourth unknown), recorded in ``ref``."""
    vt = []
    for i, sha in enumerate(shas):
        if i % 4 == 3:
            vt.append(Result.not_found(sha))
            continue
        first = datetime(2024, 2, 20, 12, tzinfo=UTC) + timedelta(days=i % 17)
        label = ("trojan.mirai/gafgyt", "Trojan.Mirai", None)[i % 3]
        facts = {"label": label, "malicious": i % 3, "first_submitted": first}
        ref.vt[sha] = facts
        fields = {"label": label, "malicious": i % 3, "engines": 70, "first_submitted_at": first}
        vt.append(Result(sha, "ok", fields))
    return vt


def _urlhaus_results(urls: list[str], ref: RefEnrichment) -> list[Result]:
    """URLhaus answers for ``urls`` (every other one unknown), recorded in ``ref``."""
    urlhaus = []
    for i, url in enumerate(urls):
        if i % 2:
            urlhaus.append(Result.not_found(url))
            continue
        tags = ("elf", "mirai", "32-bit")[: i % 3 + 1]
        ref.url_tags[url] = list(tags)
        fields = {"url_status": "online", "threat": "malware_download", "tags": list(tags)}
        urlhaus.append(Result(url, "ok", fields, tags=tags))
    return urlhaus
