"""Offline country and AS: geoip2fast's shipped data, MaxMind .mmdb files, bad input,
incremental runs, dirty buckets, and `ingest` enriching by default."""

from __future__ import annotations

import bisect
import ipaddress
import json
import random
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from cowrieprocessor.cli.main import cli
from cowrieprocessor.enrichment.providers.offline import Offline
from cowrieprocessor.enrichment.runner import run_provider
from cowrieprocessor.ingest.loader import Loader
from cowrieprocessor.rollups.refresh import check, dirty_buckets, refresh_dirty

DAY = date(2024, 3, 5)


def _networks(version: int, count: int, seed: int) -> list[tuple[str, str, str]]:
    """(address, country code, country name) for ``count`` random networks of the shipped
    data, read from geoip2fast's own tables (a second path, not its lookup function): the
    first address of a network, its country by the tables' index."""
    import geoip2fast.geoip2fast as data
    from geoip2fast import GeoIP2Fast

    GeoIP2Fast(geoip2fast_data_file="geoip2fast-asn-ipv6.dat.gz")  # fills the module tables
    rng = random.Random(seed)
    out = []
    limit = 2**32
    while len(out) < count:
        root = rng.randrange(len(data.mainListFirstIP))
        chunk = rng.randrange(len(data.mainListFirstIP[root]))
        first = data.mainListFirstIP[root][chunk]
        if (first < limit) != (version == 4):
            continue
        code, name = data.mainListNamesCountry[data.mainListIDCountryCodes[root][chunk]].split(":")
        address = ipaddress.ip_address(first)
        if len(code) != 2 or not code.isalpha() or not address.is_global or address.is_multicast:
            continue
        # The next network starts after this one: the first address is inside it.
        assert bisect.bisect_right(data.mainListFirstIP[root], first) - 1 == chunk
        out.append((str(address), code, name))
    return out


def test_known_ipv4_and_ipv6_addresses_of_the_shipped_data() -> None:
    known = _networks(4, 40, seed=1) + _networks(6, 40, seed=2)
    provider = Offline()
    results = list(provider.lookup_many("ip", [a for a, _, _ in known]))
    for (address, code, name), result in zip(known, results, strict=True):
        assert result.status == "ok", (address, result)
        assert (result.fields["country"], result.fields["country_name"]) == (code, name), address
    # Well-known anchors of the data, cross-checked with the table reading above.
    [google] = provider.lookup_many("ip", ["8.8.8.8"])
    assert google.fields["country"] == "US" and google.fields["as_label"] == "GOOGLE"
    assert "GeoLite2" in provider.source() and provider.source().startswith("geoip2fast ")


def test_addresses_that_are_not_public_get_no_country() -> None:
    provider = Offline()
    cases = [
        "10.1.2.3",
        "192.168.0.1",
        "127.0.0.1",
        "100.64.0.1",
        "192.0.2.1",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "fe80::1",
        "fc00::1",
        "2001:db8::1",
        "::ffff:10.0.0.1",
    ]
    for result in provider.lookup_many("ip", cases):
        assert result.status == "not_found" and result.reason == "private or reserved address"
        assert not result.fields
    bad = ["", "1.2.3", "999.1.1.1", "8.8.8.8 ", "<script>", "x" * 5000, "8.8.8.8/24"]
    for result in provider.lookup_many("ip", bad):
        assert (result.status, result.reason, dict(result.fields)) == (
            "error",
            "not an IP address",
            {},
        )


def test_ipv4_mapped_ipv6_is_its_ipv4_address() -> None:
    provider = Offline()
    mapped, plain = provider.lookup_many("ip", ["::ffff:8.8.8.8", "8.8.8.8"])
    assert mapped.status == "ok" and mapped.fields == plain.fields


def _write_mmdb(path: Path, kind: str) -> Path:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    if kind == "country":
        writer = MMDBWriter(6, "GeoLite2-Country", languages=["en"], ipv4_compatible=True)
        germany = {"country": {"iso_code": "DE", "names": {"en": "Germany"}}}
        writer.insert_network(IPSet(["8.8.8.0/24", "2001:4860::/32"]), germany)
    else:
        writer = MMDBWriter(6, "GeoLite2-ASN", ipv4_compatible=True)
        record = {"autonomous_system_number": 64512, "autonomous_system_organization": "Example"}
        writer.insert_network(IPSet(["8.8.8.0/24"]), record)
    writer.to_db_file(str(path))
    return path


def test_mmdb_files_win_over_the_shipped_data(tmp_path: Path) -> None:
    country = _write_mmdb(tmp_path / "country.mmdb", "country")
    asn = _write_mmdb(tmp_path / "asn.mmdb", "asn")
    both = Offline([country, asn])
    assert not both.uses_geoip2fast
    assert "GeoLite2-Country" in both.source() and "GeoLite2-ASN" in both.source()
    google, v6, other = both.lookup_many("ip", ["8.8.8.8", "2001:4860::1", "1.1.1.1"])
    assert google.fields == {
        "country": "DE",
        "country_name": "Germany",
        "asn": 64512,
        "as_name": "Example",
        "as_label": "AS64512 Example",
    }
    assert v6.fields["country"] == "DE" and v6.fields["asn"] is None
    assert other.status == "not_found"
    # Only a Country file: the AS still comes from geoip2fast.
    only_country = Offline([country])
    [google] = only_country.lookup_many("ip", ["8.8.8.8"])
    assert (google.fields["country"], google.fields["as_label"]) == ("DE", "GOOGLE")
    with pytest.raises(Exception, match="cannot read MaxMind DB"):
        Offline([tmp_path / "missing.mmdb"])


