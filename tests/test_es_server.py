"""The fake Elasticsearch server speaks what the 8.x client expects."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from elasticsearch import BadRequestError, Elasticsearch, NotFoundError
from elasticsearch import ConnectionError as ESConnectionError

from cowrieprocessor.testing.es_server import CONTENT_TYPE, FakeElasticsearch


@pytest.fixture
def server() -> Iterator[FakeElasticsearch]:
    with FakeElasticsearch() as fake:
        yield fake
        assert fake.errors == []


@pytest.fixture
def client(server: FakeElasticsearch) -> Iterator[Elasticsearch]:
    es = Elasticsearch(server.url, max_retries=0, request_timeout=2)
    yield es
    es.close()


def test_info_headers_and_request_log(server: FakeElasticsearch, client: Elasticsearch) -> None:
    info = client.info()
    assert info["version"]["number"].startswith("8.")
    assert info.meta.headers["x-elastic-product"] == "Elasticsearch"
    assert info.meta.headers["content-type"] == CONTENT_TYPE
    (request,) = server.requests
    assert (request.method, request.path) == ("GET", "/")
    assert "compatible-with=8" in request.headers["accept"]


def test_bulk_index_create_delete_and_get(server: FakeElasticsearch, client: Elasticsearch) -> None:
    ops = [
        {"index": {"_index": "a", "_id": "1"}},
        {"x": 1},
        {"create": {"_index": "a", "_id": "1"}},
        {"x": 2},
        {"index": {"_id": "2"}},
        {"x": 3},
    ]
    response = client.bulk(operations=ops, index="b")
    statuses = [next(iter(i.values()))["status"] for i in response["items"]]
    assert statuses == [201, 409, 201]
    assert response["errors"] is True
    assert client.get(index="a", id="1")["_source"] == {"x": 1}
    assert server.documents("b") == {"2": {"x": 3}}
    assert client.count(index="a")["count"] == 1
    client.bulk(operations=[{"delete": {"_index": "a", "_id": "1"}}])
    with pytest.raises(NotFoundError):
        client.get(index="a", id="1")
    with pytest.raises(NotFoundError):
        client.get(index="nope", id="1")
    assert server.bulk_requests()[0].path == "/b/_bulk"


def test_aliases_resolve_to_write_index(server: FakeElasticsearch, client: Elasticsearch) -> None:
    client.indices.create(index="r-000001", aliases={"r-write": {"is_write_index": True}})
    client.bulk(operations=[{"index": {"_index": "r-write", "_id": "d"}}, {"v": 1}])
    client.indices.create(index="r-000002", aliases={"r-write": {"is_write_index": True}})
    client.bulk(operations=[{"index": {"_index": "r-write", "_id": "e"}}, {"v": 2}])
    assert set(server.documents("r-000001")) == {"d"}
    assert set(server.documents("r-000002")) == {"e"}
    assert set(server.documents("r-write")) == {"d", "e"}
    assert client.indices.exists_alias(name="r-write")
    assert not client.indices.exists_alias(name="missing")
    aliases = client.indices.get_alias(name="r-write")
    assert aliases["r-000002"]["aliases"]["r-write"] == {"is_write_index": True}
    assert aliases["r-000001"]["aliases"]["r-write"] == {"is_write_index": False}


def test_templates_apply_to_auto_created_indices(
    server: FakeElasticsearch, client: Elasticsearch
) -> None:
    mappings = {"dynamic": "strict", "properties": {"n": {"type": "long"}}}
    client.indices.put_index_template(
        name="t", index_patterns=["logs-*"], template={"mappings": mappings}
    )
    assert client.indices.get_index_template(name="t")["index_templates"][0]["name"] == "t"
    response = client.bulk(
        operations=[
            {"index": {"_index": "logs-1", "_id": "ok"}},
            {"n": 5},
            {"index": {"_index": "logs-1", "_id": "bad"}},
            {"n": 5, "other": 1},
            {"index": {"_index": "logs-1", "_id": "type"}},
            {"n": 5.5},
        ]
    )
    errors = [next(iter(i.values())).get("error", {}).get("type") for i in response["items"]]
    assert errors == [None, "strict_dynamic_mapping_exception", "mapper_parsing_exception"]
    assert server.indices["logs-1"].mappings == mappings


def test_ilm_policy_roundtrip(client: Elasticsearch) -> None:
    with pytest.raises(NotFoundError):
        client.ilm.get_lifecycle(name="p")
    client.ilm.put_lifecycle(name="p", policy={"phases": {"hot": {"actions": {}}}})
    client.ilm.put_lifecycle(name="p", policy={"phases": {"hot": {"actions": {}}}})
    body = client.ilm.get_lifecycle(name="p")
    assert body["p"]["version"] == 2
    assert body["p"]["policy"] == {"phases": {"hot": {"actions": {}}}}


def test_create_existing_index_fails(client: Elasticsearch) -> None:
    client.indices.create(index="x")
    with pytest.raises(BadRequestError, match="resource_already_exists_exception"):
        client.indices.create(index="x")


def test_delay_and_drop_faults(server: FakeElasticsearch, client: Elasticsearch) -> None:
    server.delay_responses(0.3, times=1, path_contains="/")
    started = time.monotonic()
    client.info()
    assert time.monotonic() - started >= 0.3
    server.drop_connections(times=1, path_contains="/")
    with pytest.raises(ESConnectionError):
        client.info()
    assert client.info()["name"] == "fake-es"


def test_without_product_header_the_client_refuses() -> None:
    from elasticsearch import UnsupportedProductError

    with FakeElasticsearch(product_header=False) as fake:
        es = Elasticsearch(fake.url, max_retries=0)
        try:
            with pytest.raises(UnsupportedProductError):
                es.info()
        finally:
            es.close()


def test_security_answers_401_like_elasticsearch(server: FakeElasticsearch) -> None:
    from elasticsearch import AuthenticationException

    server.require_auth(username="cowrie", password="right", api_key="a2V5")
    right = Elasticsearch(server.url, basic_auth=("cowrie", "right"), max_retries=0)
    by_key = Elasticsearch(server.url, api_key="a2V5", max_retries=0)
    wrong = Elasticsearch(server.url, basic_auth=("cowrie", "wrong"), max_retries=0)
    anonymous = Elasticsearch(server.url, max_retries=0)
    try:
        assert right.info()["name"] == by_key.info()["name"] == "fake-es"
        with pytest.raises(AuthenticationException) as denied:
            wrong.indices.put_index_template(name="t", index_patterns=["t-*"])
        assert denied.value.meta.status == 401
        error = denied.value.body["error"]
        assert error["type"] == error["root_cause"][0]["type"] == "security_exception"
        assert error["reason"] == (
            "unable to authenticate user [cowrie] for REST request [/_index_template/t]"
        )
        assert 'Basic realm="security"' in denied.value.meta.headers["www-authenticate"]
        with pytest.raises(AuthenticationException) as missing:
            anonymous.info()
        assert missing.value.body["error"]["reason"] == (
            "missing authentication credentials for REST request [/]"
        )
        with pytest.raises(AuthenticationException) as head:
            wrong.indices.exists_alias(name="a")
        assert head.value.body in (None, "", b"")  # HEAD answers carry no body
        assert server.templates == {}
    finally:
        for es in (right, by_key, wrong, anonymous):
            es.close()
