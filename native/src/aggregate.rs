//! Aggregate leaves (`agg: count/sum/avg/max/distinct` over a window, optionally `where`-filtered)
//! compiled from their document form; anything outside common/rulelang's validated shapes refuses.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::rules::{num_op, only, short, AggKind, AggSpec, Cond, Needs, NumOp, Where, COLUMNS};

type Res<T> = Result<T, String>;

const MAX_WHERE_DEPTH: usize = 64; // only a guard against stack overflow (the language allows 6)

/// Compile an aggregate leaf (`obj` has `agg`) into `needs`; the Cond reads it by index.
pub fn compile(obj: &Map<String, Value>, op: &str, needs: &mut Needs) -> Res<Cond> {
    only(obj, &["agg", "of", "window", "where", "op", "value", "as"])?;
    let name = obj.get("agg").and_then(Value::as_str).unwrap_or("");
    let of = obj.get("of");
    let of_name = of.and_then(Value::as_str);
    let kind = match (name, of_name) {
        ("count", None) if of.is_none() => AggKind::Count,
        ("sum", Some("amount_usd")) => AggKind::Sum,
        ("avg", Some("amount_usd")) => AggKind::Avg,
        ("max", Some("amount_usd")) => AggKind::Max,
        ("distinct", Some(f @ ("merchant_id" | "country" | "city" | "merchant_category"))) => {
            AggKind::Distinct(column(f).unwrap_or(0))
        }
        _ => {
            return Err(format!(
                "agg {} of {} (not known natively)",
                short(obj.get("agg").unwrap_or(&Value::Null)),
                of.map(short).unwrap_or_else(|| "nothing".into())
            ))
        }
    };
    let secs = window_seconds(obj.get("window"))?;
    let filter = match obj.get("where") {
        Some(w) => Some(where_(w, needs, 0)?),
        None => None,
    };
    let test = num_op(op, obj.get("value"))?;
    if let Some(f) = of_name {
        needs.keep[column(f).unwrap_or(0)] = true;
    }
    let mut key = name.to_owned();
    if let Some(f) = of_name {
        key.push_str(&format!("({f})"));
    }
    key.push_str(&format!("[{secs}s]"));
    if let Some(w) = obj.get("where") {
        key.push_str(" where ");
        key.push_str(&where_text(w));
    }
    let index = match needs.aggs.iter().position(|a| a.key == key) {
        Some(i) => i,
        None => {
            needs.aggs.push(AggSpec {
                kind,
                window_ms: secs * 1000,
                filter,
                key,
            });
            needs.aggs.len() - 1
        }
    };
    Ok(Cond::Agg(
        index,
        test,
        matches!(kind, AggKind::Sum | AggKind::Avg),
    ))
}

fn column(field: &str) -> Option<usize> {
    COLUMNS.iter().position(|c| *c == field)
}

/// As model.window_seconds on a validated window: whole seconds, or digits and one of s m h d.
fn window_seconds(v: Option<&Value>) -> Res<i64> {
    let secs = match v {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) if s.len() >= 2 => {
            let (digits, unit) = s.split_at(s.len() - 1);
            let scale = match unit {
                "s" => Some(1),
                "m" => Some(60),
                "h" => Some(3600),
                "d" => Some(86_400),
                _ => None,
            };
            match (digits.bytes().all(|b| b.is_ascii_digit()), scale) {
                (true, Some(k)) => digits.parse::<i64>().ok().and_then(|d| d.checked_mul(k)),
                _ => None,
            }
        }
        _ => None,
    };
    match secs {
        Some(s) if (1..=7 * 86_400).contains(&s) => Ok(s),
        _ => Err(format!(
            "window {} (not known natively)",
            v.map(short).unwrap_or_default()
        )),
    }
}

