//! `fraud_native.ServingIds`: the ids and placements online scoring keeps (model/serving_keys.py).
//!
//! Cards, merchants and labelled transactions numbered densely, and the merchant and event time of
//! every remembered transaction, so a fraud label that comes days later finds where it counts. The
//! same definition as model/serving_keys.py's `Keys` (tests/test_serving_keys.py runs both side by
//! side). The engine's parsed batch is numbered here without a Python object per event
//! (`Engine.model_columns`), which is what the champion's per-event cost in the bridge was.

use std::collections::VecDeque;
use std::sync::Arc;

use foldhash::HashMap;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};

use crate::batch::Record;
use crate::features::ints;

/// How a row of a batch joins the history (the int8 `kinds` column).
pub const FRESH: i8 = 0; // first seen: remembered, then placed
pub const OLDER: i8 = 1; // placed by an earlier batch: scored as first seen, not added again
pub const COPY: i8 = 2; // a copy of an earlier row of the same batch: that row's features
pub const BAD_TIME: i8 = 3; // an impossible event time: not numbered, not scored

// Keys come from Kafka: a hasher seeded at random per map (foldhash), not FxHash's fixed one.
#[pyclass(module = "fraud_native")]
#[derive(Default)]
pub struct ServingIds {
    cards: HashMap<String, i64>,
    merchants: HashMap<String, i64>,
    labelled: HashMap<String, i64>,
    // one allocation per transaction, shared by its placement and its place in the order
    placed: HashMap<Arc<str>, (i64, i64)>, // txn id -> (merchant id, event time s)
    order: VecDeque<(i64, Arc<str>)>,      // (event time s, txn id), to forget placements
}

fn number(map: &mut HashMap<String, i64>, key: &str) -> i64 {
    if let Some(&id) = map.get(key) {
        return id;
    }
    let id = map.len() as i64;
    map.insert(key.to_owned(), id);
    id
}

pub fn int_bytes(values: &[i64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_ne_bytes()).collect()
}

fn strs<'py>(list: &'py Bound<'py, PyList>) -> PyResult<Vec<Bound<'py, PyString>>> {
    list.iter()
        .map(|item| Ok(item.downcast_into::<PyString>()?))
        .collect()
}

impl ServingIds {
    pub fn card(&mut self, key: &str) -> i64 {
        number(&mut self.cards, key)
    }

    pub fn merchant(&mut self, key: &str) -> i64 {
        number(&mut self.merchants, key)
    }

    /// Each row's kind (FRESH / OLDER / COPY) and, for a copy, the row it copies (else -1); rows
    /// already marked BAD_TIME stay so and are skipped.
    pub fn kinds_of<'a>(
        &self,
        txn_ids: impl Iterator<Item = &'a str>,
        kinds: &mut [i8],
    ) -> Vec<i64> {
        let mut first_at: HashMap<&str, usize> = HashMap::default();
        let mut first = vec![-1i64; kinds.len()];
        for (i, txn) in txn_ids.enumerate() {
            if kinds[i] == BAD_TIME {
                continue;
            }
            if self.placed.contains_key(txn) {
                kinds[i] = OLDER;
            } else if let Some(&j) = first_at.get(txn) {
                kinds[i] = COPY;
                first[i] = j as i64;
            } else {
                first_at.insert(txn, i);
                kinds[i] = FRESH;
            }
        }
        first
    }

    pub fn place_one(&mut self, txn: &str, merchant: i64, sec: i64) {
        let txn: Arc<str> = Arc::from(txn);
        self.placed.insert(Arc::clone(&txn), (merchant, sec));
        self.order.push_back((sec, txn));
    }

    pub fn merchant_of(&self, key: &str) -> Option<i64> {
        self.merchants.get(key).copied()
    }
}

