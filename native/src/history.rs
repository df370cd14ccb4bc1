//! The cs2 per-card history: the ring slid with one event, seen values, and aggregates over them,
//! exactly bridge/detection/history.py's semantics (its module docstring is the contract).

use crate::aggregate::holds;
use crate::event::Event;
use crate::rules::{AggKind, AggSpec, Needs};
use crate::state::{History, HIST_MAX, SEEN_MAX};

pub fn crc(s: &str) -> i64 {
    crc32fast::hash(s.as_bytes()) as i64
}

/// The event's values of the seen features, in SEEN order (as event_facts: no country reads "").
fn seen_values(ev: &Event) -> [&str; 3] {
    [
        ev.country().unwrap_or(""),
        ev.merchant_id(),
        ev.merchant_category(),
    ]
}

/// Whether the event's value of seen feature `which` is absent from the card's remembered ones.
pub fn is_new(prev: &History, ev: &Event, which: usize) -> bool {
    !prev.seen[which].contains(&crc(seen_values(ev)[which]))
}

/// The card's next history after `ev` (custom.observe), and, for a late event older than all
/// the ring keeps, the one-entry ring its aggregates read instead.
pub fn observe(
    needs: &Needs,
    prev: &History,
    ev: &Event,
    amount: f64,
    t: i64,
    newest: i64,
) -> (History, Option<History>) {
    let mut next = History::default();
    let mut alone = None;
    let longest = needs.longest_ms();
    if longest > 0 {
        let keep = &needs.keep;
        let texts = [
            ev.merchant_id(),
            ev.country().unwrap_or(""),
            ev.city(),
            ev.merchant_category(),
            ev.channel(),
        ];
        let mut row = [0i64; 5];
        for (c, text) in texts.iter().enumerate() {
            if keep[c + 1] {
                row[c] = crc(text);
            }
        }
        let inside = slide(&mut next, prev, keep, longest, t, newest, amount, &row);
        if !inside {
            alone = Some(History {
                ms: vec![t],
                amt: vec![amount],
                cols: row.map(|v| vec![v]),
                seen: Default::default(),
            });
        }
    }
    let values = seen_values(ev);
    for (i, want) in needs.seen.iter().enumerate() {
        if *want {
            next.seen[i] = remember(&prev.seen[i], crc(values[i]));
        }
    }
    (next, alone)
}

/// history.slide_ring over ring_of(prev): fills `next`'s ring; returns whether the event is in it.
#[allow(clippy::too_many_arguments)]
fn slide(
    next: &mut History,
    prev: &History,
    keep: &[bool; 6],
    longest: i64,
    t: i64,
    newest: i64,
    amount: f64,
    row: &[i64; 5],
) -> bool {
    let n = prev.ms.len();
    // a column the plan needs but the stored ring lacks: start afresh, never guess values
    let lacks =
        (keep[0] && prev.amt.len() != n) || (0..5).any(|c| keep[c + 1] && prev.cols[c].len() != n);
    let empty = History::default();
    let ring = if lacks { &empty } else { prev };
    let cutoff = newest - longest;
    let start = ring.ms.partition_point(|&ms| ms <= cutoff);
    next.ms = ring.ms[start..].to_vec();
    if keep[0] {
        next.amt = ring.amt[start..].to_vec();
    }
    for c in 0..5 {
        if keep[c + 1] {
            next.cols[c] = ring.cols[c][start..].to_vec();
        }
    }
    if t <= cutoff {
        return false;
    }
    let at = next.ms.partition_point(|&ms| ms <= t); // bisect_right
    next.ms.insert(at, t);
    if keep[0] {
        next.amt.insert(at, amount);
    }
    for c in 0..5 {
        if keep[c + 1] {
            next.cols[c].insert(at, row[c]);
        }
    }
    let excess = next.ms.len().saturating_sub(HIST_MAX);
    if excess > 0 {
        next.ms.drain(..excess);
        if keep[0] {
            next.amt.drain(..excess);
        }
        for c in 0..5 {
            if keep[c + 1] {
                next.cols[c].drain(..excess);
            }
        }
    }
    at >= excess
}

/// history.remember: `value` moved to the end (newest last), at most SEEN_MAX.
fn remember(seen: &[i64], value: i64) -> Vec<i64> {
    let mut out: Vec<i64> = seen.iter().copied().filter(|&v| v != value).collect();
    out.push(value);
    let drop = out.len().saturating_sub(SEEN_MAX);
    out.drain(..drop);
    out
}

/// history.aggregate over the ring's entries with t - window < ms <= t (the `where` applied).
pub fn aggregate(spec: &AggSpec, ring: &History, t: i64) -> f64 {
    let lo = ring.ms.partition_point(|&ms| ms <= t - spec.window_ms);
    let hi = ring.ms.partition_point(|&ms| ms <= t);
    let picked = (lo..hi).filter(|&i| match &spec.filter {
        Some(w) => holds(w, &ring.amt, &ring.cols, i),
        None => true,
    });
    match spec.kind {
        AggKind::Count => picked.count() as f64,
        AggKind::Distinct(col) => {
            let column = &ring.cols[col - 1];
            let mut values: Vec<i64> = picked.filter_map(|i| column.get(i).copied()).collect();
            values.sort_unstable();
            values.dedup();
            values.len() as f64
        }
        kind => {
            let (mut n, mut sum, mut max) = (0usize, 0.0f64, f64::NEG_INFINITY);
            for i in picked {
                let x = ring.amt.get(i).copied().unwrap_or(f64::NAN);
                n += 1;
                sum += x; // Python's sum(): left to right from 0
                if x > max {
                    max = x;
                }
            }
            match (n, kind) {
                (0, _) => 0.0,
                (_, AggKind::Sum) => sum,
                (_, AggKind::Avg) => sum / n as f64,
                _ => max,
            }
        }
    }
}

#[cfg(test)]
#[path = "history_tests.rs"]
mod tests;