fn where_(v: &Value, needs: &mut Needs, depth: usize) -> Res<Where> {
    let Some(obj) = v.as_object() else {
        return Err(format!("a where that is not an object ({})", short(v)));
    };
    if depth > MAX_WHERE_DEPTH {
        return Err("a where nested too deep".into());
    }
    if let Some(inner) = obj.get("not") {
        only(obj, &["not"])?;
        return Ok(Where::Not(Box::new(where_(inner, needs, depth + 1)?)));
    }
    for key in ["all", "any"] {
        let Some(inner) = obj.get(key) else { continue };
        only(obj, &[key])?;
        let items = inner
            .as_array()
            .ok_or_else(|| format!("where {key} without a list of conditions"))?;
        let parts = items
            .iter()
            .map(|c| where_(c, needs, depth + 1))
            .collect::<Res<Vec<_>>>()?;
        return Ok(if key == "all" {
            Where::All(parts)
        } else {
            Where::Any(parts)
        });
    }
    only(obj, &["field", "op", "value"])?;
    let field = obj.get("field").and_then(Value::as_str).unwrap_or("");
    let op = obj.get("op").and_then(Value::as_str).unwrap_or("");
    let Some(col) = column(field) else {
        return Err(format!("where on field {field} (not known natively)"));
    };
    needs.keep[col] = true;
    if col == 0 {
        return Ok(Where::Amount(num_op(op, obj.get("value"))?));
    }
    // strings are stored as crc32: only (in)equality and membership can be answered from them
    let crc = |x: &Value| match x {
        Value::String(s) => Ok(crc32fast::hash(s.as_bytes()) as i64),
        _ => Err(format!("where {op} on {field} with a non-string value")),
    };
    let value = obj.get("value").unwrap_or(&Value::Null);
    let (values, negated): (HashSet<i64>, bool) = match op {
        "eq" | "ne" => ([crc(value)?].into_iter().collect(), op == "ne"),
        "in" | "not_in" => (
            value
                .as_array()
                .ok_or_else(|| format!("where {op} on {field} without a list of values"))?
                .iter()
                .map(crc)
                .collect::<Res<_>>()?,
            op == "not_in",
        ),
        _ => {
            return Err(format!(
                "where operator {op} on {field} (not known natively)"
            ))
        }
    };
    Ok(Where::Crc(col, values, negated))
}

/// plan.where_text for plain numbers: `amount_usd lt 2`, `all(channel eq "online",...)`.
fn where_text(v: &Value) -> String {
    let obj = v.as_object();
    let get = |k: &str| obj.and_then(|o| o.get(k));
    for key in ["all", "any"] {
        if let Some(items) = get(key).and_then(Value::as_array) {
            let parts: Vec<String> = items.iter().map(where_text).collect();
            return format!("{key}({})", parts.join(","));
        }
    }
    if let Some(inner) = get("not") {
        return format!("not({})", where_text(inner));
    }
    let text = |k: &str| get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let value = get("value").map(value_text).unwrap_or_default();
    format!("{} {} {value}", text("field"), text("op"))
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(value_text).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Number(n) => match n.as_f64() {
            // plan.num_text: whole numbers as integer digits; others by shortest round-trip
            Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", x as i64),
            Some(x) => format!("{x}"),
            None => n.to_string(),
        },
        other => other.to_string(), // strings JSON-quoted, as json.dumps(ensure_ascii=False)
    }
}

/// Whether a `where` holds on history entry `i` (amounts exact; strings by crc32).
pub fn holds(w: &Where, amt: &[f64], cols: &[Vec<i64>; 5], i: usize) -> bool {
    match w {
        Where::All(parts) => parts.iter().all(|p| holds(p, amt, cols, i)),
        Where::Any(parts) => parts.iter().any(|p| holds(p, amt, cols, i)),
        Where::Not(inner) => !holds(inner, amt, cols, i),
        Where::Amount(op) => {
            let x = amt.get(i).copied().unwrap_or(f64::NAN); // kept: the plan reads it
            match op {
                NumOp::Cmp(order, v) => {
                    use crate::rules::Order::*;
                    match order {
                        Eq => x == *v,
                        Ne => x != *v,
                        Lt => x < *v,
                        Le => x <= *v,
                        Gt => x > *v,
                        Ge => x >= *v,
                    }
                }
                NumOp::In(values, negated) => values.contains(&x) != *negated,
                NumOp::Between(lo, hi) => *lo <= x && x <= *hi,
            }
        }
        Where::Crc(col, values, negated) => {
            let x = cols[col - 1].get(i).copied().unwrap_or(-1);
            values.contains(&x) != *negated
        }
    }
}
