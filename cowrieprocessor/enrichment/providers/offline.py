"""Offline country and AS of source IPs: on by default, nothing leaves the machine.

The default data is the GeoLite2-derived Country+ASN file (IPv4 and IPv6) that the
``geoip2fast`` package ships inside its own distribution (``geoip2fast-asn-ipv6.dat.gz``),
read with geoip2fast's own API. MaxMind ``.mmdb`` files (GeoLite2/GeoIP2 Country, City or
ASN, read with ``maxminddb``) given in the configuration win for what they hold: a Country
or City file gives the country, an ASN file the AS; geoip2fast fills in the rest.

Addresses that are not public (private, reserved, loopback, multicast, documentation) get
no country and no AS, and are never looked up; an IPv4-mapped IPv6 address is looked up as
its IPv4 address.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

from cowrieprocessor.enrichment.base import Kind, OfflineProvider, Result, clip, public_address

DAT_FILE = "geoip2fast-asn-ipv6.dat.gz"


class OfflineDataError(Exception):
    """The offline data cannot be read (a missing or broken .mmdb file)."""


class _MMDB:
    """One MaxMind DB file: what it holds (country, AS) and its date."""

    def __init__(self, path: Path) -> None:
        import maxminddb

        try:
            self.reader = maxminddb.open_database(str(path))
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise OfflineDataError(f"cannot read MaxMind DB {path}: {exc}") from None
        meta = self.reader.metadata()
        self.type = str(meta.database_type)
        self.date = datetime.fromtimestamp(meta.build_epoch, UTC).date().isoformat()
        self.has_asn = "ASN" in self.type.upper()
        self.has_country = not self.has_asn

    def get(self, address: str) -> dict[str, Any]:
        record = self.reader.get(address)
        return record if isinstance(record, dict) else {}


class Offline(OfflineProvider):
    """Country and AS from geoip2fast's shipped data, or from MaxMind .mmdb files."""

    name = "offline"
    kinds: ClassVar[tuple[Kind, ...]] = ("ip",)
    description = "country and AS of source IPs from local data (geoip2fast, or .mmdb files)"

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Offline:
        return cls(settings.get("mmdb", ()))

    def __init__(self, mmdb: Sequence[Path | str] = ()) -> None:
        self._mmdb = [_MMDB(Path(p).expanduser()) for p in mmdb]
        self._country = next((m for m in self._mmdb if m.has_country), None)
        self._asn = next((m for m in self._mmdb if m.has_asn), None)
        self._geoip: Any = None
        self._source: str | None = None

    def _fast(self) -> Any:
        """geoip2fast loaded with its shipped Country+ASN IPv4+IPv6 file (~0.3 s)."""
        if self._geoip is None:
            from geoip2fast import GeoIP2Fast

            self._geoip = GeoIP2Fast(geoip2fast_data_file=DAT_FILE)
        return self._geoip

    @property
    def uses_geoip2fast(self) -> bool:
        """Whether any field comes from geoip2fast (no .mmdb file for it)."""
        return self._country is None or self._asn is None

    def geoip2fast_date(self) -> str:
        """Date of the GeoLite2 data in geoip2fast's file, ``YYYY-MM-DD``."""
        info = str(self._fast().source_info)  # e.g. MAXMIND:GeoLite2-CountryASN-...-20240618
        stamp = info.rsplit("-", 1)[-1]
        if len(stamp) == 8 and stamp.isdigit():
            return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:]}"
        return info

    def identity(self) -> str:
        """The data files, without loading geoip2fast's (its date is inside it)."""
        parts = [f"{m.type} {m.date}" for m in self._mmdb if m in (self._country, self._asn)]
        if self.uses_geoip2fast:
            import geoip2fast

            size = (Path(geoip2fast.__file__).parent / DAT_FILE).stat().st_size
            parts.append(f"geoip2fast {metadata.version('geoip2fast')} {DAT_FILE} {size}")
        return " + ".join(parts)

    def source(self) -> str:
        """:meth:`identity` plus the date of geoip2fast's GeoLite2 data (loads it)."""
        if self._source is None:
            date = f" (GeoLite2 {self.geoip2fast_date()})" if self.uses_geoip2fast else ""
            self._source = self.identity() + date
        return self._source

    def lookup_many(self, kind: Kind, indicators: Iterable[str]) -> Iterable[Result]:
        fast = self._fast() if self.uses_geoip2fast else None
        for indicator in indicators:
            address, reason = public_address(indicator)
            if address is None:
                assert reason is not None
                if reason == "not an IP address":
                    yield Result.error(indicator, reason, final=True)
                else:
                    yield Result.not_found(indicator, reason)
                continue
            yield self._lookup(indicator, address, fast)

    def _lookup(self, indicator: str, address: str, fast: Any) -> Result:
        # No raw answer is kept: the local data named in ``source`` gives it again.
        country = country_name = as_name = None
        asn: int | None = None
        if fast is not None:
            detail = fast.lookup(address)
            code = detail.country_code
            usable = isinstance(code, str) and len(code) == 2 and code.isalpha()
            if usable and not detail.is_private:
                country, country_name = code.upper(), clip(detail.country_name)
            if detail.asn_name and detail.asn_name not in ("<unknown>", "IANA.ORG"):
                as_name = clip(detail.asn_name)
        if self._country is not None:
            record = self._country.get(address)
            place = record.get("country") or record.get("registered_country")
            code = place.get("iso_code") if isinstance(place, dict) else None
            country = code.upper() if isinstance(code, str) and len(code) == 2 else None
            names = place.get("names") if isinstance(place, dict) else None
            country_name = clip(names.get("en")) if isinstance(names, dict) else None
        if self._asn is not None:
            record = self._asn.get(address)
            number = record.get("autonomous_system_number")
            asn = number if isinstance(number, int) else None
            as_name = clip(record.get("autonomous_system_organization"))
        if country is None and as_name is None and asn is None:
            return Result.not_found(indicator, "not in the data")
        label = f"AS{asn} {as_name}" if asn is not None and as_name else as_name
        if label is None and asn is not None:
            label = f"AS{asn}"
        fields = {
            "country": country,
            "country_name": country_name,
            "asn": asn,
            "as_name": as_name,
            "as_label": clip(label),
        }
        return Result(indicator, "ok", fields)

    def close(self) -> None:
        for m in self._mmdb:
            m.reader.close()
