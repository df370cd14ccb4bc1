//! Schema-v1 events on the fast path: a strict subset of what the Python schema accepts.
//!
//! Anything outside the subset (escapes, non-ASCII text, unusual timestamps, any schema error)
//! returns None and the record takes the Python path, which gives the reference verdict or the
//! dead-letter reason. So the subset may only ever be narrower than msgspec's, never wider.

use serde::Deserialize;

use crate::floatfmt::write_f64;

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow)]
    txn_id: &'a str,
    ts: &'a str,
    card_id: &'a str,
    account_id: &'a str,
    amount: f64,
    currency: &'a str,
    merchant_id: &'a str,
    merchant_category: &'a str,
    city: &'a str,
    #[serde(default, borrow)]
    country: Option<&'a str>,
    #[serde(default)]
    lat: Option<f64>,
    #[serde(default)]
    lon: Option<f64>,
    channel: &'a str,
}

pub type Span = (u32, u32);

/// A parsed event; its text fields are spans of `row_head`, which holds them verbatim.
pub struct Event {
    pub t_ms: i64, // event time, computed as Python's int(ts.timestamp() * 1000)
    pub amount: f64,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub row_head: Vec<u8>, // the event's JSON as msgspec encodes it, without the closing brace
    pub card: Span,
    pub merchant: Span,
    pub city: Span,
    pub country: Option<Span>,
}

impl Event {
    fn text(&self, (a, b): Span) -> &str {
        // Spans cover ASCII copied from a &str, so they are valid UTF-8 by construction.
        std::str::from_utf8(&self.row_head[a as usize..b as usize]).unwrap_or("")
    }
    pub fn card_id(&self) -> &str {
        self.text(self.card)
    }
    pub fn merchant_id(&self) -> &str {
        self.text(self.merchant)
    }
    pub fn city(&self) -> &str {
        // Only valid until row_head is moved into the row (then read the spans from the row).
        self.text(self.city)
    }
}

fn plain(s: &str, max_len: usize) -> bool {
    !s.is_empty() && s.len() <= max_len && s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

fn upper(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_uppercase())
}

/// Parse one record value; None = not on the fast path.
pub fn parse(raw: &[u8]) -> Option<Event> {
    if !raw.is_ascii() {
        return None; // non-ASCII bytes anywhere: msgspec's UTF-8 and length rules decide
    }
    let w: Wire = serde_json::from_slice(raw).ok()?;
    let ids = [w.txn_id, w.card_id, w.account_id, w.merchant_id, w.merchant_category];
    if !ids.iter().all(|s| plain(s, 64)) || !plain(w.city, 100) {
        return None;
    }
    if !upper(w.currency, 3) || !matches!(w.channel, "pos" | "online" | "atm") {
        return None;
    }
    if let Some(c) = w.country {
        if !upper(c, 2) {
            return None;
        }
    }
    if !(w.amount.is_finite() && w.amount > 0.0 && w.amount <= 1_000_000.0) {
        return None;
    }
    match (w.lat, w.lon) {
        (Some(la), Some(lo)) if (-90.0..=90.0).contains(&la) && (-180.0..=180.0).contains(&lo) => {}
        (None, None) => {}
        _ => return None,
    }
    let (secs, micros) = parse_ts(w.ts.as_bytes())?;
    let us = secs * 1_000_000 + micros;
    let t_ms = ((us as f64 / 1e6) * 1000.0) as i64;
    let mut row = Vec::with_capacity(raw.len() + 64);
    let field = |row: &mut Vec<u8>, name: &str, value: &str| -> Span {
        row.extend_from_slice(name.as_bytes());
        row.push(b'"');
        let start = row.len() as u32;
        row.extend_from_slice(value.as_bytes());
        let end = row.len() as u32;
        row.push(b'"');
        (start, end)
    };
    let _ = field(&mut row, "{\"txn_id\":", w.txn_id);
    row.extend_from_slice(b",\"ts\":\"");
    write_ts(&mut row, secs, micros);
    row.push(b'"');
    let card = field(&mut row, ",\"card_id\":", w.card_id);
    let _ = field(&mut row, ",\"account_id\":", w.account_id);
    row.extend_from_slice(b",\"amount\":");
    write_f64(&mut row, w.amount);
    let _ = field(&mut row, ",\"currency\":", w.currency);
    let merchant = field(&mut row, ",\"merchant_id\":", w.merchant_id);
    let _ = field(&mut row, ",\"merchant_category\":", w.merchant_category);
    let city = field(&mut row, ",\"city\":", w.city);
    let country = match w.country {
        Some(c) => Some(field(&mut row, ",\"country\":", c)),
        None => {
            row.extend_from_slice(b",\"country\":null");
            None
        }
    };
    for (name, v) in [(",\"lat\":", w.lat), (",\"lon\":", w.lon)] {
        row.extend_from_slice(name.as_bytes());
        match v {
            Some(x) => write_f64(&mut row, x),
            None => row.extend_from_slice(b"null"),
        }
    }
    let _ = field(&mut row, ",\"channel\":", w.channel);
    Some(Event { t_ms, amount: w.amount, lat: w.lat, lon: w.lon, row_head: row, card, merchant, city, country })
}

fn num(s: &[u8]) -> Option<i64> {
    let mut v = 0i64;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (b - b'0') as i64;
    }
    Some(v)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+00:00)` in 1970..2200 -> (epoch seconds, microseconds).
fn parse_ts(s: &[u8]) -> Option<(i64, i64)> {
    if s.len() < 20 || s[4] != b'-' || s[7] != b'-' || s[10] != b'T' || s[13] != b':' || s[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(&s[0..4])?, num(&s[5..7])?, num(&s[8..10])?);
    let (h, mi, sec) = (num(&s[11..13])?, num(&s[14..16])?, num(&s[17..19])?);
    let mut rest = &s[19..];
    let mut micros = 0i64;
    if rest.first() == Some(&b'.') {
        let n = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 || n > 6 {
            return None;
        }
        micros = num(&rest[1..1 + n])? * 10i64.pow(6 - n as u32);
        rest = &rest[1 + n..];
    }
    if rest != b"Z" && rest != b"+00:00" {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let dim = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1970..2200).contains(&y) || !(1..=12).contains(&mo) || d < 1 || d > dim[(mo - 1) as usize] {
        return None;
    }
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    Some((days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec, micros))
}

fn write_ts(out: &mut Vec<u8>, secs: i64, micros: i64) {
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    // civil_from_days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    digits(out, y, 4);
    out.push(b'-');
    digits(out, m, 2);
    out.push(b'-');
    digits(out, d, 2);
    out.push(b'T');
    digits(out, tod / 3600, 2);
    out.push(b':');
    digits(out, tod / 60 % 60, 2);
    out.push(b':');
    digits(out, tod % 60, 2);
    if micros != 0 {
        out.push(b'.');
        digits(out, micros, 6);
    }
    out.push(b'Z');
}

fn digits(out: &mut Vec<u8>, mut v: i64, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    for i in (start..start + width).rev() {
        out[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
}
