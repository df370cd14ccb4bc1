"""Who may do what in the rule builder, versions and lists callbacks: checked on the server, per call."""

from __future__ import annotations

import json
import logging
from typing import Any

from dash import ctx
from werkzeug.exceptions import Forbidden, Unauthorized

from dashapp.auth.login import current_name, current_role

logger = logging.getLogger(__name__)


def user_or_401() -> str:
    """The signed-in user's name (401 when the session has ended)."""
    user = current_name()
    if not user:
        raise Unauthorized("session expired")
    return user


def is_admin() -> bool:
    """Whether the signed-in user is an admin (what the page shows; writes use admin_or_403)."""
    return current_role() == "admin"


def admin_or_403(user: str, what: str) -> None:
    """Changes are for admins, whatever the page shows or hides (a hidden button is not a check)."""
    if current_role() != "admin":
        logger.warning("dashapp.rules: refused %s by non-admin user=%s", what, user)
        raise Forbidden(f"only admins can make a {what}")


def clicked_among(triggered: Any, first: tuple[str, ...] = ()) -> Any:
    """The id of the input really clicked in `triggered` (Dash's list), or None.

    A button that just appeared (or was redrawn) reports n_clicks 0 or None, and Dash can send
    such a redraw in the same request as a real click, listed first: the first item would then
    name the redrawn button and the click would be lost. Likewise an Interval's tick can share a
    request with a click, listed first; ids in `first` win over the rest, in that order.
    """
    fired: list[Any] = []
    for item in triggered or ():
        if not item.get("value"):
            continue
        ident = str(item.get("prop_id", "")).rsplit(".", 1)[0]
        if ident.startswith("{"):
            try:
                fired.append(json.loads(ident))
            except ValueError:
                continue
        else:
            fired.append(ident)
    for wanted in first:
        if wanted in fired:
            return wanted
    return fired[0] if fired else None


def clicked_id(first: tuple[str, ...] = ()) -> Any:
    """The id of the input that was really clicked in this call, or None (see clicked_among)."""
    return clicked_among(ctx.triggered, first)


def clicked() -> bool:
    """Whether some input of this call was really clicked (see clicked_id)."""
    return clicked_id() is not None
