//! Custom conditions evaluated on one event and its card's state, in three-valued logic.
//!
//! `Unsure` is the native engine admitting that Python might decide differently (a number within
//! a hair of its limit, lists it was not sent yet). Only `False` lets an event be quiet, so
//! `Unsure` always goes to Python. A leaf reads its values through `Source`: an event with its
//! card's state here, a golden fixture's facts in the tests.

use std::collections::HashMap;

use crate::event::Event;
use crate::history;
use crate::rules::{AggSpec, Cond, Num, NumOp, Order, Text, TextOp};
use crate::state::{CardState, History, NO_TIME};

/// List name -> value -> expiry in event-time epoch ms (0: never), common.rulelang.lists'
/// ListSnapshot; a list missing from it is empty, as there.
pub type Lists = HashMap<String, HashMap<String, i64>>;
pub const NEVER: i64 = 0;

/// What a condition's leaves read.
pub trait Source {
    fn number(&mut self, n: Num) -> f64;
    fn text(&self, t: Text) -> &str;
    fn lists(&self) -> Option<&Lists>; // None: not sent yet
    fn t_ms(&self) -> i64;
    /// Relative distance to a limit below which a derived feature is Unsure (0: exact).
    fn slack(&self) -> f64 {
        FEATURE_SLACK
    }
    /// The value of compiled aggregate `i` (NaN, i.e. Unsure, where a source has none).
    fn agg(&mut self, _i: usize) -> f64 {
        f64::NAN
    }
    /// Whether the event's value of seen feature `which` is new for the card (None: Unsure).
    fn is_new(&self, _which: usize) -> Option<bool> {
        None
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tri {
    False,
    True,
    Unsure,
}

impl Tri {
    fn not(self) -> Tri {
        match self {
            Tri::False => Tri::True,
            Tri::True => Tri::False,
            Tri::Unsure => Tri::Unsure,
        }
    }
    fn of(b: bool) -> Tri {
        if b {
            Tri::True
        } else {
            Tri::False
        }
    }
}

// Derived features this close to a limit are Python's call: they go through exp/sin/asin, whose
// last bits need not match Python's. Event fields are exact (the same IEEE operations).
const FEATURE_SLACK: f64 = 1e-9;

/// Everything a leaf can read for one event; features are computed on first use.
pub struct Facts<'a> {
    pub ev: &'a Event,
    pub amount_usd: f64,
    pub prev: &'a CardState,
    pub lists: Option<&'a Lists>,
    geo: Option<(f64, f64)>, // (distance_km, speed_kmh)
    aggs: &'a [AggSpec],
    ring: Option<&'a History>, // the slid ring (or the late event alone) aggregates read
    agg_values: Vec<f64>,      // computed on first read (NaN: not yet)
}

/// Derived features from the cs1 state, as bridge/detection/features.py defines them.
pub const NO_PREV_S: f64 = 1_000_000_000.0;
pub const RATIO_MIN_HISTORY: i64 = 5;

impl<'a> Facts<'a> {
    pub fn new(
        ev: &'a Event,
        amount_usd: f64,
        prev: &'a CardState,
        lists: Option<&'a Lists>,
    ) -> Self {
        Facts {
            ev,
            amount_usd,
            prev,
            lists,
            geo: None,
            aggs: &[],
            ring: None,
            agg_values: Vec::new(),
        }
    }

    /// The same facts with the rules' aggregates over `ring` (history::observe's).
    pub fn with_history(mut self, aggs: &'a [AggSpec], ring: &'a History) -> Self {
        self.aggs = aggs;
        self.ring = Some(ring);
        self.agg_values = vec![f64::NAN; aggs.len()];
        self
    }

    fn geo(&mut self) -> (f64, f64) {
        if let Some(g) = self.geo {
            return g;
        }
        let p = self.prev;
        let g = match (self.ev.lat, self.ev.lon, p.lat, p.lon) {
            (Some(lat), Some(lon), Some(plat), Some(plon)) => {
                let km = crate::detect::haversine_km(plat, plon, lat, lon);
                let hours = (self.ev.t_ms - p.geo_ms).unsigned_abs() as f64 / 3_600_000.0;
                (km, km / hours.max(1.0 / 60.0)) // at least one minute between them
            }
            _ => (0.0, 0.0),
        };
        self.geo = Some(g);
        g
    }
}

impl Source for Facts<'_> {
    fn number(&mut self, n: Num) -> f64 {
        let p = self.prev;
        match n {
            Num::Amount => self.ev.amount,
            Num::AmountUsd => self.amount_usd,
            Num::Hour => self.ev.secs().rem_euclid(86_400).div_euclid(3600) as f64,
            Num::DistanceKm => self.geo().0,
            Num::SpeedKmh => self.geo().1,
            Num::AmountRatio if p.n >= RATIO_MIN_HISTORY => self.amount_usd / p.log_mean.exp(),
            Num::AmountRatio => 1.0,
            Num::SincePrevS if p.last_ms == NO_TIME => NO_PREV_S,
            Num::SincePrevS => (self.ev.t_ms - p.last_ms) as f64 / 1000.0,
            Num::ModelScore => self.ev.score,
        }
    }

