"""Secret references: every scheme, with fake CLIs first on PATH."""

from __future__ import annotations

import os
import stat
import traceback
from pathlib import Path

import pytest

from cowrieprocessor.secrets import (
    Redactor,
    SecretResolutionError,
    is_secret_reference,
    redact,
    resolve_secret,
)

SECRET = "s3cr3t-Value!"


def _fake_cli(bin_dir: Path, name: str, script: str) -> Path:
    """Write an executable ``name`` that logs its argv to ``<bin>/<name>.args``."""
    path = bin_dir / name
    path.write_text(
        "#!/bin/sh\n"
        f'for a in "$@"; do printf "%s\\n" "$a"; done > "{bin_dir}/{name}.args"\n' + script
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _args(bin_dir: Path, name: str) -> list[str]:
    return (bin_dir / f"{name}.args").read_text().splitlines()


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ.get('PATH', '')}")
    return directory


def _assert_clean(err: SecretResolutionError) -> None:
    """The error, its repr and its formatted traceback never show the secret."""
    assert err.__cause__ is None
    assert err.__context__ is None
    text = "".join(traceback.format_exception(err))
    assert SECRET not in text
    assert SECRET not in repr(err)


def test_plain_and_none_pass_through() -> None:
    assert resolve_secret(None) is None
    assert resolve_secret("hunter2") == "hunter2"
    assert resolve_secret("plain:env:NOT_A_REF") == "env:NOT_A_REF"
    assert not is_secret_reference("hunter2")
    assert is_secret_reference("vault://x")


def test_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COWRIE_TEST_SECRET", SECRET)
    assert resolve_secret("env:COWRIE_TEST_SECRET") == SECRET
    assert resolve_secret("env:X", environ={"X": SECRET}) == SECRET
    monkeypatch.delenv("COWRIE_TEST_SECRET")
    with pytest.raises(SecretResolutionError, match="COWRIE_TEST_SECRET is not set") as info:
        resolve_secret("env:COWRIE_TEST_SECRET")
    assert info.value.scheme == "env"


def test_env_empty_is_an_error() -> None:
    with pytest.raises(SecretResolutionError, match="empty"):
        resolve_secret("env:E", environ={"E": ""})


def test_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text(SECRET + "\n")
    assert resolve_secret(f"file:{secret_file}") == SECRET
    secret_file.write_text(SECRET + "\r\n\n")
    assert resolve_secret(f"file:{secret_file}") == SECRET


def test_file_errors_do_not_leak(tmp_path: Path) -> None:
    with pytest.raises(SecretResolutionError, match="cannot read file") as info:
        resolve_secret(f"file:{tmp_path / 'missing'}")
    _assert_clean(info.value)
    bad = tmp_path / "bad"
    bad.write_bytes(SECRET.encode() + b"\xff\xfe")
    with pytest.raises(SecretResolutionError, match="not valid UTF-8") as info:
        resolve_secret(f"file:{bad}")
    _assert_clean(info.value)


def test_op(bin_dir: Path) -> None:
    _fake_cli(bin_dir, "op", f'echo "{SECRET}"\n')
    assert resolve_secret("op://Private/es/password") == SECRET
    assert _args(bin_dir, "op") == ["read", "op://Private/es/password"]


def test_op_malformed() -> None:
    with pytest.raises(SecretResolutionError, match="op://vault/item/field"):
        resolve_secret("op://only-vault")


def test_aws_sm_plain_and_region(bin_dir: Path) -> None:
    _fake_cli(bin_dir, "aws", f'echo "{SECRET}"\n')
    assert resolve_secret("aws-sm://eu-west-1/prod/cowrie/es") == SECRET
    assert _args(bin_dir, "aws") == [
        "secretsmanager",
        "get-secret-value",
        "--secret-id",
        "prod/cowrie/es",
        "--region",
        "eu-west-1",
        "--query",
        "SecretString",
        "--output",
        "text",
    ]
    assert resolve_secret("aws-sm://prod/cowrie/es") == SECRET
    assert "--region" not in _args(bin_dir, "aws")
    assert _args(bin_dir, "aws")[3] == "prod/cowrie/es"


def test_aws_sm_json_key(bin_dir: Path) -> None:
    _fake_cli(bin_dir, "aws", f'echo \'{{"password": "{SECRET}", "port": 9200}}\'\n')
    assert resolve_secret("aws-sm://us-east-1/es#password") == SECRET
    assert resolve_secret("aws-sm://es#port") == "9200"
    with pytest.raises(SecretResolutionError, match="'user' not found") as info:
        resolve_secret("aws-sm://es#user")
    _assert_clean(info.value)


