"""Rule builder callbacks over HTTP (Flask test client, real Redis): admins write, analysts get 403."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from common.keys import RedisKeys
from common.rulelang import to_document
from dashapp.app import create_app
from dashapp.auth.users import add_user
from dashapp.settings import DashSettings
from dashapp.store import RulesStore
from dashapp.store.list_entries import EntryIn
from dashapp.store.lists import ListStore
from dashapp.views.lists_view import PAGE_ENTRIES
from dashapp.views.rule_builder_doc import put_rule

pytestmark = pytest.mark.integration

RULE = {
    "id": "online_big",
    "name": "Online big",
    "description": "Online purchases above $100.",
    "enabled": True,
    "score": 0.8,
    "when": {"all": [{"field": "channel", "op": "eq", "value": "online"},
                     {"field": "amount_usd", "op": "gt", "value": 100, "as": "usd"}]},
    "explain": "online {usd}",
}  # fmt: skip
POST = "/_dash-update-component"
PASSWORDS = {"ann": "ann-password-1", "root": "root-password-1"}


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rb") / "users.json"
    add_user(path, "ann", "analyst", PASSWORDS["ann"])
    add_user(path, "root", "admin", PASSWORDS["root"])
    return path


@pytest.fixture
def app(redis_client: redis.Redis, redis_prefix: str, users_file: Path) -> Any:
    settings = DashSettings(
        redis_key_prefix=redis_prefix,
        dash_secret_key="k" * 32,
        dash_users_file=str(users_file),
        dash_max_body_bytes=100_000,
    )
    return create_app(settings, redis_client)


def login(client: FlaskClient, name: str) -> None:
    """Sign in through the real login form."""
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {"username": name, "password": PASSWORDS[name], "csrf_token": token, "next": "/"}
    done = client.post("/login", data=form)
    assert done.status_code in (302, 303) and "login" not in done.headers["Location"], done.status_code


def _slot(spec: dict[str, Any], value: Any) -> Any:
    """A wildcard slot takes the list as given; any other the value with its id and property."""
    return (
        value if isinstance(value, list) else {"id": spec["id"], "property": spec["property"], "value": value}
    )


def _dep(client: FlaskClient, input_id: str) -> dict[str, Any]:
    """The callback that has `input_id` among its inputs."""
    found = [
        d
        for d in client.get("/_dash-dependencies").get_json()
        if any(i["id"] == input_id for i in d["inputs"])
    ]
    assert len(found) == 1, found
    return found[0]


def _outputs(dep: dict[str, Any]) -> list[dict[str, Any]]:
    parts = dep["output"].strip(".").split("...")
    return [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1].split("@")[0]} for p in parts]


def _call(client: FlaskClient, dep: dict[str, Any], inputs: list[Any], state: list[Any], changed: str) -> Any:
    """POST a renderer-shaped callback body (a wildcard output gets no component in it)."""
    outputs: Any = _outputs(dep)
    outputs = [[] if '["ALL"]' in str(o["id"]) else o for o in outputs]
    body = {
        "output": dep["output"],
        "outputs": outputs if dep["output"].startswith("..") else outputs[0],
        "inputs": [_slot(i, v) for i, v in zip(dep["inputs"], inputs, strict=True)],
        "state": [_slot(i, v) for i, v in zip(dep["state"], state, strict=True)],
        "changedPropIds": [changed],
    }
    return client.post(POST, json=body)


def _publish(client: FlaskClient, draft: Any, version: int, comment: str) -> Any:
    dep = _dep(client, "rb-publish")
    live = {"version": version, "doc": {}}
    return _call(client, dep, [0, 1, None], [draft, live, comment], "rb-publish.n_clicks")


@pytest.fixture
def signed(app: Any) -> tuple[FlaskClient, FlaskClient]:
    analyst, admin = app.server.test_client(), app.server.test_client()
    login(analyst, "ann")
    login(admin, "root")
    return analyst, admin


def test_publish_is_admin_only_and_makes_a_version_with_author_and_comment(
    signed: tuple[FlaskClient, FlaskClient], redis_client: redis.Redis, keys: RedisKeys
) -> None:
    analyst, admin = signed
    store = RulesStore(redis_client, keys)
    live = store.current()
    draft = put_rule(to_document(live.rules), -1, RULE)
    assert _publish(analyst, draft, live.version, "sneaky").status_code == 403
    assert store.current().version == live.version
    no_comment = _publish(admin, draft, live.version, "  ")
    assert no_comment.status_code == 200 and "say why in the comment" in no_comment.get_data(as_text=True)
    bad = put_rule(draft, -1, {**RULE, "id": "other_rule", "score": "high"})
    refused = _publish(admin, bad, live.version, "bad")
    assert refused.status_code == 200 and "Not published: rules[8].score" in refused.get_data(as_text=True)
    assert store.current().version == live.version
    ok = _publish(admin, draft, live.version, "online over $100")
    assert ok.status_code == 200 and f"Published as version {live.version + 1}" in ok.get_data(as_text=True)
    record = store.version(live.version + 1)
    assert (record.author, record.comment) == ("root", "online over $100")
    assert [c.id for c in store.current().rules.custom] == ["online_big"]
    stale = _publish(admin, put_rule(draft, -1, {**RULE, "id": "third_rule"}), live.version, "late")
    assert "Not published" in stale.get_data(as_text=True) and store.current().version == live.version + 1


def test_restore_is_admin_only_and_is_a_new_version(
    signed: tuple[FlaskClient, FlaskClient], redis_client: redis.Redis, keys: RedisKeys
) -> None:
    analyst, admin = signed
    store = RulesStore(redis_client, keys)
    before = store.current()
    store.publish(put_rule(to_document(before.rules), -1, RULE), "root", "add")
    diff = _call(
        admin, _dep(admin, "ver-diff"), [1], [before.version, before.version + 1], "ver-diff.n_clicks"
    )
    assert diff.status_code == 200 and "online_big" in diff.get_data(as_text=True)
    assert "(added)" in diff.get_data(as_text=True)
    dep = _dep(admin, "ver-restore")
    args = ([1], [before.version, "back to before"], "ver-restore.n_clicks")
    assert _call(analyst, dep, *args).status_code == 403
    assert store.current().version == before.version + 1
    done = _call(admin, dep, *args)
    assert done.status_code == 200 and "restored as version" in done.get_data(as_text=True)
    now = store.current()
    assert now.version == before.version + 2 and now.rules.custom == ()
    assert store.version(now.version).restored_from == before.version


def test_list_changes_are_admin_only_and_a_big_list_is_sent_a_page_at_a_time(
    signed: tuple[FlaskClient, FlaskClient], redis_client: redis.Redis, keys: RedisKeys
) -> None:
    analyst, admin = signed
    lists = ListStore(redis_client, keys)
    lists.put("deny_cards", [EntryIn(f"C-{i:06d}") for i in range(100_000)], "setup")
    dep = _dep(admin, "lst-add")
    state = ["deny_cards", "", "C-XYZ", "2030-01-01", "stolen", None, 0]
    args = ([1, 0, [], None], state, "lst-add.n_clicks")
    assert _call(analyst, dep, *args).status_code == 403
    assert lists.info("deny_cards").count == 100_000
    added = _call(admin, dep, *args)
    assert added.status_code == 200 and "Added C-XYZ" in added.get_data(as_text=True)
    assert lists.info("deny_cards").count == 100_001
    assert lists.audit(1)[0]["who"] == "root"
    page = _call(admin, _dep(admin, "lst-next"), ["deny_cards", "", 0, 1, 0], [0], "lst-next.n_clicks")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "page 2 of 2,001" in text
    assert len(set(re.findall(r'"C-\d{6}"', text))) == PAGE_ENTRIES  # one page, not 100,001 entries
    assert len(text) < 100_000


def _upload(text: str) -> str:
    return "data:text/csv;base64," + base64.b64encode(text.encode()).decode()


def test_csv_import_applies_all_or_nothing_and_export_gives_the_list_back(
    signed: tuple[FlaskClient, FlaskClient], redis_client: redis.Redis, keys: RedisKeys
) -> None:
    _, admin = signed
    lists = ListStore(redis_client, keys)
    lists.put("snoozed_cards", [EntryIn("C-1", note="kept")], "setup")
    dep = _dep(admin, "lst-add")

    def upload(text: str) -> str:
        state = ["snoozed_cards", "", "", "", "", "cards.csv", 0]
        resp = _call(admin, dep, [0, 0, [], _upload(text)], state, "lst-upload.contents")
        assert resp.status_code == 200
        return str(resp.get_data(as_text=True))

    bad = upload("value,expires_at,note\nC-2,,ok\nC-3,tomorrow,bad date\n")
    assert "Not changed: line 3" in bad and lists.info("snoozed_cards").count == 1  # nothing applied
    good = upload("value,expires_at,note\nC-2,2030-01-01T00:00:00Z,travel\nC-3,,\n")
    assert "Imported 2 entries" in good and lists.info("snoozed_cards").count == 3
    export = _call(admin, _dep(admin, "lst-export"), [1], ["snoozed_cards"], "lst-export.n_clicks")
    sent = export.get_json()["response"]["lst-download"]["data"]
    assert sent["filename"] == "snoozed_cards.csv"
    assert sent["content"].splitlines() == [
        "value,expires_at,note",
        "C-1,,kept",
        "C-2,2030-01-01T00:00:00Z,travel",
        "C-3,,",
    ]


def test_analysts_cannot_edit_the_draft_either(signed: tuple[FlaskClient, FlaskClient]) -> None:
    analyst, _ = signed
    toggle = _dep(analyst, '{"rule":["ALL"],"type":"rb-toggle"}')
    clicked = [{"id": {"type": "rb-toggle", "rule": "velocity"}, "property": "n_clicks", "value": 1}]
    resp = _call(analyst, toggle, [clicked, []], [{}], '{"rule":"velocity","type":"rb-toggle"}.n_clicks')
    assert resp.status_code == 403
    keep = _dep(analyst, "rb-apply")
    resp = _call(analyst, keep, [1], [[], [], [], [], "all", {}, {"open": True}], "rb-apply.n_clicks")
    assert resp.status_code == 403


@pytest.mark.parametrize("junk", [None, 7, "x" * 5000, ["a", {"b": 1}], {"rules": "nope"}, {"index": "1"}])
def test_forged_values_get_an_answer_never_a_500(signed: tuple[FlaskClient, FlaskClient], junk: Any) -> None:
    _, admin = signed
    cases = [
        ("rb-publish", [0, 1, junk], [junk, junk, junk]),
        ("rb-poll", [junk], [junk, junk, junk]),
        ("rb-apply", [1], [[], [], [], [], junk, junk, junk]),
        ("rb-raw-apply", [0, [], [], [], 1, 0, 0, 0, 0], [[], [], [], junk, junk, junk]),
        ("ver-diff", [1], [junk, junk]),
        ("ver-restore", [1], [junk, junk]),
        ("lst-add", [1, 0, [], None], [junk, junk, junk, junk, junk, junk, junk]),
        ("lst-next", [junk, junk, 0, 1, 0], [junk]),
        ("lst-export", [1], [junk]),
    ]
    for input_id, inputs, state in cases:
        resp = _call(admin, _dep(admin, input_id), inputs, state, f"{input_id}.n_clicks")
        assert resp.status_code < 500, (input_id, resp.status_code, resp.get_data(as_text=True)[:300])


def test_an_aggregates_of_choices_follow_its_kind(signed: tuple[FlaskClient, FlaskClient]) -> None:
    _, admin = signed
    dep = next(
        d
        for d in admin.get("/_dash-dependencies").get_json()
        if any('"part":"agg"' in str(i["id"]).replace(" ", "") for i in d["inputs"])
    )
    row = {"type": "rb-in", "row": 0, "kind": "agg"}
    body = {
        "output": dep["output"],
        "outputs": [{"id": {**row, "part": "of"}, "property": p} for p in ("options", "value")],
        "inputs": [{"id": {**row, "part": "agg"}, "property": "value", "value": "distinct"}],
        "state": [{"id": {**row, "part": "of"}, "property": "value", "value": ""}],
        "changedPropIds": [],
    }
    resp = admin.post(POST, json=body)
    assert resp.status_code == 200
    out = next(iter(resp.get_json()["response"].values()))
    assert [o["value"] for o in out["options"]] == ["merchant_id", "country", "city", "merchant_category"]
    assert out["value"] == "merchant_id"  # count's empty "of" is not a distinct column


def test_suppressions_are_admin_only_and_refused_when_invalid(
    signed: tuple[FlaskClient, FlaskClient], redis_client: redis.Redis, keys: RedisKeys
) -> None:
    analyst, admin = signed
    ListStore(redis_client, keys).put("snoozed_cards", [EntryIn("C-1")], "setup")
    draft = to_document(RulesStore(redis_client, keys).current().rules)
    dep = _dep(admin, "rb-supp-add")

    def add(client: FlaskClient, name: str, rules: str) -> Any:
        return _call(client, dep, [1, []], [name, "card_id", rules, draft], "rb-supp-add.n_clicks")

    assert add(analyst, "snoozed_cards", "*").status_code == 403
    unknown = add(admin, "no_such_list", "*").get_data(as_text=True)
    assert "Not added: suppressions[0].list" in unknown
    done = add(admin, "snoozed_cards", "velocity").get_json()["response"]
    assert done["rb-draft"]["data"]["suppressions"] == [
        {"list": "snoozed_cards", "field": "card_id", "rules": ["velocity"]}
    ]


def test_a_list_created_in_the_tab_exists_empty_and_a_bad_name_is_refused(
    signed: tuple[FlaskClient, FlaskClient], redis_client: redis.Redis, keys: RedisKeys
) -> None:
    _, admin = signed
    dep = _dep(admin, "lst-create")
    state = [None, "trusted_merchants", "", "", "", None, 0]
    made = _call(admin, dep, [0, 1, [], None], state, "lst-create.n_clicks")
    assert made.status_code == 200 and "Created list trusted_merchants" in made.get_data(as_text=True)
    assert ListStore(redis_client, keys).info("trusted_merchants").count == 0
    bad = _call(admin, dep, [0, 2, [], None], [None, "Bad Name!", "", "", "", None, 0], "lst-create.n_clicks")
    assert bad.status_code == 200 and "Not changed: list name must match" in bad.get_data(as_text=True)


def test_a_poll_tick_is_never_the_same_callback_as_a_publish_click(
    signed: tuple[FlaskClient, FlaskClient],
) -> None:
    """Dash's renderer drops a waiting callback when the same one is requested again: a tick of the
    version poll sharing Publish's callback lost the click (seen in CI under load)."""
    _, admin = signed
    deps = admin.get("/_dash-dependencies").get_json()
    with_publish = [d for d in deps if any(i["id"] == "rb-publish" for i in d["inputs"])]
    assert len(with_publish) == 1
    assert all(i["id"] != "rb-poll" for i in with_publish[0]["inputs"])


