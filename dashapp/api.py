"""JSON API (`/api/alerts`, `.csv`, `/api/stats`, `/api/rules`, `/api/lists`) and the probe `/healthz`."""

from __future__ import annotations

import dataclasses
import logging
import time

import redis
from flask import Flask, Response, jsonify, request, stream_with_context

from common.webhook_log import DeliveryLog
from common.webhooks import EndpointStore
from dashapp.api_actions import install_alert_actions
from dashapp.api_backtest import install_backtest_api
from dashapp.api_lists import install_lists_api
from dashapp.api_models import install_models_api
from dashapp.api_rules import install_rules_api
from dashapp.api_shadow import install_shadow_api
from dashapp.api_tokens import install_tokens_api
from dashapp.api_webhooks import install_webhooks_api
from dashapp.auth.tokens import TokenStore, install_tokens
from dashapp.openapi import install_openapi
from dashapp.store import AlertWorkflow, DashboardReader, RulesStore
from dashapp.store.lists import ListStore
from dashapp.store.rule_quality import RuleQualityReader
from dashapp.store.search import AlertSearch
from dashapp.store.search_query import InvalidQuery, parse_query
from dashapp.store.shadow_report import ShadowReader
from dashapp.store.shadow_store import ShadowStore
from dashapp.views.alerts_csv import csv_chunks
from model.registry import ModelRegistry

logger = logging.getLogger(__name__)


def _bad(message: str) -> Response:
    resp = jsonify(error=message)
    resp.status_code = 400
    return resp


def install_api(server: Flask, reader: DashboardReader, client: redis.Redis) -> None:
    """Register the API routes (the access guard has already authenticated /api/*)."""
    search = AlertSearch(client, reader.keys)

    def alerts() -> Response:
        try:
            query = parse_query(request.args.to_dict())
        except InvalidQuery as exc:
            return _bad(str(exc))
        found = search.search(query)
        return jsonify(
            alerts=[r.to_dict() for r in found.rows],
            count=len(found.rows),
            total=found.total,
            exact=found.exact,
        )

    def alerts_csv() -> Response:
        try:  # the same filters; every match is exported (offset and limit do not apply)
            query = parse_query(request.args.to_dict())
        except InvalidQuery as exc:
            return _bad(str(exc))
        rows = search.iter_rows(query)
        resp = Response(stream_with_context(csv_chunks(rows)), mimetype="text/csv")
        resp.headers["Content-Disposition"] = 'attachment; filename="alerts.csv"'
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def retention() -> Response:
        return jsonify(dataclasses.asdict(search.retention(int(time.time() * 1000))))

    def stats() -> Response:
        return jsonify(reader.stats(int(time.time() * 1000)))

    def healthz() -> Response:
        try:
            ok = bool(client.ping())
        except redis.RedisError:
            ok = False
        resp = jsonify(status="ok", redis=ok)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    server.add_url_rule("/api/alerts", "api_alerts", alerts, methods=["GET"])
    server.add_url_rule("/api/alerts.csv", "api_alerts_csv", alerts_csv, methods=["GET"])
    server.add_url_rule("/api/alerts/retention", "api_alerts_retention", retention, methods=["GET"])
    server.add_url_rule("/api/stats", "api_stats", stats, methods=["GET"])
    server.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    rules = RulesStore(client, reader.keys)
    install_rules_api(server, rules, RuleQualityReader(client, reader.keys))  # + /api/rules/quality
    install_lists_api(server, ListStore(client, reader.keys, in_use=rules.lists_in_use))
    install_backtest_api(server, client, reader.keys)  # /api/backtests: queue, follow, cancel, export
    shadow = ShadowStore(client, reader.keys, rules)
    install_shadow_api(server, shadow, ShadowReader(client, reader.keys))  # /api/rules/shadow[/promote]
    install_models_api(server, ModelRegistry(client, reader.keys))  # /api/models: the model registry
    install_alert_actions(server, AlertWorkflow(client, reader.keys))  # POST /api/alerts/<id>/...
    tokens = TokenStore(client, reader.keys)
    install_tokens(server, tokens)  # Bearer tokens for the access guard
    install_tokens_api(server, tokens)
    install_webhooks_api(server, EndpointStore(client, reader.keys), DeliveryLog(client, reader.keys))
    install_openapi(server)
