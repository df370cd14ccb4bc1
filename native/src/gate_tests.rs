//! The shadow gate: an event is quiet only if neither the live nor the shadow set can fire on it,
//! and the next state is always the live set's (the shadow set keeps none of its own).

use serde_json::{json, Value};

use crate::config::{self, Rules};
use crate::detect::{quiet, quiet_gated};
use crate::event::{self, Event};
use crate::state::CardState;

fn rules(custom: Value) -> Rules {
    let mut cfg: Value =
        serde_json::from_str(include_str!("../../common/rules_defaults.json")).unwrap();
    cfg["custom"] = custom;
    config::parse(&serde_json::to_vec(&cfg).unwrap()).expect("accepted")
}

fn purchase(merchant: &str) -> Event {
    let raw = json!({"txn_id": "t-1", "ts": "2026-01-01T10:00:00.000Z", "card_id": "C1",
        "account_id": "A1", "amount": 42.5, "currency": "EUR", "merchant_id": merchant,
        "merchant_category": "grocery", "city": "Paris", "country": "FR", "lat": 48.8566,
        "lon": 2.3522, "channel": "pos"});
    event::parse(serde_json::to_vec(&raw).unwrap()).expect("on the fast path")
}

#[test]
fn an_event_only_the_shadow_set_fires_on_goes_to_python() {
    let live = rules(json!([]));
    let shadow = rules(
        json!([{"id": "planted", "name": "n", "description": "d", "enabled": true,
        "score": 0.9, "when": {"field": "merchant_id", "op": "eq", "value": "m-planted"},
        "explain": "e"}]),
    );
    let prev = CardState::default();
    let planted = purchase("m-planted");
    assert!(quiet(&live, None, &planted, &prev).is_some());
    assert!(quiet_gated(&live, None, None, &planted, &prev).is_some());
    assert!(quiet_gated(&live, Some(&shadow), None, &planted, &prev).is_none());

    let other = purchase("m-other");
    let alone = quiet(&live, None, &other, &prev).expect("quiet");
    let gated = quiet_gated(&live, Some(&shadow), None, &other, &prev).expect("quiet for both");
    assert_eq!(gated, alone, "the next state is the live set's");
}
