//! Quiet-event detection: the Python engine's transitions, and a conservative "might fire" gate.
//!
//! An event for which any rule might fire is handed to the Python engine (the reference), so only
//! events that certainly raise nothing are decided here. Each gate is a necessary condition of its
//! rule firing, with a small margin where floating-point detail could matter.

use crate::config::{Rules, Velocity};
use crate::eval::{self, Facts, Lists, Tri};
use crate::event::Event;
use crate::history;
use crate::state::{CardState, History, RATE_CAP, RECENT_MAX, STATS_CAP, TINY_MAX};

const MARGIN: f64 = 1e-6; // relative slack on float thresholds: near a limit, ask Python
const PRIOR_SEEN: f64 = 2.0;
const PRIOR_S: f64 = 1200.0;
const EARTH_RADIUS_KM: f64 = 6371.0088;

const UNKNOWN_CITY: &str = "UNKNOWN_IP_ADDR";

pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let a = ((p2 - p1) * 0.5).sin();
    let b = ((lon2 - lon1).to_radians() * 0.5).sin();
    let h = a * a + p1.cos() * p2.cos() * b * b;
    2.0 * EARTH_RADIUS_KM * h.min(1.0).sqrt().asin()
}

fn chance(r: &Velocity, count: i64, prev: &CardState, newest: i64) -> f64 {
    let span_s = if prev.seen != 0 {
        (newest - prev.since_ms) as f64 / 1000.0
    } else {
        0.0
    };
    // as checks.chance: the window's other count-1 transactions are not the card's usual pace
    let usual = (prev.seen - (count - 1)).max(0);
    let lam = r.window_s as f64 * (usual as f64 + PRIOR_SEEN) / (span_s + PRIOR_S);
    let mut term = (-lam).exp();
    let mut cdf = term;
    for i in 1..(count - 1) {
        term *= lam / i as f64;
        cdf += term;
    }
    (1.0 - cdf).max(0.0)
}

fn above(x: f64, limit: f64) -> bool {
    x > limit - limit.abs() * MARGIN
}

/// `quiet` under the live rules `r`, and only if no rule of the shadow set `gate` can fire either:
/// the shadow set is judged on the same state; it keeps no state, so none is built for it.
pub fn quiet_gated(
    r: &Rules,
    gate: Option<&Rules>,
    lists: Option<&Lists>,
    ev: &Event,
    prev: &CardState,
) -> Option<CardState> {
    let Some(g) = gate else {
        return quiet(r, lists, ev, prev);
    };
    let live = silent(r, lists, ev, prev)?;
    silent(g, lists, ev, prev)?; // the shadow set might fire: Python decides
    Some(next_state(r, prev, ev, live))
}

/// Return the card's next state if no rule can fire on `ev`, else None (the Python engine decides).
pub fn quiet(r: &Rules, lists: Option<&Lists>, ev: &Event, prev: &CardState) -> Option<CardState> {
    let s = silent(r, lists, ev, prev)?;
    Some(next_state(r, prev, ev, s))
}

/// What `silent` computed on its way that the card's next state is made of.
struct Silent {
    amount: f64,
    newest: i64,
    recent_ms: Vec<i64>,
    recent_amt: Vec<f64>,
    moved: bool,
    ext: Option<Box<History>>,
}

/// Some if no rule of `r` can fire on `ev`. The shadow gate asks only this: its set keeps no state,
/// so building a next state for it would be work thrown away.
fn silent(r: &Rules, lists: Option<&Lists>, ev: &Event, prev: &CardState) -> Option<Silent> {
    let t = ev.t_ms;
    // as Detector.evaluate: in US dollars, a currency without a rate as it is
    let amount = ev.amount * r.currency.get(ev.currency()).copied().unwrap_or(1.0);
    let newest = if t > prev.last_ms { t } else { prev.last_ms };
    let velocity_ms = r.velocity.window_s * 1000;
    let (recent_ms, recent_amt) = slide_window(prev, t, newest, amount, velocity_ms);
    // high_amount
    if r.high_amount.enabled && above(amount, r.high_amount.threshold) {
        return None;
    }
    // card_testing: enough probes in the window is necessary (merchant variety is left to Python)
    let c = &r.card_testing;
    if c.enabled && !prev.tiny_ms.is_empty() && above(amount, c.large_at_least) {
        let start = t - c.window_s * 1000;
        let probes = prev
            .tiny_ms
            .iter()
            .filter(|&&ms| start < ms && ms <= t)
            .count() as i64;
        if probes >= c.min_tiny {
            return None;
        }
    }
    // amount_anomaly: far above the card's typical spend is necessary
    let a = &r.amount_anomaly;
    if a.enabled && above(amount, a.min_amount) && prev.n >= a.min_history {
        let ratio = amount / prev.log_mean.exp();
        if !ratio.is_finite() || above(ratio, a.multiplier) {
            return None;
        }
    }
    // impossible_travel
    let mut moved = false;
    if let (Some(lat), Some(lon)) = (ev.lat, ev.lon) {
        moved = true;
        let tr = &r.impossible_travel;
        if let (true, Some(plat), Some(plon)) = (tr.enabled, prev.lat, prev.lon) {
            if !(lat == plat && lon == plon) {
                let km = haversine_km(plat, plon, lat, lon);
                if km != 0.0 && above(km, tr.min_distance_km) {
                    let hours = (t - prev.geo_ms).unsigned_abs() as f64 / 3_600_000.0;
                    if hours <= 0.0 || above(km / hours, tr.max_speed_kmh) {
                        return None;
                    }
                }
            }
        }
    }
    // unknown_location
    let u = &r.unknown_location;
    if u.enabled
        && (ev.city() == UNKNOWN_CITY
            || u.deny_cities.iter().any(|d| d == ev.city())
            || (ev.lat.is_none() && u.flag_missing_coords))
    {
        return None;
    }
    // velocity, over the slid window when this event is in it
    let v = &r.velocity;
    let count = recent_ms.len() as i64;
    if v.enabled && t > newest - velocity_ms && count >= 2 {
        let total: f64 = recent_amt.iter().fold(0.0, |s, x| s + x);
        if above(total, v.max_sum) {
            return None;
        }
        if count >= v.max_count {
            if v.max_chance >= 1.0 {
                return None;
            }
            let p = chance(v, count, prev, newest);
            if p <= v.max_chance * (1.0 + MARGIN) + 1e-300 {
                return None;
            }
        }
    }
    if r.ml_anomaly.enabled {
        return None;
    }
    // custom rules: quiet only if each one is certainly false on this event; their history
    // (cs2) slides with every event, as custom.observe builds it before the rules read it
    let mut ext = None;
    if !r.custom.is_empty() {
        let (next, alone) = history::observe(&r.needs, prev.history(), ev, amount, t, newest);
        let ring = alone.as_ref().unwrap_or(&next);
        let mut facts = Facts::new(ev, amount, prev, lists).with_history(&r.needs.aggs, ring);
        if r.custom
            .iter()
            .any(|c| eval::eval(c, &mut facts) != Tri::False)
        {
            return None;
        }
        ext = next.boxed();
    }
    Some(Silent {
        amount,
        newest,
        recent_ms,
        recent_amt,
        moved,
        ext,
    })
}

