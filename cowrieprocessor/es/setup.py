"""``es-setup``: install the ILM policy, the index templates and the bootstrap indices.

:func:`setup_elasticsearch` is idempotent: it upserts the ILM policy and the three index
templates (``PUT`` replaces them with the same content) and, in alias mode, creates
``<prefix>.<type>-000001`` with the write alias only when the alias does not exist yet. The
names are those of :mod:`cowrieprocessor.es.names`, the bodies those of
:mod:`cowrieprocessor.es.mappings`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError

from cowrieprocessor.es.errors import describe_failure
from cowrieprocessor.es.mappings import ilm_policy, index_template
from cowrieprocessor.es.names import (
    DEFAULT_PREFIX,
    IndexMode,
    bootstrap_index_name,
    policy_name,
    template_name,
    write_alias,
)
from cowrieprocessor.reporting.periods import REPORT_TYPES

__all__ = ["ESSetupError", "SetupResult", "SetupStep", "setup_elasticsearch"]


class ESSetupError(RuntimeError):
    """Installing the policy, templates or indices failed; the message is one line."""


@dataclass(frozen=True)
class SetupStep:
    """One thing ``es-setup`` did: ``kind`` (policy/template/index), ``name``, ``action``
    (``created``, ``updated`` or ``skipped``) and a ``detail``."""

    kind: str
    name: str
    action: str
    detail: str = ""


@dataclass
class SetupResult:
    """What :func:`setup_elasticsearch` did, step by step."""

    steps: list[SetupStep] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable one-liners."""
        return [
            f"{s.kind} {s.name}: {s.action}" + (f" ({s.detail})" if s.detail else "")
            for s in self.steps
        ]


def setup_elasticsearch(
    client: Elasticsearch,
    *,
    prefix: str = DEFAULT_PREFIX,
    index_mode: IndexMode = "alias",
    replicas: int | None = None,
    report_types: tuple[str, ...] = REPORT_TYPES,
) -> SetupResult:
    """Install the ILM policy, the index templates and (alias mode) the bootstrap indices.

    Safe to re-run: the policy and templates are replaced with identical content; an
    existing write alias is left alone (``skipped``).

    Raises:
        ESSetupError: a request failed (message names the object and the server's reason).
    """
    result = SetupResult()
    name = policy_name(prefix, index_mode)
    current = f"ILM policy {name}"
    try:
        try:
            client.ilm.get_lifecycle(name=name)
            existed = True
        except NotFoundError:
            existed = False
        client.ilm.put_lifecycle(name=name, policy=ilm_policy(index_mode)["policy"])
        result.steps.append(SetupStep("ilm-policy", name, "updated" if existed else "created"))
        for report_type in report_types:
            tname = template_name(report_type, prefix)
            current = f"index template {tname}"
            existed = bool(client.indices.exists_index_template(name=tname))
            body = index_template(
                report_type, prefix=prefix, index_mode=index_mode, replicas=replicas
            )
            client.indices.put_index_template(
                name=tname,
                index_patterns=body["index_patterns"],
                priority=body["priority"],
                template=body["template"],
                meta=body["_meta"],
            )
            result.steps.append(
                SetupStep("index-template", tname, "updated" if existed else "created")
            )
        if index_mode == "alias":
            for report_type in report_types:
                alias = write_alias(report_type, prefix)
                index = bootstrap_index_name(report_type, prefix)
                current = f"bootstrap index {index}"
                if client.indices.exists_alias(name=alias):
                    result.steps.append(
                        SetupStep("index", index, "skipped", f"alias {alias} exists")
                    )
                    continue
                client.indices.create(index=index, aliases={alias: {"is_write_index": True}})
                result.steps.append(SetupStep("index", index, "created", f"write alias {alias}"))
    except (ApiError, TransportError) as exc:
        message = f"es-setup failed at {current}: {describe_failure(exc, client).line}"
        raise ESSetupError(message) from None
    return result
