"""Redis key layout: every key the bridge writes and the dashboard reads, defined once.

All keys live under one prefix (``REDIS_KEY_PREFIX``, default ``fraud:``) so tests and several
deployments can share one Redis. Value formats are documented next to each key and in the README.
JSON values are UTF-8 encoded objects produced by msgspec/orjson.
"""

from __future__ import annotations

from dataclasses import dataclass

# Bounds that both writer and readers rely on.
RECENT_TXNS_MAX = 2_000  # stream entries kept in `txns`
RECENT_ALERTS_MAX = 1_000  # stream entries kept in `alerts`
DLQ_SAMPLES_MAX = 50  # bad-record samples kept for the dashboard
LATENCY_SAMPLES_MAX = 2_000
SECOND_BUCKET_TTL_S = 2 * 3600  # per-second counters are kept >= 1 hour
HEARTBEAT_TTL_S = 15  # a bridge not heard from for this long is considered dead
AUDIT_MAX = 500
CITIES_MAX = 2_000  # distinct cities kept for the map; further ones are counted under OTHER_CITY
OTHER_CITY = "(other cities)"  # a stream city of this name just joins the bucket (no coordinates)
EVAL_OPEN_MAX = 10_000  # instance ids kept per scenario set; the rest count as `abandoned:`
RULE_VERSIONS_MAX = 1_000  # rule-set versions kept; publishing version n drops version n - 1000
LISTS_AUDIT_MAX = 1_000  # list change records kept
LIST_ENTRIES_MAX = 1_000_000  # entries one list may hold (a write that would exceed it is refused)
LIST_CHANGES_MAX = 64  # change records kept per list (a bridge further behind reloads the list)
LIST_DELTA_MAX = 1_000  # a change touching more values is recorded as "reload it all"
LIST_STAGING_TTL_S = 600  # a large list write that dies half-way leaves no key behind for long
BACKTEST_RUNS_MAX = 20  # backtest runs kept (queued, running or finished); older ones are deleted
WEBHOOK_LOG_MAX = 10_000  # webhook deliveries kept in the log (newest)
WEBHOOK_DEAD_MAX = 10_000  # webhook dead letters kept (newest)
SHADOW_ALERTS_MAX = 5_000  # events the shadow or the live set alerted on, kept for the panel (~1.5 KB each)


# Fields of RedisKeys.shadow_stats, named once here: the bridge writes them, the dashboard and the
# bench read them, the store clears them by these prefixes.
SHADOW_EVENTS_FIELD = "events:"
SHADOW_FIRES_FIELD = "fires:"
SHADOW_TRUTH_FIELD = "truth:"


def shadow_events_field(shadow_id: int) -> str:
    """`events:<id>`: valid events evaluated beside shadow <id>."""
    return f"{SHADOW_EVENTS_FIELD}{shadow_id}"


def shadow_fires_field(shadow_id: int, rule: str = "") -> str:
    """`fires:<id>:<rule>:` — add the side (live, shadow, both); without a rule, the shadow's prefix."""
    return f"{SHADOW_FIRES_FIELD}{shadow_id}:{rule + ':' if rule else ''}"


def shadow_truth_field(shadow_id: int, rule: str = "") -> str:
    """`truth:<id>:<rule>:` — add `<live|shadow>:<tp|fp>`: that set's alerts for the rule on events
    whose ground-truth header says fraud (tp) or normal (fp); without a rule, the shadow's prefix."""
    return f"{SHADOW_TRUTH_FIELD}{shadow_id}:{rule + ':' if rule else ''}"


