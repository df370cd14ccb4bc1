//! Custom rule conditions (docs/rules-language.md), compiled from their document form.
//!
//! Compiling is where the native engine refuses: anything it does not evaluate itself (an
//! unknown key, field, operator, feature or aggregate shape) is an Err naming it, and the bridge
//! then hands every event to Python. Nothing unknown is ever skipped. Aggregates and `new_*`
//! features compile to their per-card history needs (history.rs reads them).

use std::collections::HashSet;

use serde_json::{Map, Value};

/// A number an event or its card's cs1 state gives a leaf.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    Amount,
    AmountUsd,
    Hour,
    DistanceKm,
    SpeedKmh,
    AmountRatio,
    SincePrevS,
    /// The champion model's score of the event, given per batch (exact: compared as Python does).
    ModelScore,
}

/// A string field of the event (weekday is `mon` … `sun` of `ts`, UTC).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Text {
    Currency,
    MerchantId,
    MerchantCategory,
    Channel,
    Country,
    City,
    CardId,
    AccountId,
    Weekday,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Order {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug)]
pub enum NumOp {
    Cmp(Order, f64),
    In(Vec<f64>, bool), // negated: not_in
    Between(f64, f64),
}

#[derive(Debug)]
pub enum TextOp {
    Eq(String, bool), // negated: ne
    In(HashSet<String>, bool),
    StartsWith(String),
}

