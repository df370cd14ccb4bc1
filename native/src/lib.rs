//! `fraud_native.Engine`: the bridge's per-record path in native code (see bridge/native.py).
//!
//! One batch is `scan` (parse every record, report the cards whose state must be read from Redis)
//! then `detect` (thread each card's state through the batch in order, deciding quiet events here
//! and handing every other record to a Python callback), then `commit` once Redis has the batch.
//! Parsing and the quiet pass run without the GIL, so they overlap the consumer's next poll.

mod aggregate;
mod batch;
mod config;
mod detect;
mod eval;
mod event;
mod features;
mod floatfmt;
#[cfg(test)]
mod gate_tests;
#[cfg(test)]
mod golden_tests;
mod history;
mod rules;
mod serving_ids;
mod state;
mod tally;
mod trees;

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;

use lru::LruCache;
use pyo3::intern;
use pyo3::marker::Ungil;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use batch::{Held, Record};
use config::Rules;
use eval::Lists;
use state::CardState;

#[pyclass(module = "fraud_native")]
struct Engine {
    rules: Result<Rules, String>, // Err: refused (why), and every record goes to Python
    lists: Option<Lists>,         // None until the bridge sends them
    // the shadow rule set (None: none): an event is quiet only if it cannot fire either
    gate: Option<Result<Rules, String>>,
    max_bytes: usize,
    cache: LruCache<String, (i64, CardState)>,
    batch: Vec<Record>,
    pending: Vec<(String, i64, Held)>, // the batch's new states, first-touched order
    rows: Vec<Vec<u8>>,                // the batch's `txns` rows, in record order
    packed: Packed,
    decoded: Vec<serving_ids::Decoded>, // the records Python decoded for the model (model_columns)
}

/// The batch's rows and states as RESP bulk strings, built without the GIL.
#[derive(Default)]
struct Packed {
    row_count: usize,
    rows: Vec<u8>,
    state_count: usize,
    keys: Vec<u8>,
    values: Vec<u8>,
}

impl Packed {
    fn build(rows: &[Vec<u8>], pending: &[(String, i64, Held)], key_prefix: &str) -> Self {
        let mut p = Packed {
            row_count: rows.len(),
            ..Packed::default()
        };
        p.rows.reserve(rows.iter().map(|r| r.len() + 16).sum());
        for row in rows {
            bulk(&mut p.rows, row);
        }
        let mut key = Vec::with_capacity(key_prefix.len() + 64);
        let mut value = Vec::with_capacity(256);
        for (card, _, s) in pending {
            key.clear();
            key.extend_from_slice(key_prefix.as_bytes());
            key.extend_from_slice(card.as_bytes());
            bulk(&mut p.keys, &key);
            match s {
                Held::Native(s) => {
                    value.clear();
                    state::encode_into(&mut value, s);
                    bulk(&mut p.values, &value);
                }
                Held::Foreign(raw) => bulk(&mut p.values, raw),
            }
        }
        p.state_count = pending.len();
        p
    }
}

/// Batches at least this big release the GIL while Rust works on them: the consumer's next poll
/// runs meanwhile. Small ones keep it; handing it back and forth would only add latency.
const UNLOCK_MIN_RECORDS: usize = 256;

fn unlocked<T: Send, F: Ungil + FnOnce() -> T>(py: Python<'_>, records: usize, f: F) -> T {
    if records >= UNLOCK_MIN_RECORDS {
        py.allow_threads(f)
    } else {
        f()
    }
}

fn header_text(value: &[u8], max_chars: usize) -> String {
    String::from_utf8_lossy(value)
        .chars()
        .take(max_chars)
        .collect()
}

/// The ground-truth labels, as common.schema.scenario_label knows them: a header naming anything
/// else counts as "other", so free text never names a Redis key.
const SCENARIO_LABELS: [&str; 8] = [
    "normal",
    "high_amount",
    "unknown_location",
    "high_amount_unknown_location",
    "velocity_burst",
    "impossible_travel",
    "card_testing",
    "amount_spike",
];

fn scenario_label(value: &[u8]) -> &'static str {
    SCENARIO_LABELS
        .iter()
        .find(|name| name.as_bytes() == value)
        .copied()
        .unwrap_or("other")
}

