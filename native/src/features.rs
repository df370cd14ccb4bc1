//! `fraud_native.FeatureHistory`: model/features.py's FeatureState, row by row in native code.
//!
//! The same point-in-time definition, byte for byte (tests/test_model_native_features.py holds the
//! two together): per card the count and integer-cent sum over trailing windows, per terminal the
//! count over windows that end the label delay before the transaction and the fraud labels known
//! by then. History is kept per id in time order instead of as sorted runs of packed keys: a query
//! is two binary searches in one card's or terminal's few entries, not in the whole history.

use rustc_hash::FxHashMap as HashMap;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyByteArray;

const DAY_S: i64 = 86_400;

#[derive(Clone, Copy)]
struct Label {
    terminal: i64,
    txn_ts: i64,
    known_at: i64,
}

/// One card's entries (time, cents) in time order, with prefix sums of the cents: a window's sum is
/// two binary searches and a subtraction, however many times a card-testing bot used the card.
#[derive(Default)]
struct CardHist {
    entries: Vec<(i64, i64)>,
    csum: Vec<i64>, // csum[i] = the cents of entries[..i]; one longer than `entries`
}

impl CardHist {
    fn upto(&self, t: i64) -> usize {
        upto(|j| self.entries[j].0, self.entries.len(), t)
    }

    fn insert(&mut self, t: i64, cents: i64) {
        if self.csum.is_empty() {
            self.csum.push(0);
        }
        let at = self.upto(t); // after every equal time
        self.entries.insert(at, (t, cents));
        self.csum.truncate(at + 1);
        for k in at..self.entries.len() {
            let next = self.csum[k] + self.entries[k].1;
            self.csum.push(next);
        }
    }

    /// Drop the entries at or before `cut`; how many are left.
    fn prune(&mut self, cut: i64) -> usize {
        let gone = self.upto(cut);
        if gone > 0 {
            self.entries.drain(..gone);
            let mut sum = 0;
            self.csum.clear();
            self.csum.push(0);
            for e in &self.entries {
                sum += e.1;
                self.csum.push(sum);
            }
        }
        self.entries.len()
    }

    fn sum(&self, a: usize, b: usize) -> i64 {
        self.csum[b] - self.csum[a]
    }
}

/// Per terminal, for one window length: the sorted times from which and until which a label counts.
type Intervals = HashMap<i64, (Vec<i64>, Vec<i64>)>;

#[pyclass(module = "fraud_native")]
pub struct FeatureHistory {
    card_days: Vec<i64>,
    term_days: Vec<i64>,
    delay_s: i64,
    cards: HashMap<i64, CardHist>, // card -> its entries in time order
    terms: HashMap<i64, Vec<i64>>, // terminal -> times, sorted
    labels: HashMap<i64, Label>,   // transaction id -> its earliest known fraud label
    intervals: Option<Vec<Intervals>>, // per terminal window, rebuilt when the labels change
    watermark: i64,
    entries: usize, // stored history entries (expired ones until a sweep)
    swept: usize,   // entries after the last full sweep
}

