//! What the native engine refuses, and why (the words the bridge logs and the health panel shows).

use serde_json::{json, Value};

use crate::config;
use crate::rules::compile;

/// Today's default rules config as the bridge encodes it, with `custom` rules added.
pub fn config_with(custom: Value) -> Vec<u8> {
    let mut cfg: Value =
        serde_json::from_str(include_str!("../../common/rules_defaults.json")).unwrap();
    cfg["custom"] = custom;
    cfg["suppressions"] = json!([{"list": "snoozed_cards", "field": "card_id", "rules": ["*"]}]);
    serde_json::to_vec(&cfg).unwrap()
}

fn rule(id: &str, enabled: bool, when: Value) -> Value {
    json!({"id": id, "name": "n", "description": "d", "enabled": enabled, "score": 0.8,
           "when": when, "explain": "e"})
}

fn refusal(when: Value) -> String {
    compile(&when).expect_err("refused")
}

#[test]
fn supported_conditions_compile() {
    let when = json!({"all": [
        {"field": "channel", "op": "eq", "value": "online"},
        {"field": "merchant_category", "op": "in", "value": ["electronics", "digital_goods"]},
        {"field": "amount_usd", "op": "gt", "value": 1500.0, "as": "usd"},
        {"field": "amount", "op": "between", "value": [1.0, 2.0]},
        {"field": "hour", "op": "in", "value": [0, 1, 2]},
        {"field": "weekday", "op": "ne", "value": "sun"},
        {"field": "city", "op": "starts_with", "value": "San"},
        {"field": "country", "op": "not_in", "value": ["US"]},
        {"any": [{"feature": "distance_km", "op": "ge", "value": 100.0},
                 {"not": {"feature": "speed_kmh", "op": "lt", "value": 10.0}},
                 {"feature": "amount_ratio", "op": "between", "value": [2.0, 3.0]},
                 {"feature": "since_prev_s", "op": "le", "value": 5.0}]},
        {"field": "card_id", "op": "in_list", "list": "stolen"},
        {"field": "merchant_id", "op": "not_in_list", "list": "trusted"},
        {"field": "card_id", "op": "in_list", "list": "stolen"}
    ]});
    let c = compile(&when).unwrap();
    assert_eq!(c.lists, vec!["stolen".to_owned(), "trusted".to_owned()]);
}