#[pymethods]
impl ServingIds {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// The ids of cards and of merchants (two lists of str, one length) as int64 bytes, new ones
    /// numbered in order.
    fn number<'py>(
        &mut self,
        py: Python<'py>,
        cards: &Bound<'py, PyList>,
        merchants: &Bound<'py, PyList>,
    ) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
        if cards.len() != merchants.len() {
            return Err(PyValueError::new_err(
                "number: cards and merchants differ in length",
            ));
        }
        let mut c = Vec::with_capacity(cards.len());
        for s in strs(cards)? {
            c.push(self.card(s.to_str()?));
        }
        let mut m = Vec::with_capacity(merchants.len());
        for s in strs(merchants)? {
            m.push(self.merchant(s.to_str()?));
        }
        Ok((
            PyBytes::new_bound(py, &int_bytes(&c)),
            PyBytes::new_bound(py, &int_bytes(&m)),
        ))
    }

    /// Each txn id's kind (int8 bytes: 0 fresh, 1 seen in an earlier batch, 2 a copy within this
    /// one) and the row a copy copies (int64 bytes, else -1).
    fn classify<'py>(
        &self,
        py: Python<'py>,
        txn_ids: &Bound<'py, PyList>,
    ) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
        let owned = strs(txn_ids)?;
        let texts = owned
            .iter()
            .map(|s| s.to_str())
            .collect::<PyResult<Vec<&str>>>()?;
        let mut kinds = vec![FRESH; texts.len()];
        let first = self.kinds_of(texts.into_iter(), &mut kinds);
        let kinds: Vec<u8> = kinds.iter().map(|&k| k as u8).collect();
        Ok((
            PyBytes::new_bound(py, &kinds),
            PyBytes::new_bound(py, &int_bytes(&first)),
        ))
    }

    /// Remember where these transactions were: merchant ids and event times (int64 bytes).
    fn place(
        &mut self,
        txn_ids: &Bound<'_, PyList>,
        merchants: &[u8],
        secs: &[u8],
    ) -> PyResult<()> {
        let (m, s) = (ints(merchants, "merchants")?, ints(secs, "secs")?);
        if m.len() != txn_ids.len() || s.len() != txn_ids.len() {
            return Err(PyValueError::new_err("place: columns differ in length"));
        }
        for (i, txn) in strs(txn_ids)?.iter().enumerate() {
            self.place_one(txn.to_str()?, m[i], s[i]);
        }
        Ok(())
    }

    /// Forget placements at or before `cut` (event time s): a label on them no longer counts.
    fn forget(&mut self, cut: i64) {
        while let Some((sec, _)) = self.order.front() {
            if *sec > cut {
                break;
            }
            let (_, txn) = self.order.pop_front().expect("front exists");
            if self.placed.get(&txn).is_some_and(|p| p.1 <= cut) {
                self.placed.remove(&txn);
            }
        }
    }

    /// Where a remembered transaction was: (merchant id, event time s), or None.
    fn placed_at(&self, txn_id: &str) -> Option<(i64, i64)> {
        self.placed.get(txn_id).copied()
    }

    /// A labelled transaction's id, numbered when first asked.
    fn label_id(&mut self, txn_id: &str) -> i64 {
        number(&mut self.labelled, txn_id)
    }

    #[getter]
    fn held(&self) -> usize {
        self.cards.len() + self.merchants.len() + self.labelled.len()
    }

    #[getter]
    fn placed_count(&self) -> usize {
        self.placed.len()
    }
}

/// A record the Python side decoded (not on the native parser's subset): (record index, txn id,
/// event time ms, card, merchant, amount, currency), slotted in among the parsed ones by index.
pub type Decoded = (usize, String, i64, String, String, f64, String);

/// One row of the model's batch, parsed natively or decoded by Python.
struct RowRef<'a> {
    index: usize,
    txn: &'a str,
    t_ms: i64,
    card: &'a str,
    merchant: &'a str,
    amount: f64,
    currency: &'a str,
}

