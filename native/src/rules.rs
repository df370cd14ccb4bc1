//! Custom rule conditions (docs/rules-language.md), compiled from their document form.
//!
//! Compiling is where the native engine refuses: anything it does not evaluate itself (an
//! aggregate, a `new_*` feature, an unknown key, field, operator or feature) is an Err naming it,
//! and the bridge then hands every event to Python. Nothing unknown is ever skipped.

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
}

/// One enabled custom rule, ready to evaluate.
#[derive(Debug)]
pub struct Compiled {
    pub cond: Cond,
    pub lists: Vec<String>,
}

type Res<T> = Result<T, String>;

/// Compile a rule's `when`; Err says what the native engine does not support, for the refusal.
pub fn compile(when: &Value) -> Res<Compiled> {
    let mut lists = Vec::new();
    let cond = cond(when, &mut lists, 0)?;
    Ok(Compiled { cond, lists })
}

const MAX_DEPTH: usize = 64; // far past the language's 6: only a guard against stack overflow

fn cond(v: &Value, lists: &mut Vec<String>, depth: usize) -> Res<Cond> {
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
            2 => Cond::Not(Box::new(cond(inner, lists, depth + 1)?)),
            _ => {
                let items = inner
                    .as_array()
                    .ok_or_else(|| format!("{key} without a list of conditions"))?;
                let parts = items
                    .iter()
                    .map(|c| cond(c, lists, depth + 1))
                    .collect::<Res<Vec<_>>>()?;
                if make == 0 {
                    Cond::All(parts)
                } else {
                    Cond::Any(parts)
                }
            }
        });
    }
    if let Some(kind) = obj.get("agg") {
        return Err(format!("agg {} (not supported natively)", short(kind)));
    }
    let op = obj.get("op").and_then(Value::as_str).unwrap_or("");
    if let Some(name) = obj.get("feature") {
        only(obj, &["feature", "op", "value", "as"])?;
        let num = match name.as_str().unwrap_or("") {
            "distance_km" => Num::DistanceKm,
            "speed_kmh" => Num::SpeedKmh,
            "amount_ratio" => Num::AmountRatio,
            "since_prev_s" => Num::SincePrevS,
            f @ ("new_country" | "new_merchant" | "new_category") => {
                return Err(format!("feature {f} (not supported natively)"));
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
        if !lists.iter().any(|l| l == name) {
            lists.push(name.to_owned());
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

fn only(obj: &Map<String, Value>, allowed: &[&str]) -> Res<()> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("key {k:?} in a condition (not known natively)")),
        None => Ok(()),
    }
}

fn short(v: &Value) -> String {
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

fn num_op(op: &str, v: Option<&Value>) -> Res<NumOp> {
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
