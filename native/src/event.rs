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

/// A parsed event: the record's own bytes, with its text fields as spans of them (verbatim: the
/// fast path has no escapes), and the numbers parsed. The `txns` row is built only if written.
pub struct Event {
    pub t_ms: i64, // event time, computed as Python's int(ts.timestamp() * 1000)
    pub amount: f64,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// The champion model's score (`model_score`), set by `Engine::set_scores`; 0 without one,
    /// as the rule language's default.
    pub score: f64,
    raw: Vec<u8>,
    secs: i64,
    micros: i64,
    txn: Span,
    card: Span,
    account: Span,
    currency: Span,
    merchant: Span,
    category: Span,
    city: Span,
    country: Option<Span>,
    channel: Span,
}

impl Event {
    fn text(&self, (a, b): Span) -> &str {
        // SAFETY: parse() only keeps all-ASCII records, so every span of `raw` is valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(&self.raw[a as usize..b as usize]) }
    }
    pub fn card_id(&self) -> &str {
        self.text(self.card)
    }
    pub fn merchant_id(&self) -> &str {
        self.text(self.merchant)
    }
    pub fn merchant_category(&self) -> &str {
        self.text(self.category)
    }
    pub fn channel(&self) -> &str {
        self.text(self.channel)
    }
    pub fn account_id(&self) -> &str {
        self.text(self.account)
    }
    /// Epoch seconds of `ts` (UTC).
    pub fn secs(&self) -> i64 {
        self.secs
    }
    pub fn city(&self) -> &str {
        self.text(self.city)
    }
    pub fn txn_id(&self) -> &str {
        self.text(self.txn)
    }
    pub fn currency(&self) -> &str {
        self.text(self.currency)
    }
    pub fn country(&self) -> Option<&str> {
        self.country.map(|c| self.text(c))
    }

    /// The event's JSON as msgspec encodes a Transaction, without the closing brace.
    pub fn row_head(&self) -> Vec<u8> {
        let mut row = Vec::with_capacity(self.raw.len() + 96);
        let field = |row: &mut Vec<u8>, name: &[u8], span: Span| {
            row.extend_from_slice(name);
            row.push(b'"');
            row.extend_from_slice(&self.raw[span.0 as usize..span.1 as usize]);
            row.push(b'"');
        };
        field(&mut row, b"{\"txn_id\":", self.txn);
        row.extend_from_slice(b",\"ts\":\"");
        write_ts(&mut row, self.secs, self.micros);
        row.push(b'"');
        field(&mut row, b",\"card_id\":", self.card);
        field(&mut row, b",\"account_id\":", self.account);
        row.extend_from_slice(b",\"amount\":");
        write_f64(&mut row, self.amount);
        field(&mut row, b",\"currency\":", self.currency);
        field(&mut row, b",\"merchant_id\":", self.merchant);
        field(&mut row, b",\"merchant_category\":", self.category);
        field(&mut row, b",\"city\":", self.city);
        match self.country {
            Some(c) => field(&mut row, b",\"country\":", c),
            None => row.extend_from_slice(b",\"country\":null"),
        }
        for (name, v) in [(&b",\"lat\":"[..], self.lat), (&b",\"lon\":"[..], self.lon)] {
            row.extend_from_slice(name);
            match v {
                Some(x) => write_f64(&mut row, x),
                None => row.extend_from_slice(b"null"),
            }
        }
        field(&mut row, b",\"channel\":", self.channel);
        row
    }
}

fn plain(s: &str, max_len: usize) -> bool {
    !s.is_empty() && s.len() <= max_len && s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

fn upper(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_uppercase())
}

/// Parse one record value; None = not on the fast path.
pub fn parse(raw: Vec<u8>) -> Option<Event> {
    // Non-ASCII bytes or escapes anywhere (even in unknown fields: a lone surrogate escape is
    // malformed JSON to msgspec), or a value that is not an object: msgspec decides.
    if !raw.is_ascii()
        || raw.contains(&b'\\')
        || raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{')
    {
        return None;
    }
    // SAFETY: checked all-ASCII above. serde_json's str reader then skips re-validating UTF-8
    // in every string, which was the parser's biggest single cost.
    let text = unsafe { std::str::from_utf8_unchecked(&raw) };
    let w: Wire = serde_json::from_str(text).ok()?;
    let ids = [
        w.txn_id,
        w.card_id,
        w.account_id,
        w.merchant_id,
        w.merchant_category,
    ];
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
    if !(w.amount.is_finite() && w.amount > 0.0 && w.amount <= 1_000_000_000.0) {
        return None;
    }
    // An integer -0 is 0.0 to msgspec but -0.0 to serde: let msgspec read any negative zero.
    if [w.lat, w.lon]
        .iter()
        .flatten()
        .any(|x| *x == 0.0 && x.is_sign_negative())
    {
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
    let base = raw.as_ptr() as usize;
    // Every &str borrows from `raw` (no escapes), so its offset there is its span.
    let span = |t: &str| -> Span {
        let start = (t.as_ptr() as usize - base) as u32;
        (start, start + t.len() as u32)
    };
    let (txn, card, account, currency) = (
        span(w.txn_id),
        span(w.card_id),
        span(w.account_id),
        span(w.currency),
    );
    let (merchant, category, city) = (span(w.merchant_id), span(w.merchant_category), span(w.city));
    let (country, channel) = (w.country.map(span), span(w.channel));
    let (amount, lat, lon) = (w.amount, w.lat, w.lon);
    Some(Event {
        t_ms,
        amount,
        lat,
        lon,
        score: 0.0,
        raw,
        secs,
        micros,
        txn,
        card,
        account,
        currency,
        merchant,
        category,
        city,
        country,
        channel,
    })
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
    if s.len() < 20
        || s[4] != b'-'
        || s[7] != b'-'
        || s[10] != b'T'
        || s[13] != b':'
        || s[16] != b':'
    {
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
    let dim = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1970..2200).contains(&y) || !(1..=12).contains(&mo) || d < 1 || d > dim[(mo - 1) as usize]
    {
        return None;
    }
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    Some((
        days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec,
        micros,
    ))
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