fn next_state(r: &Rules, prev: &CardState, ev: &Event, s: Silent) -> CardState {
    let Silent {
        amount,
        newest,
        recent_ms,
        recent_amt,
        moved,
        ext,
    } = s;
    let t = ev.t_ms;
    let tiny_below = r.card_testing.tiny_below;
    let (tiny_ms, tiny_merchants) = if !prev.tiny_ms.is_empty() || amount < tiny_below {
        carry_probes(
            prev,
            ev,
            amount,
            t,
            newest - r.card_testing.window_s * 1000,
            tiny_below,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let (geo_ms, lat, lon, city) = if moved && t >= prev.geo_ms {
        (t, ev.lat, ev.lon, ev.city().to_owned())
    } else {
        (prev.geo_ms, prev.lat, prev.lon, prev.city.clone())
    };
    let (n, log_mean, log_m2) = if amount >= tiny_below {
        learn_amount(prev, amount)
    } else {
        (prev.n, prev.log_mean, prev.log_m2)
    };
    let mut since = if prev.seen == 0 || t < prev.since_ms {
        t
    } else {
        prev.since_ms
    };
    let mut seen = prev.seen + 1;
    if seen >= RATE_CAP {
        seen = seen.div_euclid(2);
        since = newest - (newest - since).div_euclid(2);
    }
    CardState {
        last_ms: newest,
        geo_ms,
        lat,
        lon,
        city,
        recent_ms,
        recent_amt,
        tiny_ms,
        tiny_merchants,
        since_ms: since,
        seen,
        n,
        log_mean,
        log_m2,
        ext,
    }
}

fn slide_window(
    prev: &CardState,
    t: i64,
    newest: i64,
    amount: f64,
    window_ms: i64,
) -> (Vec<i64>, Vec<f64>) {
    let cutoff = newest - window_ms;
    let (times, amounts) = (&prev.recent_ms, &prev.recent_amt);
    if times.is_empty() || *times.last().unwrap() <= cutoff {
        return if t > cutoff {
            (vec![t], vec![amount])
        } else {
            (Vec::new(), Vec::new())
        };
    }
    let start = times.iter().take_while(|&&ms| ms <= cutoff).count();
    let mut times = times[start..].to_vec();
    let mut amounts = amounts[start..].to_vec();
    if t > cutoff {
        if times.is_empty() || t >= *times.last().unwrap() {
            times.push(t);
            amounts.push(amount);
        } else {
            let at = times.partition_point(|&ms| ms <= t); // bisect_right
            times.insert(at, t);
            amounts.insert(at, amount);
        }
        if times.len() > RECENT_MAX {
            times.remove(0);
            amounts.remove(0);
        }
    }
    (times, amounts)
}

fn carry_probes(
    prev: &CardState,
    ev: &Event,
    amount: f64,
    t: i64,
    cutoff: i64,
    tiny_below: f64,
) -> (Vec<i64>, Vec<i64>) {
    let tiny = amount < tiny_below;
    if prev.tiny_ms.is_empty() && !tiny {
        return (Vec::new(), Vec::new());
    }
    let mut times = Vec::new();
    let mut merchants = Vec::new();
    for (ms, m) in prev.tiny_ms.iter().zip(&prev.tiny_merchants) {
        if *ms > cutoff {
            times.push(*ms);
            merchants.push(*m);
        }
    }
    if tiny && t > cutoff {
        times.push(t);
        merchants.push(crc32fast::hash(ev.merchant_id().as_bytes()) as i64);
        if times.len() > TINY_MAX {
            times.remove(0);
            merchants.remove(0);
        }
    }
    (times, merchants)
}

fn learn_amount(prev: &CardState, amount: f64) -> (i64, f64, f64) {
    let (n, mut m2) = (prev.n, prev.log_m2);
    let k = if n >= STATS_CAP {
        m2 *= (STATS_CAP - 1) as f64 / STATS_CAP as f64;
        STATS_CAP
    } else {
        n + 1
    };
    let x = amount.ln();
    let delta = x - prev.log_mean;
    let log_mean = prev.log_mean + delta / k as f64;
    (k, log_mean, m2 + delta * (x - log_mean))
}