    fn text(&self, t: Text) -> &str {
        let ev = self.ev;
        match t {
            Text::Currency => ev.currency(),
            Text::MerchantId => ev.merchant_id(),
            Text::MerchantCategory => ev.merchant_category(),
            Text::Channel => ev.channel(),
            Text::Country => ev.country().unwrap_or(""), // as event_facts(): null reads ""
            Text::City => ev.city(),
            Text::CardId => ev.card_id(),
            Text::AccountId => ev.account_id(),
            Text::Weekday => {
                // 1970-01-01 was a Thursday
                const DAYS: [&str; 7] = ["thu", "fri", "sat", "sun", "mon", "tue", "wed"];
                DAYS[ev.secs().div_euclid(86_400).rem_euclid(7) as usize]
            }
        }
    }

    fn lists(&self) -> Option<&Lists> {
        self.lists
    }

    fn t_ms(&self) -> i64 {
        self.ev.t_ms
    }

    fn agg(&mut self, i: usize) -> f64 {
        let (Some(ring), Some(spec)) = (self.ring, self.aggs.get(i)) else {
            return f64::NAN; // no history bound: Unsure, Python decides
        };
        if self.agg_values[i].is_nan() {
            self.agg_values[i] = history::aggregate(spec, ring, self.ev.t_ms);
        }
        self.agg_values[i]
    }

    fn is_new(&self, which: usize) -> Option<bool> {
        Some(history::is_new(self.prev.history(), self.ev, which))
    }
}

fn compare(x: f64, order: Order, v: f64, slack: f64) -> Tri {
    if !x.is_finite() || !v.is_finite() {
        return Tri::Unsure;
    }
    let d = x - v;
    let near = slack > 0.0 && d.abs() <= x.abs().max(v.abs()) * slack;
    match order {
        Order::Eq if d == 0.0 => Tri::True,
        Order::Ne if d == 0.0 => Tri::False,
        _ if near => Tri::Unsure,
        Order::Eq => Tri::False,
        Order::Ne => Tri::True,
        Order::Lt => Tri::of(d < 0.0),
        Order::Le => Tri::of(d <= 0.0),
        Order::Gt => Tri::of(d > 0.0),
        Order::Ge => Tri::of(d >= 0.0),
    }
}

fn all(parts: impl Iterator<Item = Tri>) -> Tri {
    let mut out = Tri::True;
    for t in parts {
        match t {
            Tri::False => return Tri::False,
            Tri::Unsure => out = Tri::Unsure,
            Tri::True => {}
        }
    }
    out
}

fn any(parts: impl Iterator<Item = Tri>) -> Tri {
    let mut out = Tri::False;
    for t in parts {
        match t {
            Tri::True => return Tri::True,
            Tri::Unsure => out = Tri::Unsure,
            Tri::False => {}
        }
    }
    out
}

fn num_op(x: f64, op: &NumOp, slack: f64) -> Tri {
    match op {
        NumOp::Cmp(order, v) => compare(x, *order, *v, slack),
        NumOp::In(values, negated) => {
            let t = any(values.iter().map(|v| compare(x, Order::Eq, *v, slack)));
            if *negated {
                t.not()
            } else {
                t
            }
        }
        NumOp::Between(lo, hi) => all([
            compare(x, Order::Ge, *lo, slack),
            compare(x, Order::Le, *hi, slack),
        ]
        .into_iter()),
    }
}

fn text_op(s: &str, op: &TextOp) -> Tri {
    match op {
        TextOp::Eq(v, negated) => Tri::of((s == v) != *negated),
        TextOp::In(set, negated) => Tri::of(set.contains(s) != *negated),
        TextOp::StartsWith(prefix) => Tri::of(s.starts_with(prefix.as_str())),
    }
}

/// As common.rulelang.lists.is_member: an entry counts until its expiry (event time).
fn member<S: Source>(f: &S, field: Text, list: &str) -> Tri {
    let Some(lists) = f.lists() else {
        return Tri::Unsure; // no lists sent yet: Python knows
    };
    match lists
        .get(list)
        .and_then(|entries| entries.get(f.text(field)))
    {
        None => Tri::False,
        Some(&expires) => Tri::of(expires == NEVER || f.t_ms() < expires),
    }
}

/// Evaluate a condition; only `Tri::False` lets the event be declared quiet.
pub fn eval<S: Source>(c: &Cond, f: &mut S) -> Tri {
    match c {
        Cond::All(parts) => {
            let mut out = Tri::True;
            for p in parts {
                match eval(p, f) {
                    Tri::False => return Tri::False,
                    Tri::Unsure => out = Tri::Unsure,
                    Tri::True => {}
                }
            }
            out
        }
        Cond::Any(parts) => {
            let mut out = Tri::False;
            for p in parts {
                match eval(p, f) {
                    Tri::True => return Tri::True,
                    Tri::Unsure => out = Tri::Unsure,
                    Tri::False => {}
                }
            }
            out
        }
        Cond::Not(inner) => eval(inner, f).not(),
        Cond::Num(n, op) => {
            let derived = !matches!(
                n,
                Num::Amount | Num::AmountUsd | Num::Hour | Num::ModelScore
            );
            num_op(f.number(*n), op, if derived { f.slack() } else { 0.0 })
        }
        Cond::Text(t, op) => text_op(f.text(*t), op),
        Cond::Agg(i, op, summed) => {
            let x = f.agg(*i);
            num_op(x, op, if *summed { f.slack() } else { 0.0 })
        }
        Cond::New(which, negated, value) => match f.is_new(*which) {
            Some(new) => Tri::of((new == *value) != *negated),
            None => Tri::Unsure,
        },
        Cond::List(field, list, negated) => {
            let t = member(f, *field, list);
            if *negated {
                t.not()
            } else {
                t
            }
        }
    }
}
