"""es-setup: ILM policy, templates, bootstrap indices; idempotent; mappings match documents."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch

from cowrieprocessor.cli.es_setup import command
from cowrieprocessor.es.mappings import index_template, report_mappings
from cowrieprocessor.es.names import bootstrap_index_name, dated_index_name, write_alias
from cowrieprocessor.es.settings import create_client, load_settings
from cowrieprocessor.es.setup import ESSetupError, setup_elasticsearch
from cowrieprocessor.testing.es_documents import example_report
from cowrieprocessor.testing.es_server import FakeElasticsearch, validate_document

TYPES = ("daily", "weekly", "monthly")


@pytest.fixture
def server() -> Iterator[FakeElasticsearch]:
    with FakeElasticsearch() as fake:
        yield fake
        assert fake.errors == []


@pytest.fixture
def client(server: FakeElasticsearch) -> Iterator[Elasticsearch]:
    es = create_client(load_settings(hosts=server.url, environ={}))
    yield es
    es.close()


def _leaf_paths(mapping: dict, prefix: str = "") -> set[str]:
    paths = set()
    for name, spec in mapping.get("properties", {}).items():
        if "properties" in spec:
            paths |= _leaf_paths(spec, f"{prefix}{name}.")
        else:
            paths.add(f"{prefix}{name}")
    return paths


def _doc_paths(doc: dict, prefix: str = "") -> set[str]:
    paths = set()
    for key, value in doc.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for element in value:
                paths |= _doc_paths(element, f"{prefix}{key}.")
        elif isinstance(value, dict) and key not in ("protocols", "alerts_summary"):
            paths |= _doc_paths(value, f"{prefix}{key}.")
        else:
            paths.add(f"{prefix}{key}")
    return paths


@pytest.mark.parametrize("report_type", TYPES)
def test_mapping_matches_example_document_exactly(report_type: str) -> None:
    mapping = report_mappings(report_type)
    doc = example_report(report_type)
    assert mapping["dynamic"] == "strict"
    assert validate_document(mapping, doc) is None
    # every mapped field occurs in the example and vice versa
    assert _leaf_paths(mapping) == _doc_paths(doc)


@pytest.mark.parametrize("report_type", TYPES)
def test_mapping_types(report_type: str) -> None:
    props = report_mappings(report_type)["properties"]
    assert props["@timestamp"]["type"] == "date"
    assert props["schema_version"]["type"] == "long"
    assert props["sensor"]["type"] == "keyword"
    sessions = props["sessions"]["properties"]
    assert sessions["total"]["type"] == "long"
    assert sessions["avg_commands"]["type"] == "double"
    assert sessions["top_usernames"]["properties"]["count"]["type"] == "long"
    top_commands = props["commands"]["properties"]["top_commands"]["properties"]["value"]
    assert top_commands["ignore_above"] <= 8191  # keyword terms must stay below 32 KB
    mapping = report_mappings(report_type)
    protocols = {"sessions": {"protocols": {"ssh": "many"}}}
    assert "mapper_parsing_exception" in (validate_document(mapping, protocols) or "")


def test_mapping_rejects_fields_of_other_report_types() -> None:
    weekly = example_report("weekly")
    assert validate_document(report_mappings("daily"), weekly) is not None
    daily = example_report("daily")
    assert validate_document(report_mappings("monthly"), daily) is not None


def test_dated_index_names() -> None:
    assert dated_index_name("daily", "2024-12-31") == "cowrie.reports.daily-2024.12"
    assert dated_index_name("weekly", "2020-W53", "p") == "p.weekly-2020"
    assert dated_index_name("monthly", "2024-01") == "cowrie.reports.monthly-2024"
    with pytest.raises(ValueError, match="does not fit"):
        dated_index_name("weekly", "2024-05")


def test_template_settings() -> None:
    body = index_template("weekly", prefix="acme.reports", replicas=0)
    assert body["index_patterns"] == ["acme.reports.weekly-*"]
    lifecycle = body["template"]["settings"]["index"]["lifecycle"]
    assert lifecycle == {
        "name": "acme.reports-policy",
        "rollover_alias": "acme.reports.weekly-write",
    }
    assert body["template"]["settings"]["index"]["number_of_replicas"] == 0


def test_setup_installs_everything_and_is_idempotent(
    server: FakeElasticsearch, client: Elasticsearch
) -> None:
    first = setup_elasticsearch(client)
    assert [s.action for s in first.steps] == ["created"] * 7
    policy = server.policies["cowrie.reports-policy"]["policy"]
    assert policy["phases"]["hot"]["actions"]["rollover"]["max_age"] == "7d"
    assert policy["phases"]["warm"]["min_age"] == "30d"
    assert policy["phases"]["cold"]["min_age"] == "90d"
    for report_type in TYPES:
        template = server.templates[f"cowrie.reports.{report_type}"]
        assert template["template"]["mappings"] == report_mappings(report_type)
        assert server.aliases[write_alias(report_type)] == {
            bootstrap_index_name(report_type): {"is_write_index": True}
        }
        index = server.indices[bootstrap_index_name(report_type)]
        assert index.mappings == report_mappings(report_type)

    second = setup_elasticsearch(client)
    assert [s.action for s in second.steps] == ["updated"] * 4 + ["skipped"] * 3
    assert sorted(server.indices) == sorted(bootstrap_index_name(t) for t in TYPES)


def test_setup_skips_rolled_over_alias(server: FakeElasticsearch, client: Elasticsearch) -> None:
    setup_elasticsearch(client)
    # simulate a rollover: a second index now holds the write alias
    client.indices.create(
        index="cowrie.reports.daily-000002",
        aliases={"cowrie.reports.daily-write": {"is_write_index": True}},
    )
    result = setup_elasticsearch(client)
    assert result.steps[-3].action == "skipped"
    assert server.resolve("cowrie.reports.daily-write", for_write=True) == [
        "cowrie.reports.daily-000002"
    ]


def test_setup_error_is_one_clean_line(server: FakeElasticsearch, client: Elasticsearch) -> None:
    server.fail_requests(times=1, status=403, path_contains="_index_template")
    with pytest.raises(ESSetupError) as info:
        setup_elasticsearch(client)
    message = str(info.value)
    assert "index template cowrie.reports.daily" in message and "403" in message
    assert "\n" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_cli_es_setup(server: FakeElasticsearch, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("topsecret\n")
    runner = CliRunner()
    args = [
        "--es-host",
        server.url,
        "--es-username",
        "elastic",
        "--es-password",
        f"file:{secret}",
        "--index-prefix",
        "acme.reports",
    ]
    result = runner.invoke(command, args, env={"ES_HOST": None})
    assert result.exit_code == 0, result.output
    assert "index acme.reports.daily-000001: created" in result.output
    auth = server.requests[0].headers["authorization"]
    assert auth.startswith("Basic ")
    again = runner.invoke(command, args)
    assert again.exit_code == 0 and "skipped" in again.output


def test_cli_es_setup_errors_are_clean(server: FakeElasticsearch, tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(
        command,
        ["--es-host", server.url, "--es-username", "u", "--es-password", "env:NO_SUCH_VAR_X"],
        env={"NO_SUCH_VAR_X": None},
    )
    assert missing.exit_code == 1
    assert "NO_SUCH_VAR_X is not set" in missing.output
    assert "Traceback" not in missing.output

    server.fail_requests(times=1, status=401, path_contains="_ilm")
    denied = runner.invoke(
        command, ["--es-host", server.url, "--es-username", "u", "--es-password", "hunter2"]
    )
    assert denied.exit_code == 1
    assert "401" in denied.output and "hunter2" not in denied.output
    assert len(denied.output.strip().splitlines()) == 1

    down = runner.invoke(command, ["--es-host", "http://127.0.0.1:9", "--es-timeout", "1"])
    assert down.exit_code == 1 and "connection" in down.output.lower()


def test_cli_es_setup_refused_connection_names_host_and_reason() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket is closed
    result = CliRunner().invoke(
        command, ["--es-host", f"http://127.0.0.1:{port}", "--es-timeout", "2"]
    )
    assert result.exit_code == 1
    [line] = result.output.splitlines()
    prefix = (
        "Error: es-setup failed at ILM policy cowrie.reports-policy: "
        f"connection error with http://127.0.0.1:{port}: "
    )
    assert line.startswith(prefix), line
    assert line.endswith("Connection refused"), line
    assert "HTTPConnection(" not in line


def test_cli_es_setup_refused_credentials_give_the_server_reason(
    server: FakeElasticsearch,
) -> None:
    server.require_auth(username="cowrie", password="right-password")
    args = ["--es-host", server.url, "--es-username", "cowrie", "--es-password", "wrong-password"]
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: es-setup failed at ILM policy cowrie.reports-policy: HTTP 401 "
        "security_exception: unable to authenticate user [cowrie] for REST request "
        "[/_ilm/policy/cowrie.reports-policy]"
    ]
    assert server.policies == {} and server.templates == {}