def _log(path: Path, addresses: list[str], first: int = 0) -> Path:
    lines = [
        {
            "eventid": "cowrie.session.connect",
            "timestamp": f"{DAY}T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
            "session": f"{i:012x}",
            "sensor": "s1" if i % 2 else "s2",
            "src_ip": address,
        }
        for i, address in enumerate(addresses, first)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_runs_are_incremental_and_mark_only_changed_buckets(engine: Engine, tmp_path: Path) -> None:
    addresses = [a for a, _, _ in _networks(4, 30, seed=3) + _networks(6, 30, seed=4)]
    Loader(engine).ingest([_log(tmp_path / "a.json", [*addresses, "10.0.0.1", "junk"])])
    refresh_dirty(engine)
    first = run_provider(engine, Offline())
    assert (first.looked_up, first.found, first.not_found, first.errors) == (62, 60, 1, 1)
    assert first.changed == 62 and dirty_buckets(engine) == 2  # one day, two sensors
    refresh_dirty(engine)
    assert check(engine) == []
    second = run_provider(engine, Offline())
    assert (second.looked_up, second.from_cache, second.changed) == (0, 62, 0)
    assert second.source == first.source and "(GeoLite2 20" in second.source
    assert dirty_buckets(engine) == 0
    # Other offline data: every IP is looked up again, but only changed answers dirty buckets.
    with engine.begin() as conn:
        conn.execute(text("UPDATE ip_enrichment SET source = 'older data'"))
        conn.execute(
            text("UPDATE ip_enrichment SET country = 'ZZ' WHERE src_ip = :ip"), {"ip": addresses[1]}
        )
    third = run_provider(engine, Offline())
    assert (third.looked_up, third.changed) == (62, 1)
    with engine.connect() as conn:
        marked = conn.execute(text("SELECT sensor FROM rollup_dirty")).scalars().all()
    assert marked == ["s1"]  # addresses[1] is session 1, on sensor s1


def test_ingest_enriches_offline_by_default(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--db", db_url, "--status-dir", str(tmp_path / "status")]
    log = _log(tmp_path / "a.json", ["8.8.8.8", "1.1.1.1", "8.8.8.8"])
    skipped = runner.invoke(cli, [*base, "ingest", str(log), "--no-enrich", "--json"])
    assert skipped.exit_code == 0, skipped.output
    assert "enrichment" not in json.loads(skipped.stdout)
    day = ["show", "daily", str(DAY), "--format", "json"]
    assert json.loads(runner.invoke(cli, [*base, *day]).stdout)["enrichments"]["country_top"] == []
    log2 = _log(tmp_path / "b.json", ["8.8.4.4"], first=100)
    done = runner.invoke(cli, [*base, "ingest", str(log), str(log2), "--json"])
    assert done.exit_code == 0, done.output
    [offline] = json.loads(done.stdout)["enrichment"]
    assert (offline["provider"], offline["looked_up"]) == ("offline", 3)  # all: none yet
    doc = json.loads(runner.invoke(cli, [*base, *day]).stdout)
    assert doc["enrichments"]["country_top"] == [
        {"value": "US", "count": 3},
        {"value": "AU", "count": 1},
    ]
    assert doc["enrichments"]["asn_top"] == [
        {"value": "GOOGLE", "count": 3},
        {"value": "CLOUDFLARENET", "count": 1},
    ]
    again = runner.invoke(cli, [*base, "ingest", str(log2), "--json"])
    assert json.loads(again.stdout)["enrichment"][0]["looked_up"] == 0
    assert runner.invoke(cli, [*base, "refresh-views", "--check"]).exit_code == 0
    monitor = runner.invoke(cli, [*base, "monitor", "--once"])
    assert "enrichment" in monitor.output


def test_public_address_agrees_with_ipaddress() -> None:
    """The bisect tables give what ``ipaddress`` says (global and not multicast), away from
    the few ranges whose verdict changed between Python versions (192.0.0.0/24) or that are
    kept out on purpose (IPv6 outside 2000::/3, 6to4, 3fff::/20)."""
    from cowrieprocessor.enrichment.base import public_address

    rng = random.Random(11)
    disputed4 = ipaddress.ip_network("192.0.0.0/24")
    kept_out6 = [ipaddress.ip_network(n) for n in ("2001::/23", "2002::/16", "3fff::/20")]
    edges = [
        int(a)
        for n in ("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "198.18.0.0/15", "224.0.0.0/4")
        for a in (ipaddress.ip_network(n)[0], ipaddress.ip_network(n)[-1])
        for a in (a - 1, a, a + 1)
    ]
    for value in [rng.getrandbits(32) for _ in range(20_000)] + edges:
        address = ipaddress.IPv4Address(value)
        if address in disputed4:
            continue
        want = address.is_global and not address.is_multicast
        assert (public_address(str(address))[0] is not None) is want, address
        mapped = f"::ffff:{address}"
        assert public_address(mapped)[0] == (str(address) if want else None)
    for _ in range(20_000):
        address = ipaddress.IPv6Address((0b001 << 125) | rng.getrandbits(125))
        if any(address in n for n in kept_out6):
            assert public_address(str(address)) == (None, "private or reserved address")
            continue
        assert address.is_global and public_address(str(address))[0] == str(address)
