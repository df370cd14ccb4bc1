"""The login page: a small self-contained HTML form (no Dash, no external assets)."""

from __future__ import annotations

from html import escape

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in - Fraud monitor</title>
<style>
body{{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#0f172a;
color:#e2e8f0;display:flex;min-height:100vh;align-items:center;justify-content:center}}
form{{background:#1e293b;padding:2rem 2.2rem;border-radius:10px;width:20rem;
box-shadow:0 10px 30px rgba(0,0,0,.4)}}
h1{{font-size:1.25rem;margin:0 0 1.2rem}} label{{display:block;font-size:.85rem;margin:.8rem 0 .3rem}}
input{{width:100%;box-sizing:border-box;padding:.55rem .6rem;border-radius:6px;border:1px solid #475569;
background:#0f172a;color:#e2e8f0;font-size:1rem}}
button{{margin-top:1.3rem;width:100%;padding:.6rem;border:0;border-radius:6px;background:#2563eb;
color:white;font-size:1rem;cursor:pointer}}
.error{{background:#7f1d1d;color:#fecaca;padding:.5rem .7rem;border-radius:6px;font-size:.9rem}}
.info{{background:#1e3a8a;color:#dbeafe;padding:.5rem .7rem;border-radius:6px;font-size:.9rem}}
</style></head><body>
<form id="login-form" method="post" action="{action}" autocomplete="on">
<h1>Fraud monitor</h1>
{message}
<input type="hidden" name="csrf_token" value="{token}">
<input type="hidden" name="next" value="{next}">
<label for="login-username">User name</label>
<input id="login-username" name="username" autocomplete="username" required maxlength="64"
 value="{username}" autofocus>
<label for="login-password">Password</label>
<input id="login-password" name="password" type="password" autocomplete="current-password" required
 maxlength="1024">
<button id="login-submit" type="submit">Sign in</button>
</form></body></html>
"""


def login_page(
    action: str, token: str, next_url: str, *, username: str = "", error: str = "", info: str = ""
) -> str:
    """Render the login form; every dynamic value is HTML-escaped."""
    message = ""
    if error:
        message = f'<p id="login-error" class="error" role="alert">{escape(error)}</p>'
    elif info:
        message = f'<p id="login-info" class="info">{escape(info)}</p>'
    return _PAGE.format(
        action=escape(action),
        token=escape(token),
        next=escape(next_url),
        username=escape(username),
        message=message,
    )