#[derive(Debug)]
pub enum Cond {
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
    Num(Num, NumOp),
    Text(Text, TextOp),
    List(Text, String, bool), // field, list name, negated: not_in_list
    /// Aggregate (index into the compiled aggregates), its test, and whether its value is a float
    /// sum (sum/avg: Python may add in another order one day, so near its limit is Unsure).
    Agg(usize, NumOp, bool),
    /// new_country / new_merchant / new_category (SEEN index), op eq (false) or ne (true), value.
    New(usize, bool, bool),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AggKind {
    Count,
    Sum,
    Avg,
    Max,
    Distinct(usize), // a COLUMNS index
}

/// A `where` filter over one history entry (strings compare as crc32, as history.py stores them).
#[derive(Debug)]
pub enum Where {
    All(Vec<Where>),
    Any(Vec<Where>),
    Not(Box<Where>),
    Amount(NumOp),
    Crc(usize, HashSet<i64>, bool), // COLUMNS index, values, negated (ne / not_in)
}

/// One per-card aggregate over a sliding event-time window, the event included.
#[derive(Debug)]
pub struct AggSpec {
    pub kind: AggKind,
    pub window_ms: i64,
    pub filter: Option<Where>,
    /// Python's AggSpec key (plan.agg_key) for the plain numbers the fixtures use; equal specs
    /// share it, so each aggregate is computed once per event.
    pub key: String,
}

/// History columns in cs2 order (bridge/detection/history.py COLUMNS).
pub const COLUMNS: [&str; 6] = [
    "amount_usd",
    "merchant_id",
    "country",
    "city",
    "merchant_category",
    "channel",
];
/// Seen-value features in cs2 order (history.py SEEN).
pub const SEEN: [&str; 3] = ["new_country", "new_merchant", "new_category"];

/// What the compiled conditions read: lists, aggregates, and the history they need kept.
#[derive(Debug, Default)]
pub struct Needs {
    pub lists: Vec<String>,
    pub aggs: Vec<AggSpec>,
    pub keep: [bool; 6], // per COLUMNS entry
    pub seen: [bool; 3], // per SEEN entry
}

impl Needs {
    /// The longest aggregate window; 0: no history ring.
    pub fn longest_ms(&self) -> i64 {
        self.aggs.iter().map(|a| a.window_ms).max().unwrap_or(0)
    }
}

/// One custom rule compiled alone (the tests'; config.rs compiles a rule set into shared Needs).
#[cfg(test)]
#[derive(Debug)]
pub struct Compiled {
    pub cond: Cond,
    pub lists: Vec<String>,
    pub needs: Needs,
}

type Res<T> = Result<T, String>;

/// Compile a rule's `when` alone; Err says what the native engine does not support.
#[cfg(test)]
pub fn compile(when: &Value) -> Res<Compiled> {
    let mut needs = Needs::default();
    let cond = compile_into(when, &mut needs)?;
    Ok(Compiled {
        cond,
        lists: needs.lists.clone(),
        needs,
    })
}

/// Compile a rule's `when`, adding what it reads to `needs` (shared by a rule set's rules).
pub fn compile_into(when: &Value, needs: &mut Needs) -> Res<Cond> {
    cond(when, needs, 0)
}

const MAX_DEPTH: usize = 64; // far past the language's 6: only a guard against stack overflow

fn cond(v: &Value, needs: &mut Needs, depth: usize) -> Res<Cond> {
    let Some(obj) = v.as_object() else {
        return Err(format!("a condition that is not an object ({})", short(v)));
    };
    if depth > MAX_DEPTH {
        return Err("a condition nested too deep".into());
    }
    for (key, make) in [("all", 0), ("any", 1), ("not", 2)] {
        let Some(inner) = obj.get(key) else { continue };
        only(obj, &[key])?;
        return Ok(match make {
            2 => Cond::Not(Box::new(cond(inner, needs, depth + 1)?)),
            _ => {
                let items = inner
                    .as_array()
                    .ok_or_else(|| format!("{key} without a list of conditions"))?;
                let parts = items
                    .iter()
                    .map(|c| cond(c, needs, depth + 1))
                    .collect::<Res<Vec<_>>>()?;
                if make == 0 {
                    Cond::All(parts)
                } else {
                    Cond::Any(parts)
                }
            }
        });
    }
    let op = obj.get("op").and_then(Value::as_str).unwrap_or("");
    if obj.contains_key("agg") {
        return crate::aggregate::compile(obj, op, needs);
    }
    if let Some(name) = obj.get("feature") {
        only(obj, &["feature", "op", "value", "as"])?;
        let num = match name.as_str().unwrap_or("") {
            "distance_km" => Num::DistanceKm,
            "speed_kmh" => Num::SpeedKmh,
            "amount_ratio" => Num::AmountRatio,
            "since_prev_s" => Num::SincePrevS,
            "model_score" => Num::ModelScore,
            f @ ("new_country" | "new_merchant" | "new_category") => {
                let which = SEEN.iter().position(|s| *s == f).unwrap_or(0);
                let value = match obj.get("value") {
                    Some(Value::Bool(b)) => *b,
                    _ => return Err(format!("feature {f} with a non-boolean value")),
                };
                let negated = match op {
                    "eq" => false,
                    "ne" => true,
                    _ => return Err(format!("operator {op} on {f} (not known natively)")),
                };
                needs.seen[which] = true;
                return Ok(Cond::New(which, negated, value));
            }
            _ => return Err(format!("feature {} (not known natively)", short(name))),
        };
        return Ok(Cond::Num(num, num_op(op, obj.get("value"))?));
    }
    let field = obj.get("field").and_then(Value::as_str);
    let Some(field) = field else {
        return Err(format!("a condition of unknown shape ({})", short(v)));
    };
    if let Some(list) = obj.get("list") {
        only(obj, &["field", "op", "list", "as"])?;
        let text = match text_field(field) {
            Some(t) if t != Text::Weekday => t,
            _ => return Err(format!("a list on field {field} (not supported natively)")),
        };
        let name = list.as_str().ok_or("a list name that is not a string")?;
        let negated = match op {
            "in_list" => false,
            "not_in_list" => true,
            _ => return Err(format!("operator {op} with a list (not known natively)")),
        };
        if !needs.lists.iter().any(|l| l == name) {
            needs.lists.push(name.to_owned());
        }
        return Ok(Cond::List(text, name.to_owned(), negated));
    }
    only(obj, &["field", "op", "value", "as"])?;
    let value = obj.get("value");
    let num = match field {
        "amount" => Some(Num::Amount),
        "amount_usd" => Some(Num::AmountUsd),
        "hour" => Some(Num::Hour),
        _ => None,
    };
    if let Some(num) = num {
        return Ok(Cond::Num(num, num_op(op, value)?));
    }
    match text_field(field) {
        Some(text) => Ok(Cond::Text(text, text_op(op, field, value)?)),
        None => Err(format!("field {field} (not known natively)")),
    }
}

pub fn only(obj: &Map<String, Value>, allowed: &[&str]) -> Res<()> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("key {k:?} in a condition (not known natively)")),
        None => Ok(()),
    }
}