/// The batch as the model's columns (`Engine.model_columns`): each row's record index, event time
/// (s, floored), card and merchant ids, amount in US cents (Python's `max(round(amount * rate *
/// 100), 1)`, rate 1 for an unknown currency), kind and copied row, in record order. Rows with an
/// impossible time (outside [0, max_time) or past `max_s`) are BAD_TIME and not numbered.
pub struct ModelColumns {
    pub index: Vec<i64>,
    pub secs: Vec<i64>,
    pub cards: Vec<i64>,
    pub terms: Vec<i64>,
    pub cents: Vec<i64>,
    pub kinds: Vec<u8>,
    pub first: Vec<i64>,
}

fn rows<'a>(batch: &'a [Record], decoded: &'a [Decoded]) -> Vec<RowRef<'a>> {
    let mut out: Vec<RowRef<'a>> = batch
        .iter()
        .enumerate()
        .filter_map(|(index, r)| {
            r.event.as_ref().map(|ev| RowRef {
                index,
                txn: ev.txn_id(),
                t_ms: ev.t_ms,
                card: ev.card_id(),
                merchant: ev.merchant_id(),
                amount: ev.amount,
                currency: ev.currency(),
            })
        })
        .collect();
    if !decoded.is_empty() {
        out.extend(decoded.iter().map(|d| RowRef {
            index: d.0,
            txn: &d.1,
            t_ms: d.2,
            card: &d.3,
            merchant: &d.4,
            amount: d.5,
            currency: &d.6,
        }));
        out.sort_by_key(|r| r.index); // stable: record order, as training reads the topic
    }
    out
}

pub fn model_columns(
    batch: &[Record],
    decoded: &[Decoded],
    ids: &mut ServingIds,
    rates: &std::collections::HashMap<String, f64>,
    max_s: i64,
    max_time: i64,
) -> ModelColumns {
    let rows = rows(batch, decoded);
    let n = rows.len();
    let mut out = ModelColumns {
        index: Vec::with_capacity(n),
        secs: Vec::with_capacity(n),
        cards: Vec::with_capacity(n),
        terms: Vec::with_capacity(n),
        cents: Vec::with_capacity(n),
        kinds: Vec::new(),
        first: Vec::new(),
    };
    let mut kinds = Vec::with_capacity(n);
    for r in &rows {
        let sec = r.t_ms.div_euclid(1000);
        let rate = rates.get(r.currency).copied().unwrap_or(1.0);
        let cents = (r.amount * rate * 100.0).round_ties_even().max(1.0) as i64;
        let ok = (0..max_time).contains(&sec) && sec <= max_s;
        out.index.push(r.index as i64);
        out.secs.push(sec);
        out.cents.push(cents);
        if ok {
            out.cards.push(ids.card(r.card));
            out.terms.push(ids.merchant(r.merchant));
            kinds.push(FRESH);
        } else {
            out.cards.push(-1);
            out.terms.push(-1);
            kinds.push(BAD_TIME);
        }
    }
    out.first = ids.kinds_of(rows.iter().map(|r| r.txn), &mut kinds);
    out.kinds = kinds.iter().map(|&k| k as u8).collect();
    out
}

/// Place the rows at these record indices (fresh ones just remembered) by merchant and time.
pub fn model_place(
    batch: &[Record],
    decoded: &[Decoded],
    ids: &mut ServingIds,
    index: &[i64],
) -> PyResult<()> {
    for &i in index {
        let at = usize::try_from(i).unwrap_or(usize::MAX);
        let found = match batch.get(at).and_then(|r| r.event.as_ref()) {
            Some(ev) => Some((ev.txn_id(), ev.merchant_id(), ev.t_ms)),
            None => decoded
                .iter()
                .find(|d| d.0 == at)
                .map(|d| (d.1.as_str(), d.4.as_str(), d.2)),
        };
        let (txn, merchant, t_ms) = found
            .ok_or_else(|| PyValueError::new_err(format!("model_place: no row for record {i}")))?;
        let merchant = ids.merchant_of(merchant).ok_or_else(|| {
            PyValueError::new_err(format!("model_place: record {i} was not numbered"))
        })?;
        ids.place_one(txn, merchant, t_ms.div_euclid(1000));
    }
    Ok(())
}
