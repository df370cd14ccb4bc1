"""Pure parts of the web defences: backoff, post-login targets, device cookies, the page policy."""

from __future__ import annotations

import pytest

from common.keys import RedisKeys
from dashapp.auth.device import DeviceCookies
from dashapp.auth.login import safe_next
from dashapp.security import page_policy
from dashapp.store.throttle import LoginThrottle, backoff_s


def test_backoff_is_free_then_doubles_up_to_the_cap() -> None:
    waits = [backoff_s(n, free=5, base_s=30, cap_s=900) for n in range(12)]
    assert waits == [0, 0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900]
    assert backoff_s(10**6, free=5, base_s=30, cap_s=900) == 900  # no overflow for absurd counts


def test_the_wait_counts_from_the_last_failure() -> None:
    throttle = LoginThrottle(None, RedisKeys("t:"), max_failures=5, window_s=900, base_s=30)  # type: ignore[arg-type]
    just_now = 900_000  # remaining TTL in ms: the window restarted by a failure a moment ago
    assert throttle.wait(b"4", just_now) == 0
    assert throttle.wait(b"5", just_now) == 30
    assert throttle.wait(b"6", just_now) == 60
    assert throttle.wait(b"6", just_now - 45_000) == 15  # 45 s have passed since
    assert throttle.wait(b"6", just_now - 61_000) == 0
    assert throttle.wait(None, -2) == 0 and throttle.wait(b"9", -2) == 0  # no key: nothing to wait for
    assert throttle.wait(b"garbage", just_now) == 0


@pytest.mark.parametrize(
    "raw",
    [None, "", "//x", "/\\x", "\\x", "/\tx", "/\nx", "http://x/", "x", "/é", "/ x", "/" + "a" * 600],
)
def test_unsafe_post_login_targets_become_the_start_page(raw: str | None) -> None:
    assert safe_next(raw) == "/"


@pytest.mark.parametrize("raw", ["/", "/?next=%2F%2Fx", "/#sec-rules", "/a/b;c=d", "/%0A"])
def test_same_origin_paths_are_kept(raw: str) -> None:
    assert safe_next(raw) == raw


def test_a_device_cookie_names_one_user_and_cannot_be_forged() -> None:
    cookies = DeviceCookies("k" * 32)
    value = cookies.issue("ann")
    device = cookies.device_for(value, "ann")
    assert device and cookies.device_for(cookies.issue("ann"), "ann") != device  # one id per browser
    assert cookies.device_for(value, "bob") is None
    assert DeviceCookies("other-secret" * 3).device_for(value, "ann") is None
    # change the signature's first character: its last one carries 2 padding bits that base64
    # decoding ignores ('A' and 'B' can decode alike), so changing it proves nothing
    body, sig = value.rsplit(".", 1)
    assert cookies.device_for(f"{body}.{'B' if sig[0] == 'A' else 'A'}{sig[1:]}", "ann") is None
    assert cookies.device_for(("B" if value[0] == "A" else "A") + value[1:], "ann") is None  # the payload
    assert cookies.device_for("x" * 600, "ann") is None and cookies.device_for(None, "ann") is None
    assert DeviceCookies("k" * 32, max_age_s=-1).device_for(value, "ann") is None  # expired


def test_the_page_policy_allows_scripts_only_from_here_and_by_hash() -> None:
    policy = dict(d.split(" ", 1) for d in page_policy(["'sha256-abc='"]).split("; "))
    assert policy["script-src"] == "'self' 'sha256-abc='"
    assert policy["default-src"] == "'self'" and policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'"