def test_aws_sm_non_json_with_key_does_not_leak(bin_dir: Path) -> None:
    _fake_cli(bin_dir, "aws", f'echo "{SECRET}"\n')
    with pytest.raises(SecretResolutionError, match="not JSON") as info:
        resolve_secret("aws-sm://es#password")
    _assert_clean(info.value)


def test_vault(bin_dir: Path) -> None:
    _fake_cli(bin_dir, "vault", f'printf "%s" "{SECRET}"\n')
    assert resolve_secret("vault://secret/cowrie/es#password") == SECRET
    assert _args(bin_dir, "vault") == ["kv", "get", "-field=password", "secret/cowrie/es"]
    assert resolve_secret("vault://secret/cowrie/es") == SECRET
    assert _args(bin_dir, "vault") == ["kv", "get", "-field=value", "secret/cowrie/es"]


def test_sops(bin_dir: Path, tmp_path: Path) -> None:
    _fake_cli(bin_dir, "sops", f'echo "{SECRET}"\n')
    enc = tmp_path / "secrets.enc.yaml"
    assert resolve_secret(f"sops://{enc}#elasticsearch.password") == SECRET
    assert _args(bin_dir, "sops") == [
        "-d",
        "--extract",
        '["elasticsearch"]["password"]',
        str(enc),
    ]
    assert resolve_secret(f"sops://{enc}#users.0.pw") == SECRET
    assert _args(bin_dir, "sops")[2] == '["users"][0]["pw"]'
    assert resolve_secret(f"sops://{enc}") == SECRET
    assert _args(bin_dir, "sops") == ["-d", str(enc)]


@pytest.mark.parametrize(
    "reference",
    [
        "op://v/i/f",
        "aws-sm://id",
        "vault://secret/x#f",
        "sops:///tmp/x#a.b",
    ],
)
def test_command_failure_never_shows_output(bin_dir: Path, reference: str) -> None:
    for name in ("op", "aws", "vault", "sops"):
        _fake_cli(bin_dir, name, f'echo "{SECRET}"\necho "oops {SECRET}" >&2\nexit 3\n')
    with pytest.raises(SecretResolutionError, match="exited with status 3") as info:
        resolve_secret(reference)
    assert reference in str(info.value)
    _assert_clean(info.value)


def test_command_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SecretResolutionError, match="'vault' not found on PATH"):
        resolve_secret("vault://secret/x")


def test_command_timeout(bin_dir: Path) -> None:
    _fake_cli(bin_dir, "op", f'echo "{SECRET}"\nexec sleep 5\n')
    with pytest.raises(SecretResolutionError, match=r"timed out after 0\.3s") as info:
        resolve_secret("op://v/i/f", timeout=0.3)
    _assert_clean(info.value)


def test_empty_output_is_an_error(bin_dir: Path) -> None:
    _fake_cli(bin_dir, "vault", "exit 0\n")
    with pytest.raises(SecretResolutionError, match="empty value"):
        resolve_secret("vault://secret/x")


def test_malformed_keys() -> None:
    with pytest.raises(SecretResolutionError, match="empty key"):
        resolve_secret("vault://secret/x#")
    with pytest.raises(SecretResolutionError, match="empty path"):
        resolve_secret("aws-sm://#k")
    with pytest.raises(SecretResolutionError, match="dotted key"):
        resolve_secret("sops:///x#a..b")


def test_redactor_masks_secret_keys_url_passwords_and_known_values() -> None:
    mask = Redactor(["s3cr3t-value", None, "", "ab"])
    data = {
        "password": "x",
        "es_api_key": None,
        "hosts": ("https://user:pw@es.example:9200",),
        "message": "HTTP 401: bad password s3cr3t-value for user",
        "count": 3,
        "nested": [{"Authorization": {"scheme": "Basic"}}],
    }
    assert mask(data) == {
        "password": "***",
        "es_api_key": None,  # nothing to hide, and "none given" stays visible
        "hosts": ("https://user:***@es.example:9200",),
        "message": "HTTP 401: bad password *** for user",
        "count": 3,
        "nested": [{"Authorization": "***"}],
    }
    assert mask.text(None) == ""
    assert mask.text("ab is too short to mask without mangling text") == (
        "ab is too short to mask without mangling text"
    )
    # the longer of two overlapping secrets is masked whole
    assert Redactor(["abc", "abcdef"]).text("-abcdef-abc-") == "-***-***-"
    # the shared redactor knows no values, only keys and URLs
    assert redact("s3cr3t-value") == "s3cr3t-value"
    assert redact({"token": "t"}) == {"token": "***"}