/// Copy what parsing needs out of a ConsumerRecord (GIL held); None value = Python path.
fn read_record(rec: &Bound<'_, PyAny>, max_bytes: usize) -> PyResult<(Record, Option<Vec<u8>>)> {
    let py = rec.py();
    // kafka-python's ConsumerRecord is a namedtuple: read by position when it is one.
    let (partition, ts_ms, value, headers) = match rec.downcast::<PyTuple>() {
        Ok(t) if t.len() >= 9 => (
            t.get_item(1)?,
            t.get_item(4)?,
            t.get_item(7)?,
            t.get_item(8)?,
        ),
        _ => (
            rec.getattr(intern!(py, "partition"))?,
            rec.getattr(intern!(py, "timestamp"))?,
            rec.getattr(intern!(py, "value"))?,
            rec.getattr(intern!(py, "headers"))?,
        ),
    };
    let (partition, ts_ms): (i64, i64) = (partition.extract()?, ts_ms.extract()?);
    let raw = match value.downcast::<PyBytes>() {
        Ok(b) if b.as_bytes().len() <= max_bytes => Some(b.as_bytes().to_vec()),
        _ => None,
    };
    let mut record = Record {
        partition,
        ts_ms,
        event: None,
        scenario: None,
        scenario_id: None,
    };
    if raw.is_some() && headers.is_truthy()? {
        for item in headers.iter()? {
            // Anything but (str, bytes | None) pairs: the Python path reads the headers.
            let pair = match item?.downcast_into::<PyTuple>() {
                Ok(t) if t.len() == 2 => t,
                _ => return Ok((record, None)),
            };
            let (name, value) = (pair.get_item(0)?, pair.get_item(1)?);
            let Ok(name) = name.downcast::<PyString>() else {
                return Ok((record, None));
            };
            if value.is_none() {
                continue;
            }
            let Ok(value) = value.downcast::<PyBytes>() else {
                return Ok((record, None));
            };
            match name.to_str()? {
                "scenario" => record.scenario = Some(scenario_label(value.as_bytes()).to_owned()),
                "scenario_id" => record.scenario_id = Some(header_text(value.as_bytes(), 128)),
                // An instance's last event: the Python path closes the instance (bridge/truth.py).
                "scenario_last" => return Ok((record, None)),
                _ => {}
            }
        }
    }
    Ok((record, raw)) // parse_all() drops the headers of every record it does not parse
}

