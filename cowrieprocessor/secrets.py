"""Secrets: resolving references for passwords and API keys, and masking secrets in output.

A value is either a plain secret (returned unchanged) or a reference:

===============================  ==========================================================
``env:NAME``                     the environment variable ``NAME``
``file:/path``                   the file's text (UTF-8), trailing newlines stripped;
                                 ``~`` is expanded
``op://vault/item/field``        ``op read op://vault/item/field`` (1Password CLI)
``aws-sm://[region/]id[#key]``   ``aws secretsmanager get-secret-value --secret-id id
                                 [--region region] --query SecretString --output text``;
                                 the first path segment is a region only when it looks
                                 like one (``us-east-1``), so ids may contain ``/``;
                                 ``#key`` parses the secret string as JSON and picks a key
``vault://path[#field]``         ``vault kv get -field=<field, default "value"> path``
``sops://path[#dot.key]``        ``sops -d --extract '["dot"]["key"]' path`` (all-digit
                                 parts become list indices ``[0]``); without ``#`` the
                                 whole decrypted file
``plain:VALUE``                  ``VALUE`` verbatim (escape for a secret that happens to
                                 start with one of the prefixes above)
===============================  ==========================================================

External commands run without a shell, with stdin closed and a timeout (default 30 s), and
are looked up on ``PATH``. Output has trailing ``\\r``/``\\n`` stripped; an empty result is
an error.

Any failure raises :class:`SecretResolutionError`. Its message names the scheme, the
reference (a pointer, not the secret) and the reason, but never the secret value nor any
command output (stdout or stderr), which could contain it. The exception is raised outside
the ``except`` block, so it carries neither ``__cause__`` nor ``__context__``.

:class:`Redactor` (and :data:`redact`, one without known values) is the one place that masks
secrets in what is shown or stored: values under keys that name a secret, passwords inside
URLs, and resolved secret values wherever they appear in a text.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

__all__ = [
    "MASK",
    "SCHEMES",
    "Redactor",
    "SecretResolutionError",
    "is_secret_reference",
    "redact",
    "resolve_secret",
]

#: Prefixes recognised as secret references.
SCHEMES = ("env:", "file:", "op://", "aws-sm://", "vault://", "sops://", "plain:")

DEFAULT_TIMEOUT = 30.0

_AWS_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d+$")


class SecretResolutionError(Exception):
    """A secret reference could not be resolved. The message never contains the secret."""

    def __init__(self, reference: str, reason: str) -> None:
        scheme = _scheme_of(reference) or "plain"
        super().__init__(f"cannot resolve secret {reference!r} ({scheme}): {reason}")
        self.reference = reference
        self.scheme = scheme
        self.reason = reason


def _scheme_of(value: str) -> str | None:
    for prefix in SCHEMES:
        if value.startswith(prefix):
            return prefix.rstrip(":/")
    return None


def is_secret_reference(value: str | None) -> bool:
    """Whether ``value`` starts with one of :data:`SCHEMES`."""
    return value is not None and _scheme_of(value) is not None


def resolve_secret(
    value: str | None,
    *,
    environ: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> str | None:
    """Return the secret that ``value`` refers to (``None`` and plain values pass through).

    ``environ`` replaces :data:`os.environ` for ``env:`` lookups and for the ``PATH`` and
    environment of external commands.

    Raises:
        SecretResolutionError: the reference is malformed or cannot be resolved.
    """
    if value is None:
        return None
    env = os.environ if environ is None else environ
    scheme = _scheme_of(value)
    if scheme is None:
        return value
    if scheme == "plain":
        return value[len("plain:") :]
    resolver = _RESOLVERS[scheme]
    result = resolver(value, env, timeout)
    if result == "":
        raise SecretResolutionError(value, "resolved to an empty value")
    return result


def _env(ref: str, env: Mapping[str, str], timeout: float) -> str:
    name = ref[len("env:") :]
    if not name:
        raise SecretResolutionError(ref, "no variable name after 'env:'")
    if name not in env:
        raise SecretResolutionError(ref, f"environment variable {name} is not set")
    return env[name]


def _file(ref: str, env: Mapping[str, str], timeout: float) -> str:
    raw = ref[len("file:") :]
    if not raw:
        raise SecretResolutionError(ref, "no path after 'file:'")
    path = Path(raw).expanduser()
    reason: str | None = None
    text = ""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        reason = "file is not valid UTF-8"
    except OSError as exc:
        reason = f"cannot read file: {exc.strerror or type(exc).__name__}"
    if reason is not None:
        raise SecretResolutionError(ref, reason)
    return text.rstrip("\r\n")


def _run(ref: str, argv: list[str], env: Mapping[str, str], timeout: float) -> str:
    """Run ``argv`` (no shell); return stdout without trailing newlines.

    Errors never include the command's output.
    """
    exe = shutil.which(argv[0], path=env.get("PATH"))
    if exe is None:
        raise SecretResolutionError(ref, f"command {argv[0]!r} not found on PATH")
    reason: str | None = None
    stdout = b""
    try:
        completed = subprocess.run(
            [exe, *argv[1:]],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            env=dict(env),
            check=False,
        )
    except subprocess.TimeoutExpired:
        reason = f"{argv[0]} timed out after {timeout:g}s"
    except OSError as exc:
        reason = f"cannot run {argv[0]}: {exc.strerror or type(exc).__name__}"
    else:
        if completed.returncode != 0:
            reason = f"{argv[0]} exited with status {completed.returncode} (output suppressed)"
        stdout = completed.stdout
    if reason is not None:
        raise SecretResolutionError(ref, reason)
    try:
        text = stdout.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None:
        raise SecretResolutionError(ref, f"{argv[0]} printed invalid UTF-8")
    return text.rstrip("\r\n")


def _split_key(ref: str, rest: str) -> tuple[str, str | None]:
    target, sep, key = rest.partition("#")
    if not target:
        raise SecretResolutionError(ref, "empty path")
    if sep and not key:
        raise SecretResolutionError(ref, "empty key after '#'")
    return target, key if sep else None


def _op(ref: str, env: Mapping[str, str], timeout: float) -> str:
    parts = ref[len("op://") :].split("/")
    if len(parts) < 3 or not all(parts):
        raise SecretResolutionError(ref, "expected op://vault/item/field")
    return _run(ref, ["op", "read", ref], env, timeout)


def _aws_sm(ref: str, env: Mapping[str, str], timeout: float) -> str:
    target, key = _split_key(ref, ref[len("aws-sm://") :])
    region: str | None = None
    first, sep, remainder = target.partition("/")
    if sep and remainder and _AWS_REGION.match(first):
        region, target = first, remainder
    argv = ["aws", "secretsmanager", "get-secret-value", "--secret-id", target]
    if region:
        argv += ["--region", region]
    argv += ["--query", "SecretString", "--output", "text"]
    secret = _run(ref, argv, env, timeout)
    if key is None:
        return secret
    return _json_key(ref, secret, key)


def _json_key(ref: str, secret: str, key: str) -> str:
    data: Any = None
    reason: str | None = None
    try:
        data = orjson.loads(secret)
    except orjson.JSONDecodeError:
        reason = "secret string is not JSON, cannot select a key"
    if reason is None and not isinstance(data, dict):
        reason = "secret string is not a JSON object, cannot select a key"
    if reason is None and key not in data:
        reason = f"key {key!r} not found in the secret"
    if reason is not None:
        raise SecretResolutionError(ref, reason)
    value = data[key]
    if isinstance(value, str):
        return value
    if value is None:
        raise SecretResolutionError(ref, f"key {key!r} is null")
    return orjson.dumps(value).decode()


def _vault(ref: str, env: Mapping[str, str], timeout: float) -> str:
    path, field = _split_key(ref, ref[len("vault://") :])
    return _run(ref, ["vault", "kv", "get", f"-field={field or 'value'}", path], env, timeout)


def _sops(ref: str, env: Mapping[str, str], timeout: float) -> str:
    path, key = _split_key(ref, ref[len("sops://") :])
    argv = ["sops", "-d"]
    if key is not None:
        parts = key.split(".")
        if not all(parts):
            raise SecretResolutionError(ref, "empty part in the dotted key")
        extract = "".join(f"[{p}]" if p.isdigit() else f'["{p}"]' for p in parts)
        argv += ["--extract", extract]
    argv.append(str(Path(path).expanduser()))
    return _run(ref, argv, env, timeout)


_RESOLVERS = {
    "env": _env,
    "file": _file,
    "op": _op,
    "aws-sm": _aws_sm,
    "vault": _vault,
    "sops": _sops,
}


# --------------------------------------------------------------------------- masking

#: What a masked secret is shown as.
MASK = "***"
#: Known secret values shorter than this are not masked (masking "a" would mangle text).
_MIN_KNOWN_LENGTH = 3
_SECRET_KEY_RE = re.compile(
    r"passw|passwd|pwd|secret|token|api[_-]?key|apikey|credential|private[_-]?key|authorization",
    re.IGNORECASE,
)
_URL_PASSWORD_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):[^/\s@]*@")


class Redactor:
    """Masks secrets in text and data before they are shown or stored.

    Masked as :data:`MASK`: every value under a key that names a secret (``password``,
    ``api_key``, ``token``, ``Authorization``, ...; ``None`` stays ``None``), the password
    of a URL (``user:***@host``), and each of the ``known`` secret values (resolved
    passwords and API keys) wherever it occurs in a string.
    """

    def __init__(self, known: Iterable[str | None] = ()) -> None:
        values = {value for value in known if value and len(value) >= _MIN_KNOWN_LENGTH}
        self.known: tuple[str, ...] = tuple(sorted(values, key=len, reverse=True))

    def text(self, value: str | None) -> str:
        """``value`` with URL passwords and known secrets masked (``""`` for ``None``)."""
        text = value or ""
        if "@" in text:
            text = _URL_PASSWORD_RE.sub(rf"\g<scheme>:{MASK}@", text)
        for secret in self.known:
            text = text.replace(secret, MASK)
        return text

    def __call__(self, value: Any) -> Any:
        """A copy of ``value`` (mappings, lists and tuples recursively) with secrets masked."""
        if isinstance(value, Mapping):
            return {
                key: MASK if item is not None and _names_secret(key) else self(item)
                for key, item in value.items()
            }
        if isinstance(value, tuple):
            return tuple(self(item) for item in value)
        if isinstance(value, list):
            return [self(item) for item in value]
        if isinstance(value, str):
            return self.text(value)
        return value


def _names_secret(key: object) -> bool:
    return isinstance(key, str) and _SECRET_KEY_RE.search(key) is not None


#: Masks secret-named keys and URL passwords; knows no secret values.
redact = Redactor()