fn upto(times: impl Fn(usize) -> i64, len: usize, t: i64) -> usize {
    // how many of the sorted values are <= t
    let (mut lo, mut hi) = (0, len);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if times(mid) <= t {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Native-endian int64 values of `raw`, or a ValueError naming `what`.
pub fn ints(raw: &[u8], what: &str) -> PyResult<Vec<i64>> {
    if !raw.len().is_multiple_of(8) {
        return Err(PyValueError::new_err(format!("{what}: not int64 bytes")));
    }
    Ok(raw
        .chunks_exact(8)
        .map(|c| i64::from_ne_bytes(c.try_into().unwrap()))
        .collect())
}

/// Four int64 columns of one length, or a ValueError naming the bad one.
/// A batch's event columns (times, cards, terminals, cents) from their int64 bytes.
fn event_columns(ts: &[u8], card: &[u8], term: &[u8], cents: &[u8]) -> PyResult<[Vec<i64>; 4]> {
    columns(
        [
            (ts, "ts"),
            (card, "card"),
            (term, "terminal"),
            (cents, "cents"),
        ],
        "columns",
    )
}

fn columns(raw: [(&[u8], &str); 4], what: &str) -> PyResult<[Vec<i64>; 4]> {
    let [a, b, c, d] = raw;
    let out = [
        ints(a.0, a.1)?,
        ints(b.0, b.1)?,
        ints(c.0, c.1)?,
        ints(d.0, d.1)?,
    ];
    if out.iter().any(|col| col.len() != out[0].len()) {
        return Err(PyValueError::new_err(format!(
            "FeatureHistory: {what} of different lengths"
        )));
    }
    Ok(out)
}

impl FeatureHistory {
    fn card_reach(&self) -> i64 {
        self.card_days.iter().max().copied().unwrap_or(0) * DAY_S
    }

    fn term_reach(&self) -> i64 {
        self.delay_s + self.term_days.iter().max().copied().unwrap_or(0) * DAY_S
    }

    fn columns(&self) -> usize {
        4 + 2 * self.card_days.len()
            + self.card_days.iter().filter(|&&w| w > 1).count()
            + 2 * self.term_days.len()
    }

    fn build_intervals(&mut self) {
        if self.intervals.is_none() {
            let mut all = Vec::with_capacity(self.term_days.len());
            for &w in &self.term_days {
                let mut by_term: Intervals = HashMap::default();
                for lab in self.labels.values() {
                    let start = (lab.txn_ts + self.delay_s).max(lab.known_at);
                    let end = lab.txn_ts + self.delay_s + w * DAY_S;
                    if start < end {
                        let (s, e) = by_term.entry(lab.terminal).or_default();
                        s.push(start);
                        e.push(end);
                    }
                }
                for (s, e) in by_term.values_mut() {
                    s.sort_unstable();
                    e.sort_unstable();
                }
                all.push(by_term);
            }
            self.intervals = Some(all);
        }
    }

    fn rows(
        &mut self,
        ts: &[i64],
        card: &[i64],
        term: &[i64],
        cents: &[i64],
        remember: bool,
    ) -> Vec<f64> {
        let n = ts.len();
        let card_seen = self.watermark - self.card_reach();
        let term_seen = self.watermark - self.term_reach();
        // the batch itself: a row sees its card's rows of the batch up to its own time (an equal time
        // only when it arrived earlier), and every row of its terminal in the delayed window
        let mut batch_cards: HashMap<i64, Vec<usize>> = HashMap::default();
        let mut batch_terms: HashMap<i64, Vec<i64>> = HashMap::default();
        for i in 0..n {
            batch_cards.entry(card[i]).or_default().push(i);
            batch_terms.entry(term[i]).or_default().push(ts[i]);
        }
        let mut pos = vec![0usize; n];
        let mut csum: HashMap<i64, Vec<i64>> =
            HashMap::with_capacity_and_hasher(batch_cards.len(), Default::default());
        for (c, rows) in batch_cards.iter_mut() {
            rows.sort_by_key(|&i| ts[i]); // stable: equal times keep their arrival order
            let mut sums = Vec::with_capacity(rows.len() + 1);
            sums.push(0i64);
            for (p, &i) in rows.iter().enumerate() {
                pos[i] = p;
                sums.push(sums[p] + cents[i]);
            }
            csum.insert(*c, sums);
        }
        for times in batch_terms.values_mut() {
            times.sort_unstable();
        }
        self.build_intervals();
        let (delay, cols) = (self.delay_s, self.columns());
        let (card_days, term_days) = (&self.card_days, &self.term_days);
        let intervals = self.intervals.as_ref().expect("built above");
        let empty_c = CardHist::default();
        let empty_t: Vec<i64> = Vec::new();
        let mut out = Vec::with_capacity(n * cols);
        let mut avgs = vec![0f64; card_days.len()];
        for i in 0..n {
            let (t, a) = (ts[i], cents[i]);
            let amount = a as f64 / 100.0;
            let hour = t.div_euclid(3600).rem_euclid(24);
            let weekday = (t.div_euclid(DAY_S) + 3).rem_euclid(7);
            out.extend_from_slice(&[
                amount,
                hour as f64,
                f64::from(u8::from(hour < 6)),
                f64::from(u8::from(weekday >= 5)),
            ]);
            let rows = &batch_cards[&card[i]];
            let sums = &csum[&card[i]];
            let hist = self.cards.get(&card[i]).unwrap_or(&empty_c);
            let p = pos[i];
            // rows not remembered are in the history already (unless expired): counted there only,
            // as they were when first seen, not again through the batch
            let held = !remember && t > card_seen;
            for (k, &w) in card_days.iter().enumerate() {
                let lo = t - w * DAY_S;
                let start = upto(|j| ts[rows[j]], rows.len(), lo);
                let (mut count, mut total) = if held {
                    (0, 0)
                } else {
                    ((p + 1 - start) as i64, sums[p + 1] - sums[start])
                };
                let lo_h = lo.max(card_seen);
                let (ha, hb) = (hist.upto(lo_h), hist.upto(t));
                if hb > ha {
                    count += (hb - ha) as i64;
                    total += hist.sum(ha, hb);
                }
                avgs[k] = total as f64 / count as f64 / 100.0;
                out.push(count as f64);
                out.push(avgs[k]);
            }
            for (k, &w) in card_days.iter().enumerate() {
                if w > 1 {
                    out.push(if avgs[k] > 0.0 { amount / avgs[k] } else { 1.0 });
                }
            }
            let in_batch = &batch_terms[&term[i]];
            let hist = self.terms.get(&term[i]).unwrap_or(&empty_t);
            let hi = t - delay;
            for (k, &w) in term_days.iter().enumerate() {
                let lo = t - delay - w * DAY_S;
                let (a_in, b_in) = (
                    upto(|j| in_batch[j], in_batch.len(), lo),
                    upto(|j| in_batch[j], in_batch.len(), hi),
                );
                // with no delay a held row's window holds the batch's rows already: the history's only
                let mut count = if !remember && delay == 0 && t > term_seen {
                    0
                } else {
                    b_in.saturating_sub(a_in) as i64
                };
                let (ha, hb) = (
                    upto(|j| hist[j], hist.len(), lo.max(term_seen)),
                    upto(|j| hist[j], hist.len(), hi),
                );
                count += hb.saturating_sub(ha) as i64;
                let frauds = match intervals[k].get(&term[i]) {
                    Some((s, e)) => {
                        upto(|j| s[j], s.len(), t) as i64 - upto(|j| e[j], e.len(), t) as i64
                    }
                    None => 0,
                };
                let rate = if count > 0 {
                    frauds as f64 / count as f64
                } else {
                    0.0
                };
                out.push(count as f64);
                out.push(rate.min(1.0));
            }
        }
        if remember {
            self.remember(ts, card, term, cents);
        }
        out
    }

    fn remember(&mut self, ts: &[i64], card: &[i64], term: &[i64], cents: &[i64]) {
        if let Some(&newest) = ts.iter().max() {
            self.watermark = self.watermark.max(newest);
        }
        let (card_cut, term_cut) = (
            self.watermark - self.card_reach(),
            self.watermark - self.term_reach(),
        );
        for i in 0..ts.len() {
            let t = ts[i];
            // an entry at or before the cut is never read again (every query starts after it)
            if t > card_cut {
                self.cards.entry(card[i]).or_default().insert(t, cents[i]);
                self.entries += 1;
            }
            if t > term_cut {
                let h = self.terms.entry(term[i]).or_default();
                let at = upto(|j| h[j], h.len(), t);
                h.insert(at, t);
                self.entries += 1;
            }
        }
        let before = self.labels.len();
        self.labels.retain(|_, lab| lab.txn_ts > term_cut);
        if self.labels.len() != before {
            self.intervals = None;
        }
        if self.entries > 2 * self.swept.max(1024) {
            self.sweep();
        }
    }

    fn sweep(&mut self) {
        let (card_cut, term_cut) = (
            self.watermark - self.card_reach(),
            self.watermark - self.term_reach(),
        );
        let mut kept = 0;
        self.cards.retain(|_, h| {
            let left = h.prune(card_cut);
            kept += left;
            left > 0
        });
        self.terms.retain(|_, h| {
            let gone = upto(|j| h[j], h.len(), term_cut);
            h.drain(..gone);
            kept += h.len();
            !h.is_empty()
        });
        self.entries = kept;
        self.swept = kept;
    }
}

#[pymethods]
impl FeatureHistory {
    #[new]
    fn new(card_days: Vec<i64>, term_days: Vec<i64>, label_delay_days: i64) -> PyResult<Self> {
        if card_days.is_empty()
            || term_days.is_empty()
            || card_days.iter().chain(&term_days).any(|&w| w < 1)
        {
            return Err(PyValueError::new_err(
                "FeatureHistory: windows must be whole days >= 1",
            ));
        }
        Ok(Self {
            card_days,
            term_days,
            delay_s: label_delay_days * DAY_S,
            cards: HashMap::default(),
            terms: HashMap::default(),
            labels: HashMap::default(),
            intervals: None,
            watermark: -1,
            entries: 0,
            swept: 0,
        })
    }

    /// The batch's feature rows as float64 bytes (row-major), then the batch remembered (if asked).
    fn transform<'py>(
        &mut self,
        py: Python<'py>,
        ts: &[u8],
        card: &[u8],
        term: &[u8],
        cents: &[u8],
        remember: bool,
    ) -> PyResult<Bound<'py, PyByteArray>> {
        let [ts, card, term, cents] = event_columns(ts, card, term, cents)?;
        // without the GIL: the consumer's next poll runs meanwhile (the batch's rows are ours)
        let bytes: Vec<u8> = py.allow_threads(|| {
            let out = self.rows(&ts, &card, &term, &cents, remember);
            out.iter().flat_map(|v| v.to_ne_bytes()).collect()
        });
        Ok(PyByteArray::new_bound(py, &bytes))
    }

    /// Fraud labels (int64 bytes); a transaction labelled twice counts once, from its earliest label.
    fn add_labels(
        &mut self,
        tx_id: &[u8],
        terminal: &[u8],
        txn_ts: &[u8],
        known_at: &[u8],
    ) -> PyResult<()> {
        let [tx, term, ts, known] = columns(
            [
                (tx_id, "tx_id"),
                (terminal, "terminal"),
                (txn_ts, "txn_ts"),
                (known_at, "known_at"),
            ],
            "label columns",
        )?;
        for i in 0..tx.len() {
            let new = Label {
                terminal: term[i],
                txn_ts: ts[i],
                known_at: known[i],
            };
            self.labels
                .entry(tx[i])
                .and_modify(|old| {
                    if new.known_at < old.known_at {
                        *old = new;
                    }
                })
                .or_insert(new);
        }
        self.intervals = None;
        Ok(())
    }

    /// Remember a batch without computing its features: transactions another bridge scores (the
    /// merchant tail, bridge/model_tail.py), whose entries this history's later rows must count.
    fn add_events(&mut self, ts: &[u8], card: &[u8], term: &[u8], cents: &[u8]) -> PyResult<()> {
        let [ts, card, term, cents] = event_columns(ts, card, term, cents)?;
        self.remember(&ts, &card, &term, &cents);
        Ok(())
    }

    /// Move the watermark without adding events (history keeps expiring).
    fn advance(&mut self, newest: i64) {
        self.watermark = self.watermark.max(newest);
    }

    /// Drop every expired entry now.
    fn compact(&mut self) {
        self.sweep();
    }

    #[getter]
    fn remembered(&self) -> usize {
        self.entries
    }
}