pub fn short(v: &Value) -> String {
    let s = v.to_string();
    let s = s.trim_matches('"');
    s.chars().take(60).collect()
}

fn text_field(name: &str) -> Option<Text> {
    Some(match name {
        "currency" => Text::Currency,
        "merchant_id" => Text::MerchantId,
        "merchant_category" => Text::MerchantCategory,
        "channel" => Text::Channel,
        "country" => Text::Country,
        "city" => Text::City,
        "card_id" => Text::CardId,
        "account_id" => Text::AccountId,
        "weekday" => Text::Weekday,
        _ => return None,
    })
}

fn number(v: Option<&Value>, op: &str) -> Res<f64> {
    match v {
        Some(Value::Number(n)) => n.as_f64().ok_or_else(|| format!("{op} on {n}")),
        other => Err(format!(
            "operator {op} with a non-number value ({})",
            other.map(short).unwrap_or_default()
        )),
    }
}

fn numbers(v: Option<&Value>, op: &str) -> Res<Vec<f64>> {
    let items = v
        .and_then(Value::as_array)
        .ok_or_else(|| format!("operator {op} without a list of values"))?;
    items.iter().map(|x| number(Some(x), op)).collect()
}

pub fn num_op(op: &str, v: Option<&Value>) -> Res<NumOp> {
    let order = match op {
        "eq" => Order::Eq,
        "ne" => Order::Ne,
        "lt" => Order::Lt,
        "le" => Order::Le,
        "gt" => Order::Gt,
        "ge" => Order::Ge,
        "in" | "not_in" => return Ok(NumOp::In(numbers(v, op)?, op == "not_in")),
        "between" => {
            return match numbers(v, op)?.as_slice() {
                [lo, hi] => Ok(NumOp::Between(*lo, *hi)),
                _ => Err("operator between without [low, high]".into()),
            }
        }
        _ => return Err(format!("operator {op} on a number (not known natively)")),
    };
    Ok(NumOp::Cmp(order, number(v, op)?))
}

fn string(v: Option<&Value>, op: &str, field: &str) -> Res<String> {
    match v {
        Some(Value::String(s)) => Ok(s.clone()),
        other => Err(format!(
            "operator {op} on {field} with a non-string value ({})",
            other.map(short).unwrap_or_default()
        )),
    }
}

fn text_op(op: &str, field: &str, v: Option<&Value>) -> Res<TextOp> {
    Ok(match op {
        "eq" | "ne" => TextOp::Eq(string(v, op, field)?, op == "ne"),
        "starts_with" => TextOp::StartsWith(string(v, op, field)?),
        "in" | "not_in" => {
            let items = v
                .and_then(Value::as_array)
                .ok_or_else(|| format!("operator {op} on {field} without a list of values"))?;
            let set = items
                .iter()
                .map(|x| string(Some(x), op, field))
                .collect::<Res<HashSet<_>>>()?;
            TextOp::In(set, op == "not_in")
        }
        _ => return Err(format!("operator {op} on {field} (not known natively)")),
    })
}

#[cfg(test)]
#[path = "rules_tests.rs"]
pub mod tests;
