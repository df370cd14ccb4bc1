"""The rule builder panel: the draft's rule list, the rule form, its raw view and the publish bar."""

from __future__ import annotations

from dash import dcc, html

from dashapp.views import rule_builder_supp as supp
from dashapp.views.backtest_view import backtest_panel
from dashapp.views.rule_builder_form import META_MSG, meta_fields
from dashapp.views.shadow_view import shadow_panel


def _form(admin: bool) -> html.Div:
    adds = [
        html.Button(label, id=f"rb-add-{kind}", n_clicks=0, className="btn btn-ghost btn-small")
        for kind, label in (
            ("field", "+ Field condition"),
            ("agg", "+ Aggregate"),
            ("feature", "+ Card feature"),
            ("list", "+ List"),
        )
    ]
    raw = html.Div(
        className="rb-raw",
        children=[
            html.Div(
                [
                    html.H4("Raw view"),
                    html.Label(
                        [
                            html.Span("Format", className="rb-label"),
                            dcc.Dropdown(
                                id="rb-raw-format",
                                options=["YAML", "JSON"],
                                value="YAML",
                                clearable=False,
                                className="rb-select rb-format",
                            ),
                        ],
                        className="rb-part",
                    ),
                ],
                className="rb-raw-head",
            ),
            html.Label(
                [
                    html.Span("The rule as text (edit it, then Apply text)", className="rb-label"),
                    dcc.Textarea(
                        id="rb-raw",
                        value="",
                        rows=14,
                        maxLength=100_000,
                        readOnly=not admin,
                        className="rb-textarea rb-code",
                        spellCheck=False,
                    ),
                ],
                className="rb-part",
            ),
            html.Div(
                [
                    html.Button(
                        "Apply text to the form",
                        id="rb-raw-apply",
                        n_clicks=0,
                        className="btn btn-ghost btn-small",
                    )
                ],
                className=_admin_only(admin),
            ),
            html.Div(id="rb-raw-msg", className="message", role="status"),
        ],
    )
    editor = html.Div(
        className="rb-form",
        children=[
            html.H4(id="rb-form-title", children="Rule"),
            html.Div(meta_fields(admin), className="rb-meta"),
            html.Label(
                [
                    html.Span("Fire when", className="rb-label"),
                    dcc.Dropdown(
                        id="rb-comb",
                        options=[
                            {"label": "all of these hold", "value": "all"},
                            {"label": "any of these holds", "value": "any"},
                        ],
                        value="all",
                        clearable=False,
                        disabled=not admin,
                        className="rb-select",
                    ),
                ],
                className="rb-part rb-comb",
            ),
            html.Div(id={"type": META_MSG, "field": "when"}, className="rb-msg"),  # the condition as a whole
            html.Div(id="rb-form-note", className="message warn", role="status"),
            html.Div(id="rb-rows", className="rb-rows"),
            html.Div(adds, className=_admin_only(admin), id="rb-add-row"),
            html.H4("Preview"),
            html.Div(id="rb-preview", className="rb-preview", role="status"),
            html.Div(
                [html.Button("Keep in draft", id="rb-apply", n_clicks=0, className="btn")],
                className=_admin_only(admin),
            ),
            html.Div(id="rb-form-msg", className="message", role="status"),
        ],
    )
    return html.Div([editor, raw], id="rb-editor", className="rb-editor hidden")


POLL_MS = 5_000  # how often the page asks for the live version (one Redis GET and parse per page)


def _admin_only(admin: bool) -> str:
    """Admin controls stay in every page (callbacks name them) but are hidden from analysts.

    Hiding is for the eye only: every callback that writes checks the role on the server.
    """
    return "btn-row" if admin else "btn-row hidden"


def _publish_bar(admin: bool) -> html.Div:
    note = "" if admin else "Read-only: only admins can change rules."
    return html.Div(
        id="rb-publish-bar",
        className="rb-publish" + ("" if admin else " rb-readonly"),
        children=[
            html.P(note, className="muted"),
            html.Div(id="rb-draft-summary", className="rb-summary", role="status"),
            html.Div(
                [
                    html.Label(
                        [
                            html.Span("Comment for this version (required)", className="rb-label"),
                            dcc.Input(
                                id="rb-comment",
                                type="text",
                                value="",
                                maxLength=500,
                                className="rb-text",
                                placeholder="why this change",
                            ),
                        ],
                        className="rb-part rb-comment",
                    ),
                    html.Button("Publish", id="rb-publish", n_clicks=0, className="btn"),
                    html.Button("Discard draft", id="rb-discard", n_clicks=0, className="btn btn-ghost"),
                ],
                className=_admin_only(admin),
            ),
        ],
    )


def builder_panel(admin: bool) -> html.Div:
    """The Rules tab: live version, rule list, publish bar and the (hidden until opened) rule form."""
    top = [
        html.Button(
            "New rule", id="rb-new", n_clicks=0, className="btn btn-small" + ("" if admin else " hidden")
        )
    ]
    return html.Div(
        [
            html.Div(
                [
                    html.Span("Live version: ", className="muted"),
                    html.Span("\u2013", id="rb-live-label"),
                    # a draft with changes made before another admin's publish says so here
                    html.Span(id="rb-behind", className="message warn rb-behind", role="status"),
                    *top,
                ],
                className="rb-top",
            ),
            html.Div(id="rb-rules", className="rb-rules"),
            supp.panel(admin),
            _publish_bar(admin),
            html.Div(id="rb-message", className="message", role="status"),
            backtest_panel(admin),  # "Backtest this draft" and its result (dashapp/callbacks/backtest_cb.py)
            shadow_panel(admin),  # "Publish as shadow", its comparison, promote / drop (shadow_cb.py)
            _form(admin),
            dcc.Store(id="rb-draft", storage_type="memory"),
            dcc.Store(id="rb-live", storage_type="memory"),
            dcc.Store(id="rb-editing", storage_type="memory"),
            dcc.Store(id="rb-reload", storage_type="memory"),  # a restore in the Versions tab reloads
            dcc.Interval(id="rb-poll", interval=POLL_MS),  # another user's publish reaches this page
        ]
    )
