"""Alert search section callbacks: search and my queue, card history on a click, bulk actions."""

from __future__ import annotations

import logging
import time
from itertools import islice
from typing import Any

import redis
from dash import Dash, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate
from werkzeug.exceptions import BadRequest, Unauthorized

from common.keys import RedisKeys
from dashapp.auth.login import current_name
from dashapp.layout_search import BULK_ACTIONS
from dashapp.store import AlertNotFound, AlertWorkflow, InvalidAction
from dashapp.store.search import AlertSearch
from dashapp.store.search_query import AlertQuery, InvalidQuery, my_queue, parse_query
from dashapp.store.workflow import MAX_BULK
from dashapp.views.rules_form import RULE_LABELS
from dashapp.views.search import (
    bulk_view,
    card_history_view,
    export_href,
    form_args,
    retention_text,
    search_row,
    summary_text,
)
from dashapp.views.search_time import time_range
from dashapp.views.wording import in_words

logger = logging.getLogger(__name__)
_INPUT, _BAD_INPUT = "input", "input input-invalid"
_TIMES_OK = ("", "", _INPUT, _INPUT)  # no error beside either time field

SEARCH_ROWS = 500  # rows sent to the browser per search; the grid pages them, export has them all
FORM = ("card", "alert_id", "merchant", "assignee", "status", "rule", "since", "until", "order")
FORM_IDS = ("search-card", "search-alert-id", "search-merchant", "search-assignee", "search-status",
            "search-rule", "search-since", "search-until", "search-order")  # fmt: skip


def _user() -> str:
    name = current_name()
    if not name:
        raise Unauthorized("session expired")
    return name


def _strings(values: tuple[Any, ...]) -> dict[str, Any]:
    """The form's values by field; anything but text from a form field is a malformed request."""
    if any(v is not None and not isinstance(v, str) for v in values):
        raise BadRequest("search fields must be text")
    return dict(zip(FORM, values, strict=True))


def _stored_query(stored: Any) -> AlertQuery:
    if not isinstance(stored, dict) or not all(isinstance(v, str) for v in stored.values()):
        raise BadRequest("search-query must map fields to text")
    try:
        return parse_query(stored, default_limit=SEARCH_ROWS)
    except InvalidQuery as exc:
        raise BadRequest(str(exc)) from None


def _targets(rows: Any) -> list[tuple[str, int]]:
    """(alert id, version seen) of the selected grid rows."""
    if rows is None:
        return []
    if not isinstance(rows, list) or len(rows) > MAX_BULK:
        raise BadRequest(f"selectedRows must be a list of at most {MAX_BULK} rows")
    out = []
    for row in rows:
        aid, version = (row.get("alert_id"), row.get("version")) if isinstance(row, dict) else (None, None)
        if not isinstance(aid, str) or not isinstance(version, int) or isinstance(version, bool):
            raise BadRequest("a selected row must carry alert_id and version")
        out.append((aid, version))
    return out


class SearchCallbacks:
    """The section's logic, callable without Dash (the registered callbacks are thin wrappers)."""

    def __init__(self, search: AlertSearch, wf: AlertWorkflow, sla_ms: int) -> None:
        self.search, self.wf, self.sla_ms = search, wf, sla_ms

    def run(self, query: AlertQuery) -> tuple[Any, ...]:
        """Grid rows, summary, export link, stored query, message and retention line."""
        now_ms = int(time.time() * 1000)
        found = self.search.search(query)
        rows = [search_row(r, now_ms, self.sla_ms, RULE_LABELS) for r in found.rows]
        summary = summary_text(found, query, now_ms, self.sla_ms)
        info = retention_text(self.search.retention(now_ms))
        return rows, summary, export_href(query), query.filters(), "", info

    def bulk(self, action: Any, note: Any, *, rows: Any, every: Any, stored: Any, user: str) -> list[Any]:
        """Apply ``action`` with one note to the selected rows, or to every match of the stored search."""
        return self.bulk_applied(action, note, rows=rows, every=every, stored=stored, user=user)[0]

    def bulk_applied(
        self, action: Any, note: Any, *, rows: Any, every: Any, stored: Any, user: str
    ) -> tuple[list[Any], bool]:
        """As `bulk`, and whether any alert was changed (then the note box is emptied)."""
        if action not in BULK_ACTIONS:
            raise BadRequest("unknown bulk action")
        if note is not None and not isinstance(note, str):
            raise BadRequest("note must be text")
        if isinstance(every, list) and "all" in every:
            if stored is None:
                return ["Search first: the action applies to every alert the search matches."], False
            query = _stored_query(stored)
            matched = [(r.alert_id, r.version) for r in islice(self.search.iter_rows(query), MAX_BULK + 1)]
            if len(matched) > MAX_BULK:
                return [f"More than {MAX_BULK:,} alerts match: narrow the search first."], False
            targets = matched
        else:
            targets = _targets(rows)
        if not targets:
            return ["Select alerts first (or tick “every alert matching the search”)."], False
        try:
            result = self.wf.act_many(targets, action, user, note or "")
        except InvalidAction as exc:
            return [in_words(str(exc))], False
        return bulk_view(result), bool(result.done)

    def history(self, clicked: Any) -> list[Any]:
        alert_id = clicked.get("rowId") if isinstance(clicked, dict) else None
        if not isinstance(alert_id, str):
            raise PreventUpdate
        try:
            row = self.wf.get(alert_id)
        except AlertNotFound:
            return ["That alert no longer exists."]
        return card_history_view(self.search.card_history(row.card_id), RULE_LABELS)


