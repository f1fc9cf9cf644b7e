"""Connection settings: precedence, config file, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from cowrieprocessor.es.settings import (
    ESSettings,
    ESSettingsError,
    create_client,
    load_settings,
)
from cowrieprocessor.testing.es_server import FakeElasticsearch

PW = "Pa55-w0rd-value"
KEY = "api-key-value-XYZ"


def test_defaults() -> None:
    settings = load_settings(environ={})
    assert settings.hosts == ("http://localhost:9200",)
    assert settings.index_prefix == "cowrie.reports"
    assert settings.index_mode == "alias"
    assert settings.verify_ssl is True


def test_precedence_flags_env_file(tmp_path: Path) -> None:
    config = tmp_path / "es.toml"
    config.write_text(
        "[elasticsearch]\n"
        'host = "http://file:9200"\n'
        'username = "file-user"\n'
        'index_prefix = "file.reports"\n'
        "verify_ssl = false\n"
        'ca_certs = "/file/ca.pem"\n'
        "request_timeout = 12\n"
    )
    env = {
        "ES_HOST": "http://env1:9200, http://env2:9200",
        "ES_USERNAME": "env-user",
        "COWRIE_ES_CONFIG": str(config),
    }
    settings = load_settings(username="flag-user", environ=env)
    assert settings.hosts == ("http://env1:9200", "http://env2:9200")
    assert settings.username == "flag-user"
    assert settings.index_prefix == "file.reports"
    assert settings.verify_ssl is False
    assert settings.ca_certs == "/file/ca.pem"
    assert settings.request_timeout == 12.0
    assert load_settings(config_file=config, environ={}).hosts == ("http://file:9200",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[elasticsearch]\nbogus = 1\n", "unknown key 'bogus'"),
        (f'[elasticsearch]\npassword = "{PW}\n', "invalid TOML"),
        ('[elasticsearch]\nverify_ssl = "maybe"\n', "verify_ssl"),
        ('[elasticsearch]\nindex_mode = "weekly"\n', "index mode"),
    ],
)
def test_bad_config_file(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "es.toml"
    config.write_text(text)
    with pytest.raises(ESSettingsError, match=message) as info:
        load_settings(config_file=config, environ={})
    assert PW not in str(info.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ESSettingsError, match="cannot read"):
        load_settings(config_file=tmp_path / "nope.toml", environ={})


def test_repr_never_shows_secrets() -> None:
    settings = load_settings(
        hosts=f"https://elastic:{PW}@es.example.org:9243",
        api_key=KEY,
        environ={},
    )
    assert settings.username == "elastic" and settings.password == PW
    assert settings.hosts == ("https://es.example.org:9243",)
    for text in (repr(settings), str(settings), f"{settings}", f"{settings!r}"):
        assert PW not in text and KEY not in text
        assert "password='***'" in text and "api_key='***'" in text
    assert "password=None" in repr(ESSettings())


def test_env_secret_reference_resolved_only_on_demand(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COWRIE_PW", PW)
    settings = load_settings(username="u", password="env:COWRIE_PW", environ={})
    assert settings.password == "env:COWRIE_PW"
    assert settings.resolved().password == PW
    assert PW not in repr(settings.resolved())


def test_invalid_values() -> None:
    with pytest.raises(ESSettingsError, match="lowercase"):
        load_settings(index_prefix="Cowrie", environ={})
    with pytest.raises(ESSettingsError, match="needs a username"):
        load_settings(password="x", environ={})
    with pytest.raises(ESSettingsError, match="number"):
        load_settings(environ={"ES_TIMEOUT": "soon"})


def test_client_sends_api_key() -> None:
    with FakeElasticsearch() as server:
        es = create_client(load_settings(hosts=server.url, api_key=KEY, environ={}))
        try:
            es.info()
        finally:
            es.close()
        assert server.requests[0].headers["authorization"] == f"ApiKey {KEY}"