#[test]
fn every_refusal_reason_names_what_is_unsupported() {
    let cases = [
        (
            json!({"agg": "median", "of": "amount_usd", "window": "24h", "op": "ge", "value": 3}),
            "agg median of amount_usd (not known natively)",
        ),
        (
            json!({"agg": "distinct", "of": "channel", "window": 60, "op": "ge", "value": 3}),
            "agg distinct of channel (not known natively)",
        ),
        (
            json!({"agg": "count", "of": "amount_usd", "window": 60, "op": "ge", "value": 3}),
            "agg count of amount_usd (not known natively)",
        ),
        (
            json!({"agg": "count", "window": "1w", "op": "ge", "value": 3}),
            "window 1w (not known natively)",
        ),
        (
            json!({"agg": "count", "window": "8d", "op": "ge", "value": 3}),
            "window 8d (not known natively)",
        ),
        (
            json!({"agg": "count", "window": 60, "op": "ge", "value": 3, "by": "x"}),
            "key \"by\" in a condition (not known natively)",
        ),
        (
            json!({"agg": "count", "window": 60, "op": "ge", "value": 3,
                   "where": {"field": "city", "op": "starts_with", "value": "P"}}),
            "where operator starts_with on city (not known natively)",
        ),
        (
            json!({"agg": "count", "window": 60, "op": "ge", "value": 3,
                   "where": {"field": "hour", "op": "eq", "value": 1}}),
            "where on field hour (not known natively)",
        ),
        (
            json!({"all": [{"not": {"agg": "sum", "of": "amount_usd", "window": "1h", "op": "matches", "value": 1.0}}]}),
            "operator matches on a number (not known natively)",
        ),
        (
            json!({"feature": "new_country", "op": "eq", "value": "yes"}),
            "feature new_country with a non-boolean value",
        ),
        (
            json!({"feature": "new_merchant", "op": "gt", "value": true}),
            "operator gt on new_merchant (not known natively)",
        ),
        (
            json!({"feature": "risk", "op": "gt", "value": 1.0}),
            "feature risk (not known natively)",
        ),
        (
            json!({"field": "ip", "op": "eq", "value": "x"}),
            "field ip (not known natively)",
        ),
        (
            json!({"field": "city", "op": "regex", "value": "x"}),
            "operator regex on city (not known natively)",
        ),
        (
            json!({"field": "amount", "op": "starts_with", "value": 1.0}),
            "operator starts_with on a number (not known natively)",
        ),
        (
            json!({"field": "city", "op": "gt", "value": "x"}),
            "operator gt on city (not known natively)",
        ),
        (
            json!({"field": "amount", "op": "gt", "value": "x"}),
            "operator gt with a non-number value (x)",
        ),
        (
            json!({"field": "city", "op": "eq", "value": 3}),
            "operator eq on city with a non-string value (3)",
        ),
        (
            json!({"field": "city", "op": "eq", "value": "x", "unit": "m"}),
            "key \"unit\" in a condition (not known natively)",
        ),
        (
            json!({"all": [], "field": "city"}),
            "key \"field\" in a condition (not known natively)",
        ),
        (
            json!({"field": "weekday", "op": "in_list", "list": "days"}),
            "a list on field weekday (not supported natively)",
        ),
        (
            json!({"field": "city", "op": "contains_list", "list": "l"}),
            "operator contains_list with a list (not known natively)",
        ),
        (
            json!({"field": "amount", "op": "between", "value": [1.0]}),
            "operator between without [low, high]",
        ),
        (
            json!({"xor": []}),
            "a condition of unknown shape ({\"xor\":[]})",
        ),
        (
            json!(["field"]),
            "a condition that is not an object ([\"field\"])",
        ),
    ];
    for (when, want) in cases {
        assert_eq!(refusal(when.clone()), want, "{when}");
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let mut when = json!({"field": "city", "op": "eq", "value": "x"});
    for _ in 0..100 {
        when = json!({"not": when});
    }
    assert_eq!(refusal(when), "a condition nested too deep");
    // deeper documents never get here: serde_json refuses past 128 levels
    let mut deep = String::new();
    for _ in 0..200 {
        deep.push_str("{\"not\":");
    }
    deep.push_str("{}");
    deep.push_str(&"}".repeat(200));
    let raw = String::from_utf8(config_with(json!([]))).unwrap();
    let raw = raw.replace("\"custom\":[]", &format!("\"custom\":[{{\"id\":\"deep\",\"name\":\"n\",\"description\":\"d\",\"enabled\":true,\"score\":0.5,\"explain\":\"e\",\"when\":{deep}}}]"));
    let why = config::parse(raw.as_bytes()).err().unwrap();
    assert!(why.contains("recursion limit exceeded"), "{why}");
}

#[test]
fn the_config_is_refused_for_an_enabled_unsupported_rule_only() {
    let agg = json!({"agg": "distinct", "of": "channel", "window": "24h", "op": "ge", "value": 3});
    let off = config_with(json!([rule("many_countries", false, agg.clone())]));
    assert!(config::parse(&off).is_ok());
    let on = config_with(json!([
        rule(
            "online_big",
            true,
            json!({"field": "amount_usd", "op": "gt", "value": 10.0})
        ),
        rule("many_countries", true, agg)
    ]));
    assert_eq!(
        config::parse(&on).err().unwrap(),
        "rule many_countries uses agg distinct of channel (not known natively)"
    );
}

#[test]
fn a_rule_set_shares_its_aggregates_and_history_needs() {
    let same = |window: Value| json!({"agg": "distinct", "of": "country", "window": window, "op": "ge", "value": 3});
    let cfg = config_with(json!([
        rule("a_one", true, same(json!("24h"))),
        rule("a_two", true, same(json!("1d"))),
        rule(
            "a_three",
            true,
            json!({"agg": "count", "window": 60, "op": "ge", "value": 3,
            "where": {"any": [{"field": "channel", "op": "in", "value": ["online"]},
                              {"field": "amount_usd", "op": "lt", "value": 2}]}})
        ),
        rule(
            "a_four",
            true,
            json!({"feature": "new_category", "op": "eq", "value": true})
        ),
        rule(
            "a_off",
            false,
            json!({"agg": "max", "of": "amount_usd", "window": "7d", "op": "gt", "value": 1.0})
        ),
    ]));
    let rules = config::parse(&cfg).unwrap();
    let keys: Vec<&str> = rules.needs.aggs.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "distinct(country)[86400s]",
            "count[60s] where any(channel in [\"online\"],amount_usd lt 2)"
        ]
    );
    assert_eq!(rules.needs.longest_ms(), 86_400_000); // the disabled 7 d rule keeps nothing
    assert_eq!(rules.needs.keep, [true, false, true, false, false, true]);
    assert_eq!(rules.needs.seen, [false, false, true]);
}

#[test]
fn unknown_fields_anywhere_refuse_the_config() {
    let base: Value = serde_json::from_slice(&config_with(json!([]))).unwrap();
    let mut cases: Vec<(Value, &str)> = Vec::new();
    let mut v = base.clone();
    v["velocity"]["max_distinct"] = json!(3);
    cases.push((v, "unknown field `max_distinct`"));
    let mut v = base.clone();
    v["geo_fence"] = json!({"enabled": true});
    cases.push((v, "unknown field `geo_fence`"));
    let mut v = base.clone();
    v["custom"] = json!([{"id": "abc", "name": "n", "description": "d", "enabled": true, "score": 0.5,
                          "when": {"field": "city", "op": "eq", "value": "x"}, "explain": "e",
                          "priority": 1}]);
    cases.push((v, "unknown field `priority`"));
    let mut v = base.clone();
    v["suppressions"] = json!([{"list": "l", "field": "card_id", "rules": ["*"], "score": -1}]);
    cases.push((v, "unknown field `score`"));
    let mut v = base.clone();
    v["high_amount"]
        .as_object_mut()
        .unwrap()
        .remove("threshold");
    cases.push((v, "missing field `threshold`"));
    for (cfg, want) in cases {
        let why = config::parse(&serde_json::to_vec(&cfg).unwrap())
            .err()
            .expect("refused");
        assert!(
            why.starts_with("the rules config does not parse natively ("),
            "{why}"
        );
        assert!(why.contains(want), "{why} lacks {want}");
    }
    assert!(config::parse(b"not json").is_err());
    assert!(config::parse(&serde_json::to_vec(&base).unwrap()).is_ok());
}