def register_search(app: Dash, redis_client: redis.Redis, keys: RedisKeys, sla_min: float) -> SearchCallbacks:
    """Register the section's callbacks; return the logic object (tests call it directly)."""
    cb = SearchCallbacks(
        AlertSearch(redis_client, keys), AlertWorkflow(redis_client, keys), int(sla_min * 60_000)
    )

    @app.callback(
        Output("search-grid", "rowData"),
        Output("search-summary", "children"),
        Output("search-export", "href"),
        Output("search-query", "data"),
        Output("search-message", "children"),
        Output("search-retention", "children"),
        Output("search-since-error", "children"),
        Output("search-until-error", "children"),
        Output("search-since", "className"),
        Output("search-until", "className"),
        Input("search-go", "n_clicks"),
        Input("search-my-queue", "n_clicks"),
        Input("bulk-result", "children"),  # after a bulk action: the same search again
        *(State(i, "value") for i in FORM_IDS),
        State("search-query", "data"),
        prevent_initial_call=True,
    )
    def alert_search(_go: Any, _mine: Any, _bulk: Any, *values: Any) -> tuple[Any, ...]:
        """Search with the form, or list my queue; a bulk action re-runs the last search.

        A time the form cannot read is shown beside its field and the results are emptied: the
        results of an earlier search under an error read as this search's.
        """
        trigger, stored = ctx.triggered_id, values[-1]
        if trigger == "search-my-queue":
            return (*cb.run(my_queue(_user(), limit=SEARCH_ROWS)), *_TIMES_OK)
        if trigger == "bulk-result":
            if stored is None:
                raise PreventUpdate
            return (*cb.run(_stored_query(stored)), *_TIMES_OK)
        form = _strings(values[:-1])
        times = time_range(form.pop("since"), form.pop("until"))
        if times.errors:
            shown = [times.errors.get(n, "") for n in ("since", "until")]
            marks = [_BAD_INPUT if times.errors.get(n) else _INPUT for n in ("since", "until")]
            summary = "Not searched: correct the time range."
            return [], summary, no_update, no_update, "", no_update, *shown, *marks
        try:
            query = parse_query({**form_args(form), **times.args}, default_limit=SEARCH_ROWS)
        except InvalidQuery as exc:
            return no_update, no_update, no_update, no_update, in_words(str(exc)), no_update, *_TIMES_OK
        return (*cb.run(query), *_TIMES_OK)

    @app.callback(
        Output("bulk-result", "children"),
        Output("bulk-note", "value"),
        Input("bulk-apply", "n_clicks"),
        State("bulk-action", "value"),
        State("bulk-note", "value"),
        State("search-grid", "selectedRows"),
        State("bulk-all", "value"),
        State("search-query", "data"),
        prevent_initial_call=True,
    )
    def alert_bulk(clicks: Any, *states: Any) -> tuple[list[Any], Any]:
        """Apply one action, one note, to the selected rows or every alert matching the search.

        The note box is emptied once the note is stored (as the single alert's): a note typed for
        these alerts must not ride along into the next bulk action on other customers' alerts.
        """
        if not clicks:
            raise PreventUpdate
        action, note, rows, every, stored = states
        view, applied = cb.bulk_applied(action, note, rows=rows, every=every, stored=stored, user=_user())
        return view, "" if applied else no_update

    @app.callback(
        Output("search-card-history", "children"),
        Input("search-grid", "cellClicked"),
        prevent_initial_call=True,
    )
    def card_history(clicked: Any) -> list[Any]:
        """The clicked alert's card: its other alerts and recent transactions."""
        return cb.history(clicked)

    return cb
