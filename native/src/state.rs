//! The per-card detection state, the same `cs1` / `cs2` JSON arrays the Python engine stores in
//! Redis (bridge/detection/state.py defines both layouts; this writes them byte for byte).

use serde::Deserialize;

use crate::floatfmt::write_f64;

pub const RECENT_MAX: usize = 64;
pub const TINY_MAX: usize = 16;
pub const STATS_CAP: i64 = 200;
pub const RATE_CAP: i64 = 1_000;
pub const NO_TIME: i64 = -(1i64 << 62);
pub const HIST_MAX: usize = 32;
pub const SEEN_MAX: usize = 16;
const UINT32: i64 = 1 << 32;

/// cs2's ten arrays after the cs1 values (all empty for a cs1 state): the history ring (event
/// times ascending, amounts in US dollars, then crc32 of merchant, country, city, category,
/// channel, each parallel to `ms` or empty) and the seen countries, merchants, categories.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct History {
    pub ms: Vec<i64>,
    pub amt: Vec<f64>,
    pub cols: [Vec<i64>; 5],
    pub seen: [Vec<i64>; 3],
}

/// The history of a state without any (cs1).
pub static NO_HISTORY: History = History {
    ms: Vec::new(),
    amt: Vec::new(),
    cols: [Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new()],
    seen: [Vec::new(), Vec::new(), Vec::new()],
};