fn bulk(out: &mut Vec<u8>, arg: &[u8]) {
    out.push(b'$');
    state::write_int(out, arg.len() as i64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(arg);
    out.extend_from_slice(b"\r\n");
}

#[pymethods]
impl Engine {
    /// Rules the engine does not fully support are refused, not an error: see `refusal`.
    #[new]
    fn new(rules_json: &[u8], max_record_bytes: usize, cache_max: usize) -> PyResult<Self> {
        Ok(Engine {
            rules: config::parse(rules_json),
            lists: None,
            gate: None,
            max_bytes: max_record_bytes,
            cache: LruCache::new(NonZeroUsize::new(cache_max.max(1)).unwrap()),
            batch: Vec::new(),
            pending: Vec::new(),
            rows: Vec::new(),
            packed: Packed::default(),
            decoded: Vec::new(),
        })
    }

    /// Replace the rules (a msgspec-encoded RulesConfig); returns the refusal, if any.
    fn set_rules(&mut self, rules_json: &[u8]) -> Option<String> {
        self.rules = config::parse(rules_json);
        self.refusal()
    }

    /// Set (or with None clear) the shadow rule set; returns its refusal, if any (then the bridge
    /// sends every record to Python: an event is never called quiet on a guess about the shadow).
    #[pyo3(signature = (rules_json))]
    fn set_gate(&mut self, rules_json: Option<&[u8]>) -> Option<String> {
        self.gate = rules_json.map(config::parse);
        match &self.gate {
            Some(Err(why)) => Some(why.clone()),
            _ => None,
        }
    }

    /// Why the engine refuses the current rules (every record then goes to Python), or None.
    fn refusal(&self) -> Option<String> {
        self.rules.as_ref().err().cloned()
    }

    /// The lists the enabled custom rules read (the bridge sends these with set_lists).
    fn list_names(&self) -> Vec<String> {
        self.rules
            .as_ref()
            .map(|r| r.needs.lists.clone())
            .unwrap_or_default()
    }

    /// Replace the lists: name -> value -> expiry (epoch ms of event time; 0: never).
    fn set_lists(&mut self, lists: Lists) {
        self.lists = Some(lists);
    }

    /// Parse a batch; return (cards to load from Redis, indices of records for the Python path).
    fn scan(
        &mut self,
        py: Python<'_>,
        records: &Bound<'_, PyList>,
    ) -> PyResult<(Vec<String>, Vec<usize>)> {
        self.batch.clear();
        self.decoded.clear();
        self.pending.clear();
        self.rows.clear();
        let mut raws = Vec::with_capacity(records.len());
        for rec in records.iter() {
            let (record, raw) = read_record(&rec, self.max_bytes)?;
            self.batch.push(record);
            raws.push(raw);
        }
        Ok(unlocked(py, self.batch.len(), || self.parse_all(raws)))
    }

    /// The scanned batch's parsed events as columns, for the model's features (bridge/native.py):
    /// (record indices, txn ids, event times in ms, card ids, merchant ids, amounts, currencies).
    /// Records handed to Python (scan's second list) are not in it: Python decoded those itself.
    #[allow(clippy::type_complexity)]
    fn columns(
        &self,
    ) -> (
        Vec<usize>,
        Vec<&str>,
        Vec<i64>,
        Vec<&str>,
        Vec<&str>,
        Vec<f64>,
        Vec<&str>,
    ) {
        let n = self.batch.len();
        let mut out = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for (i, rec) in self.batch.iter().enumerate() {
            if let Some(ev) = &rec.event {
                out.0.push(i);
                out.1.push(ev.txn_id());
                out.2.push(ev.t_ms);
                out.3.push(ev.card_id());
                out.4.push(ev.merchant_id());
                out.5.push(ev.amount);
                out.6.push(ev.currency());
            }
        }
        out
    }

    /// The scanned batch as the model's int64 columns (bytes), numbered in `ids`: (record indices,
    /// event times s, card ids, merchant ids, US cents, kinds int8, copied rows); see
    /// serving_ids::model_columns. `decoded`: the records Python decoded, kept for model_place.
    /// No Python object per parsed event.
    #[allow(clippy::type_complexity)]
    fn model_columns<'py>(
        &mut self,
        py: Python<'py>,
        mut ids: PyRefMut<'py, serving_ids::ServingIds>,
        rates: HashMap<String, f64>,
        max_s: i64,
        max_time: i64,
        decoded: Vec<serving_ids::Decoded>,
    ) -> Bound<'py, PyTuple> {
        self.decoded = decoded;
        let (batch, slow, ids) = (&self.batch, &self.decoded, &mut *ids);
        let c = unlocked(py, batch.len(), || {
            serving_ids::model_columns(batch, slow, ids, &rates, max_s, max_time)
        });
        let int = |v: &[i64]| PyBytes::new_bound(py, &serving_ids::int_bytes(v));
        PyTuple::new_bound(
            py,
            [
                int(&c.index),
                int(&c.secs),
                int(&c.cards),
                int(&c.terms),
                int(&c.cents),
                PyBytes::new_bound(py, &c.kinds),
                int(&c.first),
            ],
        )
    }

    /// Place the rows of these record indices (int64 bytes) in `ids`, by merchant and event time.
    fn model_place(
        &self,
        py: Python<'_>,
        mut ids: PyRefMut<'_, serving_ids::ServingIds>,
        index: &[u8],
    ) -> PyResult<()> {
        let index = features::ints(index, "model_place: index")?;
        let (batch, slow, ids) = (&self.batch, &self.decoded, &mut *ids);
        unlocked(py, index.len(), || {
            serving_ids::model_place(batch, slow, ids, &index)
        })
    }

    /// The champion's scores of the scanned batch (`model_score`), by record index; a record not
    /// given one reads 0, as in Python. Between scan and detect.
    fn set_scores(&mut self, indices: Vec<usize>, scores: Vec<f64>) -> PyResult<()> {
        if indices.len() != scores.len() {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "set_scores: indices and scores differ in length",
            ));
        }
        for (i, score) in indices.into_iter().zip(scores) {
            if let Some(ev) = self.batch.get_mut(i).and_then(|r| r.event.as_mut()) {
                ev.score = score;
            }
        }
        Ok(())
    }

    /// Whether a card's state is cached.
    fn __contains__(&self, card_id: &str) -> bool {
        self.cache.contains(card_id)
    }

    fn __len__(&self) -> usize {
        self.cache.len()
    }

    /// Evaluate the scanned batch in order; see bridge/native.py for the callback protocol.
    /// Returns (seconds, cities, geo, scenarios, instances, scored). With `state_key_prefix`,
    /// the newest `row_limit` rows and the new states are also RESP-encoded for packed().
    #[pyo3(signature = (loaded, slow_cards, slow, canonical, state_key_prefix=None, row_limit=None))]
    #[allow(clippy::too_many_arguments)]
    fn detect<'py>(
        &mut self,
        py: Python<'py>,
        loaded: &Bound<'py, PyDict>,
        slow_cards: HashMap<usize, String>,
        slow: &Bound<'py, PyAny>,
        canonical: &Bound<'py, PyAny>,
        state_key_prefix: Option<String>,
        row_limit: Option<usize>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let mut stored: HashMap<String, Option<Vec<u8>>> = HashMap::with_capacity(loaded.len());
        for (k, v) in loaded.iter() {
            let raw = if v.is_none() {
                None
            } else {
                Some(v.downcast::<PyBytes>()?.as_bytes().to_vec())
            };
            stored.insert(k.extract()?, raw);
        }
        let mut run = batch::Run::new(std::mem::take(&mut self.batch), slow_cards, stored);
        let n = run.len();
        let (rules, gate) = match &self.gate {
            None => (self.rules.as_ref().ok(), None),
            Some(Ok(g)) => (self.rules.as_ref().ok(), Some(g)),
            Some(Err(_)) => (None, None), // a refused shadow set: Python decides every record
        };
        unlocked(py, n, || {
            run.quiet_pass(rules, gate, self.lists.as_ref(), &self.cache)
        });
        run.python_pass(
            py,
            rules,
            gate,
            self.lists.as_ref(),
            &self.cache,
            slow,
            canonical,
        )?;
        let rates = rules.map(|r| &r.currency); // every quiet record was decided under these
        let (tally, pending, rows, scored) = unlocked(py, n, || run.finish(row_limit, rates));
        self.pending = pending;
        self.rows = rows;
        self.packed = match &state_key_prefix {
            Some(prefix) => unlocked(py, n, || Packed::build(&self.rows, &self.pending, prefix)),
            None => Packed::default(),
        };
        tally.into_py_tuple(py, scored)
    }

    /// The batch's packed writes: (row_count, rows, state_count, state_keys, state_values).
    fn packed<'py>(
        &self,
        py: Python<'py>,
    ) -> (
        usize,
        Bound<'py, PyBytes>,
        usize,
        Bound<'py, PyBytes>,
        Bound<'py, PyBytes>,
    ) {
        let p = &self.packed;
        (
            p.row_count,
            PyBytes::new_bound(py, &p.rows),
            p.state_count,
            PyBytes::new_bound(py, &p.keys),
            PyBytes::new_bound(py, &p.values),
        )
    }

    /// The batch's rows as bytes objects (tests and the unpacked path).
    fn batch_rows<'py>(&self, py: Python<'py>) -> Bound<'py, PyList> {
        PyList::new_bound(py, self.rows.iter().map(|r| PyBytes::new_bound(py, r)))
    }

    /// The batch's new states as (card, bytes) pairs, first-touched order.
    fn batch_states<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty_bound(py);
        for (card, _, s) in &self.pending {
            let raw = match s {
                Held::Native(s) => state::encode(s),
                Held::Foreign(raw) => raw.clone(),
            };
            out.append((card, PyBytes::new_bound(py, &raw)))?;
        }
        Ok(out)
    }

    /// The batch is in Redis: its card states become the cache's.
    fn commit(&mut self, py: Python<'_>) {
        let n = self.pending.len();
        unlocked(py, n, || {
            for (card, partition, s) in self.pending.drain(..) {
                match s {
                    Held::Native(s) => {
                        self.cache.put(card, (partition, s));
                    }
                    Held::Foreign(_) => {
                        self.cache.pop(&card); // read back from Redis, by Python, next time
                    }
                }
            }
        });
        self.rows.clear();
        self.packed = Packed::default();
    }

    /// Forget cards last seen on these partitions (another owner may write them now).
    fn drop_partitions(&mut self, partitions: Vec<i64>) -> usize {
        let doomed: Vec<String> = self
            .cache
            .iter()
            .filter(|(_, (p, _))| partitions.contains(p))
            .map(|(k, _)| k.clone())
            .collect();
        for card in &doomed {
            self.cache.pop(card);
        }
        doomed.len()
    }

    fn clear(&mut self) {
        self.cache.clear();
        self.pending.clear();
        self.batch.clear();
        self.decoded.clear();
        self.rows.clear();
    }
}

impl Engine {
    fn parse_all(&mut self, raws: Vec<Option<Vec<u8>>>) -> (Vec<String>, Vec<usize>) {
        let mut missing: Vec<String> = Vec::new();
        let mut listed: HashSet<String> = HashSet::new();
        let mut slow = Vec::new();
        for (i, (rec, raw)) in self.batch.iter_mut().zip(raws).enumerate() {
            rec.event = raw.and_then(event::parse);
            match &rec.event {
                Some(ev) => {
                    let card = ev.card_id();
                    if !self.cache.contains(card) && listed.insert(card.to_owned()) {
                        missing.push(card.to_owned());
                    }
                }
                None => {
                    rec.scenario = None; // the Python path reads this record's headers itself
                    rec.scenario_id = None;
                    slow.push(i);
                }
            }
        }
        (missing, slow)
    }
}

#[pymodule]
fn fraud_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Engine>()?;
    m.add_class::<features::FeatureHistory>()?;
    m.add_class::<serving_ids::ServingIds>()?;
    m.add_class::<trees::Trees>()?;
    Ok(())
}
