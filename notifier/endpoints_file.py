"""Endpoints from a file (NOTIFIER_ENDPOINTS_FILE) for automation: YAML or JSON, secrets from env."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from common.webhooks import Endpoint, EndpointError, endpoint_from


def parse_endpoints(doc: Any, env: Mapping[str, str]) -> list[Endpoint]:
    """Endpoints of a parsed document: `{"endpoints": [...]}` or a bare list.

    Each item is an endpoint (common.webhooks.Endpoint fields); `secret_env` names the variable
    holding its secret, so the file itself need not hold one. Ids become `file:<id>`.
    """
    items = doc.get("endpoints") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise EndpointError("the endpoints file must hold a list under `endpoints`")
    out: list[Endpoint] = []
    for item in items:
        if not isinstance(item, dict):
            raise EndpointError("each endpoint must be a mapping")
        data = dict(item)
        secret_env = data.pop("secret_env", None)
        if secret_env is not None:
            if str(secret_env) not in env:
                raise EndpointError(f"endpoint {data.get('id')}: variable {secret_env} is not set")
            data["secret"] = env[str(secret_env)]
        data["id"] = f"file:{data.get('id') or ''}"
        data["source"] = "file"
        out.append(endpoint_from(data))
    ids = [e.id for e in out]
    if len(set(ids)) != len(ids):
        raise EndpointError("endpoint ids in the file must be unique")
    return out


def load_endpoints(path: str, env: Mapping[str, str] | None = None) -> list[Endpoint]:
    """Read and validate the file ('' = none); EndpointError (or OSError) names what is wrong."""
    if not path:
        return []
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))  # YAML is a superset of JSON
    except yaml.YAMLError as exc:
        raise EndpointError(f"{path}: not YAML/JSON: {exc}") from None
    return parse_endpoints(doc, os.environ if env is None else env)
