"""Device cookies: a browser that signed a user in before is known to the login throttle (OWASP)."""

from __future__ import annotations

import secrets

from itsdangerous import BadData, URLSafeTimedSerializer

DEVICE_COOKIE = "fraud_device"
DEVICE_DAYS = 90
_SALT = "dashapp.auth.device"


class DeviceCookies:
    """Issue and read signed device cookies: {user, random device id}, valid DEVICE_DAYS days.

    A device cookie proves only that this browser once logged in as this user; it grants no access.
    The login throttle counts the failures of such a browser apart from everyone else's, so an
    attacker's failures never lock the user out of a browser they already use.
    """

    def __init__(self, secret_key: str, max_age_s: int = DEVICE_DAYS * 86_400) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
        self.max_age_s = max_age_s

    def issue(self, user: str) -> str:
        """A new cookie value for `user` on this browser."""
        return self._serializer.dumps({"u": user, "d": secrets.token_urlsafe(12)})

    def device_for(self, value: str | None, user: str) -> str | None:
        """The device id if `value` is a valid, unexpired device cookie of `user`; else None."""
        if not value or len(value) > 512:
            return None
        try:
            data = self._serializer.loads(value, max_age=self.max_age_s)
        except BadData:
            return None
        if not isinstance(data, dict) or data.get("u") != user or not isinstance(data.get("d"), str):
            return None
        return str(data["d"])