def test_a_poll_follows_another_publish_and_warns_a_changed_draft_beside_the_version(
    signed: tuple[FlaskClient, FlaskClient], redis_client: redis.Redis, keys: RedisKeys
) -> None:
    _, admin = signed
    store = RulesStore(redis_client, keys)
    old = store.current()
    old_doc = to_document(old.rules)
    store.publish(put_rule(old_doc, -1, RULE), "someone", "theirs")
    dep = _dep(admin, "rb-poll")
    seen = {"version": old.version, "doc": old_doc}

    def tick(draft: Any, live: Any, behind: Any) -> Any:
        return _call(admin, dep, [3], [draft, live, behind], "rb-poll.n_intervals")

    follow = tick(old_doc, seen, "").get_json()["response"]  # an unchanged draft follows
    assert follow["rb-live"]["data"]["version"] == old.version + 1
    assert [r["id"] for r in follow["rb-draft"]["data"]["rules"]][-1] == "online_big"
    assert "rb-message" not in follow  # a publish's own message is never overwritten by a tick
    mine = put_rule(old_doc, -1, {**RULE, "id": "mine"})
    behind = tick(mine, seen, "").get_json()["response"]  # a changed draft is kept, and warned
    assert "rb-draft" not in behind and "rb-live" not in behind
    assert f"based on v{old.version}" in behind["rb-behind"]["children"]
    now = {"version": old.version + 1, "doc": {}}
    cleared = tick(mine, now, "stale warning").get_json()["response"]
    assert cleared["rb-behind"]["children"] == ""
    assert tick(mine, now, "").status_code == 204  # nothing new: no redraw