@dataclass(frozen=True)
class RedisKeys:
    """Key names under one prefix. Build one per process from settings.redis_key_prefix."""

    prefix: str = "fraud:"

    # --- change detection -------------------------------------------------------------
    @property
    def seq(self) -> str:
        """INT, INCR'd by every bridge write batch; readers skip a poll when it is unchanged."""
        return f"{self.prefix}seq"

    # --- exactly-once bookkeeping (bridge only) -----------------------------------------
    def offsets(self, topic: str) -> str:
        """HASH partition -> next offset to process; written in the same MULTI as the batch."""
        return f"{self.prefix}offsets:{topic}"

    def card_state(self, card_id: str) -> str:
        """STRING per-card detection state (tagged compact JSON array, bridge.detection.encode_state);
        with a TTL so memory stays bounded."""
        return f"{self.prefix}card:{card_id}"

    # --- live feeds (cursor = stream entry id) ---------------------------------------------
    @property
    def txns(self) -> str:
        """STREAM of recent transactions, field `d` = JSON {event fields..., alert, score}."""
        return f"{self.prefix}txns"

    @property
    def alerts(self) -> str:
        """STREAM of recent alerts, field `d` = JSON alert (common/alerts.py)."""
        return f"{self.prefix}alerts"

    # --- alert records and workflow ---------------------------------------------------------
    @property
    def alert_index(self) -> str:
        """ZSET alert_id scored by event time (ms): the set of every alert raised."""
        return f"{self.prefix}alerts:index"

    def alert(self, alert_id: str) -> str:
        """HASH one alert: `d` JSON alert, `status`, `assignee`, `version`, `updated_at`, `note`."""
        return f"{self.prefix}alert:{alert_id}"

    def alert_history(self, alert_id: str) -> str:
        """LIST of JSON workflow events for one alert, oldest first."""
        return f"{self.prefix}alert:{alert_id}:history"

    @property
    def banner(self) -> str:
        """ZSET of unacknowledged high-severity alert ids scored by event time (ms)."""
        return f"{self.prefix}banner"

    # --- counters ---------------------------------------------------------------------------
    @property
    def totals(self) -> str:
        """HASH running totals: txns, alerts, amount, alerts:<rule>, dlq."""
        return f"{self.prefix}totals"

    def second(self, epoch_s: int) -> str:
        """HASH per record-time second (Kafka record timestamp).

        Fields txns, alerts, amount, alerts:<rule>; TTL 2 h.
        """
        return f"{self.prefix}sec:{epoch_s}"

    @property
    def city_txns(self) -> str:
        """HASH city -> transaction count."""
        return f"{self.prefix}city:txns"

    @property
    def city_alerts(self) -> str:
        """HASH city -> alert count."""
        return f"{self.prefix}city:alerts"

    @property
    def city_geo(self) -> str:
        """HASH city -> JSON {lat, lon, country} (last seen coordinates)."""
        return f"{self.prefix}city:geo"

    # --- dead-letter queue ---------------------------------------------------------------
    @property
    def dlq_reasons(self) -> str:
        """HASH reason class -> count of invalid records."""
        return f"{self.prefix}dlq:reasons"

    @property
    def dlq_samples(self) -> str:
        """LIST (newest first) of JSON {partition, offset, reason, preview}; bounded."""
        return f"{self.prefix}dlq:samples"

    # --- pipeline health -----------------------------------------------------------------
    @property
    def bridges(self) -> str:
        """ZSET instance id -> last heartbeat (epoch s)."""
        return f"{self.prefix}bridges"

    def bridge(self, instance_id: str) -> str:
        """HASH heartbeat of one bridge: processed, partitions (JSON), pid, host, ts; TTL."""
        return f"{self.prefix}bridge:{instance_id}"

    @property
    def lag(self) -> str:
        """HASH partition -> consumer lag (records), refreshed by the owning bridge."""
        return f"{self.prefix}lag"

    @property
    def latency_samples(self) -> str:
        """LIST (newest first) of end-to-end latencies in ms (record timestamp -> in Redis)."""
        return f"{self.prefix}latency:samples"

    @property
    def latency(self) -> str:
        """HASH p50, p95, p99, max (ms) over the recent samples, and `ts` of computation."""
        return f"{self.prefix}latency"

    @property
    def last_write(self) -> str:
        """STRING epoch ms of the last bridge write batch (freshness badge)."""
        return f"{self.prefix}last_write"

    # --- live rules -----------------------------------------------------------------------
    @property
    def rules(self) -> str:
        """STRING JSON {version, rules, updated_by, updated_at}; changed with WATCH/MULTI."""
        return f"{self.prefix}rules"

    @property
    def rules_audit(self) -> str:
        """LIST (newest first) of JSON {version, who, when, changes: [{rule, field, old, new}]}, and
        `comment` (and `restored_from`) for a publish through the registry; AUDIT_MAX kept."""
        return f"{self.prefix}rules:audit"

    # --- rule registry: versions and lists (dashapp.store.rules_store / lists) ------------------
    @property
    def rule_versions(self) -> str:
        """HASH version number -> JSON {version, document, author, at, comment}: the full rules
        document (common.rulelang.to_document) of every publish, set in the MULTI that sets `rules`;
        the newest RULE_VERSIONS_MAX are kept."""
        return f"{self.prefix}rules:versions"

    @property
    def lists_index(self) -> str:
        """HASH list name -> that list's version (the `lists_version` value of its last change): which
        lists exist (an emptied list has no entries key) and which changed since a bridge loaded them."""
        return f"{self.prefix}lists:index"

    def list_entries(self, name: str) -> str:
        """HASH value -> JSON {expires_ms (null = never), note, by, at (ISO-8601 UTC)}: one list."""
        return f"{self.prefix}list:{name}"

    def list_changes(self, name: str) -> str:
        """LIST (newest first) of JSON {v: the list's version, values: [values touched] or null (reload
        it all)}, pushed with each change; LIST_CHANGES_MAX kept, deleted with the list."""
        return f"{self.prefix}list-changes:{name}"

    def list_staging(self, name: str, token: str) -> str:
        """HASH a large write fills in chunks, then RENAMEs over `list_entries` in one MULTI (so
        bridges never load half a list); TTL LIST_STAGING_TTL_S until then."""
        return f"{self.prefix}list-staging:{name}:{token}"

    def list_order(self, name: str) -> str:
        """ZSET every value of a list, score 0 (so in value order): the dashboard's pages read a range
        of it. Derived data: readers bring it up to date from `list_changes` (dashapp/store/list_order.py)."""
        return f"{self.prefix}list-order:{name}"

    def list_order_staging(self, name: str, token: str) -> str:
        """ZSET a rebuild of `list_order` fills, then RENAMEs over it; TTL 1 h until then."""
        return f"{self.prefix}list-order-staging:{name}:{token}"

    @property
    def list_order_versions(self) -> str:
        """HASH list name -> the list version its `list_order` reflects."""
        return f"{self.prefix}list-order-versions"

    @property
    def lists_version(self) -> str:
        """INT, INCR'd by every list change; bridges poll it (one GET) to know when to reload."""
        return f"{self.prefix}lists:version"

    @property
    def lists_audit(self) -> str:
        """LIST (newest first) of JSON {list, action, who, when, count, values, comment}: every list
        change (`values`: the first few values touched); the newest LISTS_AUDIT_MAX are kept."""
        return f"{self.prefix}lists:audit"

    # --- ground-truth evaluation ------------------------------------------------------------
    @property
    def eval_counts(self) -> str:
        """HASH `events:<scenario>`, `alerted:<scenario>`, `tp:<rule>`, `fp:<rule>`; per fraud
        scenario `finished:<s>` (instances whose last event was processed), `finished_caught:<s>`
        (of those, alerted on at least once) and `abandoned:<s>` (dropped from a full open set).
        Scenario labels are the known ones or `other` (common.schema.scenario_label)."""
        return f"{self.prefix}eval:counts"

    def eval_instances(self, scenario: str) -> str:
        """SET of scenario_ids of instances in progress (seen, last event not yet processed);
        at most EVAL_OPEN_MAX members."""
        return f"{self.prefix}eval:instances:{scenario}"

    def eval_caught(self, scenario: str) -> str:
        """SET of in-progress scenario_ids of which at least one event raised an alert (at most
        EVAL_OPEN_MAX members); an id leaves both sets when its instance finishes."""
        return f"{self.prefix}eval:caught:{scenario}"

    # --- dashboard --------------------------------------------------------------------------
    def login_failures(self, who: str) -> str:
        """STRING failed-login counter (`pair:`, `user:`, `addr:` or `device:` tag); TTL = the window.

        Its remaining TTL tells when the last failure was (dashapp.store.throttle backs off from it).
        """
        return f"{self.prefix}login:fail:{who}"

    # --- dashboard login sessions (server-side record, revocable; dashapp.auth.sessions) -------------
    def login_session(self, sid: str) -> str:
        """STRING user name of one live login session (random id in the signed cookie); TTL = lifetime."""
        return f"{self.prefix}login:session:{sid}"

    def user_sessions(self, user: str) -> str:
        """ZSET session id -> expiry (epoch s) of one user's sessions, for "log out everywhere"; TTL."""
        return f"{self.prefix}login:user-sessions:{user}"

    @property
    def login_revocations(self) -> str:
        """STRING counter INCR'd by every logout; a worker that sees it change re-checks its sessions."""
        return f"{self.prefix}login:revocations"

    # --- alert search indexes and retention (H3; common/alerts.py INDEXED_FIELDS) ------------------
    # Every index is a ZSET alert_id -> event time (ms), written in the same MULTI as the alert or
    # its workflow change and emptied by the retention sweep (bridge/retention.py); Redis drops a
    # ZSET with its last member, so the number of index keys follows the alerts kept.
    def alerts_by_card(self, card_id: str) -> str:
        """ZSET the alerts of one card."""
        return f"{self.prefix}alerts:by-card:{card_id}"

    def alerts_by_merchant(self, merchant_id: str) -> str:
        """ZSET the alerts at one merchant."""
        return f"{self.prefix}alerts:by-merchant:{merchant_id}"

    def alerts_by_rule(self, rule: str) -> str:
        """ZSET the alerts one rule fired on."""
        return f"{self.prefix}alerts:by-rule:{rule}"

    def alerts_by_status(self, status: str) -> str:
        """ZSET the alerts currently in one workflow status."""
        return f"{self.prefix}alerts:by-status:{status}"

    def alerts_by_assignee(self, user: str) -> str:
        """ZSET the alerts assigned to one analyst (kept after they are resolved)."""
        return f"{self.prefix}alerts:by-assignee:{user}"

    def alert_queue(self, user: str) -> str:
        """ZSET the open alerts assigned to one analyst ("my queue"): left on resolve or reassignment."""
        return f"{self.prefix}alerts:queue:{user}"

    # --- rule quality from analysts' work (dashapp/store/rule_quality.py; written by the workflow) ---
    def rule_resolved(self, rule: str, status: str) -> str:
        """ZSET a rule's alerts resolved with `status` (resolved_fraud|..._false_positive), by resolution
        time (ms); a reopen removes the alert; entries older than 8 days are trimmed on each write."""
        return f"{self.prefix}quality:resolved-at:{status}:{rule}"

    def rule_resolved_raised(self, rule: str) -> str:
        """ZSET a rule's resolved alerts by event time (ms): raised in a window minus these = still open."""
        return f"{self.prefix}quality:resolved-raised:{rule}"

    @property
    def alert_retention(self) -> str:
        """HASH the retention sweep's report: days, cutoff_ms, swept, kept_unresolved, at_ms."""
        return f"{self.prefix}alerts:retention"

    # --- API tokens (dashapp.auth.tokens): only SHA-256 digests of the secrets are stored ------------
    @property
    def api_tokens(self) -> str:
        """HASH token id -> JSON {id, user, name, created_ms, digest} (what admins list and revoke)."""
        return f"{self.prefix}api:tokens"

    @property
    def api_token_digests(self) -> str:
        """HASH hex SHA-256 of a token -> JSON {id, user}: the one lookup a Bearer request pays."""
        return f"{self.prefix}api:token-digests"

    @property
    def api_tokens_used(self) -> str:
        """HASH token id -> last use (epoch ms); each worker writes it at most once a minute per token."""
        return f"{self.prefix}api:tokens-used"

    # --- webhooks (common/webhooks.py, common/webhook_log.py; the notifier delivers) -----------------
    @property
    def webhook_endpoints(self) -> str:
        """HASH endpoint id -> JSON endpoint {id, name, url, secret, format, min_severity, rules, events,
        enabled, created_by, created_ms}: the ones admins manage in the dashboard (holds the HMAC secrets)."""
        return f"{self.prefix}webhooks:endpoints"

    @property
    def webhook_file_endpoints(self) -> str:
        """HASH endpoint id -> JSON endpoint without its secret: the ones a notifier loaded from its file
        (NOTIFIER_ENDPOINTS_FILE), so admins see them; rewritten at each notifier start."""
        return f"{self.prefix}webhooks:file-endpoints"

    @property
    def webhook_deliveries(self) -> str:
        """HASH delivery id (`<endpoint id>:<event id>`) -> JSON {endpoint, event, status, attempts,
        last_error, first_ms, last_ms}: the delivery log; WEBHOOK_LOG_MAX kept (oldest dropped)."""
        return f"{self.prefix}webhooks:deliveries"

    @property
    def webhook_delivery_order(self) -> str:
        """ZSET delivery id -> first attempt (epoch ms): the log's order and its bound."""
        return f"{self.prefix}webhooks:deliveries:order"

    @property
    def webhook_dead(self) -> str:
        """LIST (newest first) of JSON dead letters {delivery, endpoint_id, event_id, kind, attempts,
        last_error, at_ms, body, event}; WEBHOOK_DEAD_MAX kept (the `dead_dropped` stat counts the rest)."""
        return f"{self.prefix}webhooks:dead"

    @property
    def webhook_replay(self) -> str:
        """STREAM of dead letters an admin queued again (field `letter`: the dead letter's JSON); the
        notifiers read it as consumer group `notifier` and delete an entry once it is delivered or
        dead again (common/webhook_replay.py)."""
        return f"{self.prefix}webhooks:replay"

    @property
    def webhook_stats(self) -> str:
        """HASH counters: delivered, dead, failed_attempts, invalid_records, dead_dropped."""
        return f"{self.prefix}webhooks:stats"

    # --- backtests (backtest/): their own namespace; a backtest never writes any key above ---------
    @property
    def backtest_queue(self) -> str:
        """LIST of queued run ids (LPUSH by submitters, BLMOVE by workers, oldest first)."""
        return f"{self.prefix}backtest:queue"

    @property
    def backtest_runs(self) -> str:
        """ZSET run id -> submission time (epoch ms); the newest BACKTEST_RUNS_MAX are kept."""
        return f"{self.prefix}backtest:runs"

    def backtest_run(self, run_id: str) -> str:
        """HASH one run: `spec` JSON, `status`, `by`, `created_ms`, `progress` JSON, `error`, `cancel`."""
        return f"{self.prefix}backtest:run:{run_id}"

    def backtest_result(self, run_id: str) -> str:
        """STRING the finished run's result JSON (backtest.compare.Result): per-rule rows, hours, samples."""
        return f"{self.prefix}backtest:result:{run_id}"

    # --- shadow rule set (bridge/shadow*.py, dashapp/store/shadow*.py; docs/shadow.md) --------------
    @property
    def shadow_rules(self) -> str:
        """STRING JSON {id, rules, base_version, by, at, comment}: the one shadow set bridges evaluate."""
        return f"{self.prefix}shadow:rules"

    @property
    def shadow_alerts(self) -> str:
        """ZSET alert id -> record time (ms): events the shadow or the live set alerted on while a
        shadow ran; the newest SHADOW_ALERTS_MAX kept, written in the bridge's batch MULTI."""
        return f"{self.prefix}shadow:alerts"

    @property
    def shadow_pairs(self) -> str:
        """HASH alert id -> JSON {shadow id, record ms, scenario, scenario id, live alert, shadow alert}."""
        return f"{self.prefix}shadow:pairs"

    @property
    def shadow_stats(self) -> str:
        """HASH `events:<id>` valid events evaluated beside shadow <id>,
        `fires:<id>:<rule>:<live|shadow|both>` exact per-rule alert counts,
        `truth:<id>:<rule>:<live|shadow>:<tp|fp>` the same per set on labelled events, `last_id`
        (ids never repeat); the bridge counts in its batch MULTI."""
        return f"{self.prefix}shadow:stats"

    @property
    def shadow_history(self) -> str:
        """LIST (newest first) JSON {action: published, dropped or promoted, id, who, when}; AUDIT_MAX kept"""
        return f"{self.prefix}shadow:history"

    # --- alert-events outbox (outbox/): written in the same MULTI as the change it records ---------
    @property
    def events_outbox(self) -> str:
        """STREAM field `e` = alert-event JSON (common/alert_events.py), one entry per workflow, rules or
        list change; the relay publishes entries to KAFKA_ALERT_EVENTS_TOPIC in order, then trims them."""
        return f"{self.prefix}events:outbox"

    @property
    def events_relay(self) -> str:
        """HASH the relay's progress: last_id (last entry published and trimmed), published, at_ms."""
        return f"{self.prefix}events:relay"

    @property
    def events_dead(self) -> str:
        """STREAM outbox entries the relay could not read as an event (moved here, never published)."""
        return f"{self.prefix}events:dead"

    # --- model registry (model/registry.py; common/model_registry.py; docs/model.md) -------------
    @property
    def models(self) -> str:
        """HASH model version -> JSON entry (common.model_registry.ModelEntry: state, card, who, when)."""
        return f"{self.prefix}models"

    def model_file(self, version: str) -> str:
        """STRING the version's LightGBM text model, exactly as saved (its SHA-256 is in the entry)."""
        return f"{self.prefix}model:{version}"

    @property
    def models_champions(self) -> str:
        """LIST every version made champion, oldest first (the newest 1,000): rollback walks back along it."""
        return f"{self.prefix}models:champions"

    @property
    def models_drift(self) -> str:
        """HASH version -> JSON of its latest drift check (`python -m model drift`): range, PSIs."""
        return f"{self.prefix}models:drift"

    @property
    def models_performance(self) -> str:
        """HASH version -> JSON list of its checks by labels, newest range first (model/performance.py):
        precision and recall at the alert threshold, AUC, AP, CP@100 per range."""
        return f"{self.prefix}models:performance"

    @property
    def models_live(self) -> str:
        """HASH `<shadow>|<champion>|<stat>` -> count: each shadow version scored beside the champion in
        the bridges (stat: events, champion_flags, shadow_flags, both_flags at score >= 0.5, abs_diff the
        summed |score difference|); bridge/model_shadow.py."""
        return f"{self.prefix}models:live"

    @property
    def models_retrain(self) -> str:
        """HASH the retraining schedule's memory: last_ms (its last run), labels (the labels topic's size)."""
        return f"{self.prefix}models:retrain"

    @property
    def models_seq(self) -> str:
        """INT, INCR'd by every registry change: bridges re-read the registry only when it moved."""
        return f"{self.prefix}models:seq"

    @property
    def models_history(self) -> str:
        """LIST (newest first) JSON {action, version, from, to, who, when, comment}; AUDIT_MAX kept."""
        return f"{self.prefix}models:history"