impl History {
    /// None for an empty history: a cs1 state carries no allocation for it.
    pub fn boxed(self) -> Option<Box<History>> {
        if self.is_empty() {
            None
        } else {
            Some(Box::new(self))
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ms.is_empty()
            && self.amt.is_empty()
            && self.cols.iter().all(Vec::is_empty)
            && self.seen.iter().all(Vec::is_empty)
    }

    /// As _consistent_history(): bounded, parallel or empty, ascending, crc32 values.
    fn consistent(&self) -> bool {
        let n = self.ms.len();
        n <= HIST_MAX
            && [self.amt.len()]
                .into_iter()
                .chain(self.cols.iter().map(Vec::len))
                .all(|len| len == 0 || len == n)
            && self.ms.windows(2).all(|w| w[0] <= w[1])
            && self.amt.iter().all(|x| x.is_finite())
            && self.seen.iter().all(|xs| {
                xs.len() <= SEEN_MAX && xs.iter().enumerate().all(|(i, x)| !xs[..i].contains(x))
            })
            && self
                .cols
                .iter()
                .chain(self.seen.iter())
                .flatten()
                .all(|x| (0..UINT32).contains(x))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct CardState {
    pub last_ms: i64,
    pub geo_ms: i64,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub city: String,
    pub recent_ms: Vec<i64>,
    pub recent_amt: Vec<f64>,
    pub tiny_ms: Vec<i64>,
    pub tiny_merchants: Vec<i64>,
    pub since_ms: i64,
    pub seen: i64,
    pub n: i64,
    pub log_mean: f64,
    pub log_m2: f64,
    /// Custom rules' history (cs2), never Some(empty); None: the state is written as cs1.
    pub ext: Option<Box<History>>,
}

impl CardState {
    pub fn history(&self) -> &History {
        self.ext.as_deref().unwrap_or(&NO_HISTORY)
    }
}

impl Default for CardState {
    fn default() -> Self {
        CardState {
            last_ms: NO_TIME,
            geo_ms: NO_TIME,
            lat: None,
            lon: None,
            city: String::new(),
            recent_ms: Vec::new(),
            recent_amt: Vec::new(),
            tiny_ms: Vec::new(),
            tiny_merchants: Vec::new(),
            since_ms: NO_TIME,
            seen: 0,
            n: 0,
            log_mean: 0.0,
            log_m2: 0.0,
            ext: None,
        }
    }
}

type Wire = (
    String,
    i64,
    i64,
    Option<f64>,
    Option<f64>,
    String,
    Vec<i64>,
    Vec<f64>,
    Vec<i64>,
    Vec<i64>,
    i64,
    i64,
    i64,
    f64,
    f64,
);

/// cs2: the cs1 values, then the ten history arrays (exactly 25 elements).
#[derive(Deserialize)]
struct Wire2(
    String,
    i64,
    i64,
    Option<f64>,
    Option<f64>,
    String,
    Vec<i64>,
    Vec<f64>,
    Vec<i64>,
    Vec<i64>,
    i64,
    i64,
    i64,
    f64,
    f64,
    Vec<i64>,
    Vec<f64>,
    Vec<i64>,
    Vec<i64>,
    Vec<i64>,
    Vec<i64>,
    Vec<i64>,
    Vec<i64>,
    Vec<i64>,
    Vec<i64>,
);

/// Parse the canonical layouts (cs1, cs2 with all its arrays); None when the bytes are anything
/// else (Python then normalises them or decides the card).
pub fn decode(raw: &[u8]) -> Option<CardState> {
    if raw.starts_with(b"[\"cs2\"") {
        return decode2(raw);
    }
    let w: Wire = match serde_json::from_slice(raw) {
        Ok(w) => w,
        Err(_) => return decode2(raw), // e.g. a cs2 array with spaces
    };
    if w.0 != "cs1" {
        return None;
    }
    Some(CardState {
        last_ms: w.1,
        geo_ms: w.2,
        lat: w.3,
        lon: w.4,
        city: w.5,
        recent_ms: w.6,
        recent_amt: w.7,
        tiny_ms: w.8,
        tiny_merchants: w.9,
        since_ms: w.10,
        seen: w.11,
        n: w.12,
        log_mean: w.13,
        log_m2: w.14,
        ext: None,
    })
}

fn decode2(raw: &[u8]) -> Option<CardState> {
    let w: Wire2 = serde_json::from_slice(raw).ok()?;
    if w.0 != "cs2" {
        return None;
    }
    Some(CardState {
        last_ms: w.1,
        geo_ms: w.2,
        lat: w.3,
        lon: w.4,
        city: w.5,
        recent_ms: w.6,
        recent_amt: w.7,
        tiny_ms: w.8,
        tiny_merchants: w.9,
        since_ms: w.10,
        seen: w.11,
        n: w.12,
        log_mean: w.13,
        log_m2: w.14,
        ext: History {
            ms: w.15,
            amt: w.16,
            cols: [w.17, w.18, w.19, w.20, w.21],
            seen: [w.22, w.23, w.24],
        }
        .boxed(),
    })
}

/// The invariants decode_state() checks in Python; a state failing them counts as fresh.
pub fn consistent(s: &CardState) -> bool {
    s.recent_ms.len() == s.recent_amt.len()
        && s.recent_ms.len() <= RECENT_MAX
        && s.tiny_ms.len() == s.tiny_merchants.len()
        && s.tiny_ms.len() <= TINY_MAX
        && s.lat.is_none() == s.lon.is_none()
        && s.n >= 0
        && s.seen >= 0
        && s.log_m2 >= 0.0
        && s.log_mean.is_finite()
        && s.log_m2.is_finite()
        && s.history().consistent()
}

fn write_opt(out: &mut Vec<u8>, x: Option<f64>) {
    match x {
        Some(v) => write_f64(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

pub fn write_int(out: &mut Vec<u8>, x: i64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    let mut v = x.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if x < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[at..]);
}

fn write_ints(out: &mut Vec<u8>, xs: &[i64]) {
    out.push(b'[');
    for (i, x) in xs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_int(out, *x);
    }
    out.push(b']');
}

pub fn encode(s: &CardState) -> Vec<u8> {
    let mut out = Vec::with_capacity(160);
    encode_into(&mut out, s);
    out
}

pub fn encode_into(out: &mut Vec<u8>, s: &CardState) {
    let out = &mut *out;
    let cs2 = s.ext.is_some(); // as encode_state(): cs2 only with some history to carry
    out.extend_from_slice(if cs2 { b"[\"cs2\"," } else { b"[\"cs1\"," });
    write_int(out, s.last_ms);
    out.push(b',');
    write_int(out, s.geo_ms);
    out.push(b',');
    write_opt(out, s.lat);
    out.push(b',');
    write_opt(out, s.lon);
    out.push(b',');
    if s.city
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        out.push(b'"');
        out.extend_from_slice(s.city.as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(
            serde_json::to_string(&s.city)
                .unwrap_or_default()
                .as_bytes(),
        );
    }
    out.push(b',');
    write_ints(out, &s.recent_ms);
    out.push(b',');
    write_floats(out, &s.recent_amt);
    out.push(b',');
    write_ints(out, &s.tiny_ms);
    out.push(b',');
    write_ints(out, &s.tiny_merchants);
    for x in [s.since_ms, s.seen, s.n] {
        out.push(b',');
        write_int(out, x);
    }
    out.push(b',');
    write_f64(out, s.log_mean);
    out.push(b',');
    write_f64(out, s.log_m2);
    if let Some(h) = &s.ext {
        out.push(b',');
        write_ints(out, &h.ms);
        out.push(b',');
        write_floats(out, &h.amt);
        for xs in h.cols.iter().chain(h.seen.iter()) {
            out.push(b',');
            write_ints(out, xs);
        }
    }
    out.push(b']');
}

fn write_floats(out: &mut Vec<u8>, xs: &[f64]) {
    out.push(b'[');
    for (i, x) in xs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_f64(out, *x);
    }
    out.push(b']');
}
