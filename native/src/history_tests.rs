//! history.rs against hand-worked cases of history.py's semantics (the golden and differential
//! tests compare it with Python itself).

use serde_json::json;

use super::*;
use crate::event::Event;
use crate::rules::compile;

fn needs(when: serde_json::Value) -> Needs {
    compile(&when).unwrap().needs
}

fn event(ts: &str, amount: f64, country: &str, merchant: &str) -> Event {
    let raw = json!({"txn_id": "t", "card_id": "c1", "account_id": "a1",
        "ts": ts, "amount": amount, "currency": "USD", "merchant_id": merchant,
        "merchant_category": "grocery", "channel": "pos", "country": country, "city": "Paris",
        "lat": 48.85, "lon": 2.35});
    crate::event::parse(serde_json::to_vec(&raw).unwrap()).expect("a valid event")
}

#[test]
fn the_ring_slides_prunes_and_caps() {
    let n = needs(json!({"agg": "count", "window": 60, "op": "ge", "value": 3}));
    let ev = event("2026-01-01T00:00:00Z", 5.0, "FR", "m1");
    let mut h = History::default();
    // 40 events one second apart: the ring keeps the newest HIST_MAX inside 60 s
    for i in 0..40 {
        let t = ev.t_ms + i * 1000;
        let (next, alone) = observe(&n, &h, &ev, 5.0, t, t.max(*h.ms.last().unwrap_or(&t)));
        assert!(alone.is_none());
        h = next;
    }
    assert_eq!(h.ms.len(), HIST_MAX);
    assert!(h.amt.is_empty() && h.cols.iter().all(Vec::is_empty)); // count reads no column
                                                                   // 60 s later the window has expired: only the new event stays (cutoff is exclusive)
    let t = ev.t_ms + 39_000 + 60_000;
    let (next, _) = observe(&n, &h, &ev, 5.0, t, t);
    assert_eq!(next.ms, vec![ev.t_ms + 39_000 + 60_000]);
    // a late event older than the cutoff is not kept and reads itself alone
    let late = ev.t_ms;
    let (next2, alone) = observe(&n, &next, &ev, 5.0, late, t);
    assert_eq!(next2.ms, next.ms);
    assert_eq!(alone.unwrap().ms, vec![late]);
}

#[test]
fn filtered_distinct_and_money_aggregates() {
    let when = json!({"all": [
        {"agg": "distinct", "of": "country", "window": "1h", "op": "ge", "value": 3},
        {"agg": "sum", "of": "amount_usd", "window": 60,
         "where": {"field": "country", "op": "ne", "value": "FR"}, "op": "gt", "value": 1.0},
        {"agg": "max", "of": "amount_usd", "window": 60, "op": "gt", "value": 1.0},
        {"agg": "count", "window": 60, "where": {"field": "amount_usd", "op": "lt", "value": 2},
         "op": "gt", "value": 1}]});
    let n = needs(when);
    assert_eq!(n.keep, [true, false, true, false, false, false]);
    let mut h = History::default();
    let base = event("2026-01-01T00:00:00Z", 1.0, "FR", "m").t_ms;
    for (i, (amt, country)) in [(1.5, "FR"), (3.0, "DE"), (0.5, "DE"), (9.0, "US")]
        .iter()
        .enumerate()
    {
        let ev = event("2026-01-01T00:00:00Z", *amt, country, "m");
        let t = base + i as i64 * 10_000;
        h = observe(&n, &h, &ev, *amt, t, t).0;
    }
    let t = base + 30_000;
    let vals: Vec<f64> = n.aggs.iter().map(|a| aggregate(a, &h, t)).collect();
    let by_key = |k: &str| vals[n.aggs.iter().position(|a| a.key == k).unwrap()];
    assert_eq!(by_key("distinct(country)[3600s]"), 3.0);
    assert_eq!(by_key("sum(amount_usd)[60s] where country ne \"FR\""), 12.5);
    assert_eq!(by_key("max(amount_usd)[60s]"), 9.0);
    assert_eq!(by_key("count[60s] where amount_usd lt 2"), 2.0);
    // at t + 50 s the first two entries (t-30 s, t-20 s... ) leave the 60 s window
    assert_eq!(by_key("max(amount_usd)[60s]"), aggregate(&n.aggs[2], &h, t));
}

#[test]
fn seen_values_move_to_the_end_and_are_capped() {
    let n = needs(json!({"feature": "new_merchant", "op": "eq", "value": true}));
    assert_eq!(n.seen, [false, true, false]);
    let mut h = History::default();
    for i in 0..20 {
        let ev = event("2026-01-01T00:00:00Z", 1.0, "FR", &format!("m{i}"));
        assert!(is_new(&h, &ev, 1));
        h = observe(&n, &h, &ev, 1.0, ev.t_ms, ev.t_ms).0;
    }
    assert_eq!(h.seen[1].len(), SEEN_MAX);
    let again = event("2026-01-01T00:00:00Z", 1.0, "FR", "m10");
    assert!(!is_new(&h, &again, 1));
    let next = observe(&n, &h, &again, 1.0, again.t_ms, again.t_ms).0;
    assert_eq!(*next.seen[1].last().unwrap(), crc("m10"));
    assert_eq!(next.seen[1].len(), SEEN_MAX);
    assert!(next.ms.is_empty() && next.seen[0].is_empty());
}
