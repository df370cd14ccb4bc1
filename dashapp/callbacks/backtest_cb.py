"""Rule builder: "Backtest this draft" queues a run (admins); the panel follows it until it ends."""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from dash import Dash, Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from backtest.runs import FINISHED, RunNotFound, RunStore
from common.keys import RedisKeys
from common.rules import RuleValidationError
from dashapp.api_backtest import submit_draft
from dashapp.api_common import ApiError
from dashapp.callbacks.rule_access import admin_or_403, clicked_id, user_or_401
from dashapp.views.backtest_view import RANGES, model_options, result_view, status_line
from model.registry import ModelRegistry

logger = logging.getLogger(__name__)


def _iso(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


class Backtests:
    """The callbacks' logic over the run store (plain methods, so tests can call them without Dash)."""

    def __init__(self, client: redis.Redis, keys: RedisKeys) -> None:
        self.client, self.keys, self.store = client, keys, RunStore(client, keys)

    def start(self, draft: Any, span: Any, user: str, model: Any = None) -> tuple[str | None, str, str]:
        """(run id or None, message, class) for a backtest of the draft over the last `span`, its
        `model_score` read from the version `model` (none: the champion when the worker runs)."""
        seconds = RANGES.get(str(span), RANGES["1h"])
        try:
            run_id = submit_draft(
                self.store,
                self.client,
                self.keys,
                draft if isinstance(draft, dict) else {},
                span=(_iso(time.time() - seconds), None),
                by=user,
                model=model,
            )
        except (RuleValidationError, ApiError) as exc:
            return None, f"Not started: {exc}", "message error"
        logger.info("dashapp.backtest: queued run=%s by=%s model=%s", run_id, user, model or "champion")
        which = f" with model {model}" if model else ""
        return run_id, f"Backtest queued{which}: a backtest worker takes it in turn.", "message ok"

    def model_choices(self) -> list[dict[str, str]]:
        """The model picker's options from the registry (the champion of run time alone if unreadable)."""
        try:
            states = {v: e.state for v, e in ModelRegistry(self.client, self.keys).entries().items()}
        except redis.RedisError as exc:
            logger.warning("dashapp.backtest: model registry unreachable error=%s", exc)
            states = {}
        return model_options(states)

    def view(self, run_id: Any) -> tuple[str, list[Any], bool]:
        """(status line, result view, whether to stop polling) of a run."""
        if not isinstance(run_id, str):
            raise PreventUpdate
        try:
            run = self.store.get(run_id)
        except RunNotFound:
            return f"Backtest {run_id} was deleted.", [], True
        done = run["status"] in FINISHED
        result = self.store.result(run_id) if done else None
        return status_line(run), result_view(run, result) if result else [], done


def register_backtest(app: Dash, client: redis.Redis, keys: RedisKeys) -> Backtests:
    """Register the backtest panel's callbacks; return the logic object (for tests)."""
    b = Backtests(client, keys)

    @app.callback(
        Output("bt-run", "data"),
        Output("bt-msg", "children"),
        Output("bt-msg", "className"),
        Output("bt-poll", "disabled"),
        Input("bt-start", "n_clicks"),
        Input("bt-cancel", "n_clicks"),
        State("rb-draft", "data"),
        State("bt-range", "value"),
        State("bt-model", "value"),
        State("bt-run", "data"),
        prevent_initial_call=True,
    )
    def bt_start(
        _start: Any, _cancel: Any, draft: Any, span: Any, model: Any, current: Any
    ) -> tuple[Any, ...]:
        """Queue a backtest of the draft, or cancel the one this page follows (admins)."""
        trigger = clicked_id()
        if trigger is None:
            raise PreventUpdate
        user = user_or_401()
        admin_or_403(user, "backtest")
        if trigger == "bt-cancel":
            if not isinstance(current, str):
                return no_update, "No backtest to cancel.", "message", no_update
            try:
                status = b.store.cancel(current)
            except RunNotFound:
                return no_update, "That backtest was deleted.", "message", True
            return no_update, f"Cancel asked (status: {status}).", "message", False
        run_id, message, cls = b.start(draft, span, user, model)
        return (run_id if run_id else no_update), message, cls, run_id is None

    @app.callback(
        Output("bt-status", "children"),
        Output("bt-result", "children"),
        Output("bt-poll", "disabled", allow_duplicate=True),
        Input("bt-poll", "n_intervals"),
        Input("bt-run", "data"),
        prevent_initial_call=True,
    )
    def bt_follow(_n: Any, run_id: Any) -> tuple[Any, ...]:
        """Progress every second while the run is queued or running; the result once it ends."""
        user_or_401()
        return b.view(run_id)

    @app.callback(Output("bt-model", "options"), Input("mdl-poll", "n_intervals"))
    def bt_models(_tick: Any) -> list[dict[str, str]]:
        """The picker follows the registry (a version registered or retired shows on the next poll)."""
        user_or_401()
        return b.model_choices()

    return b
