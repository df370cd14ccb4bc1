//! One batch through detection: a quiet pass without the GIL, then the Python pass, in order.
//!
//! The quiet pass decides, record by record, every event no rule can fire on. The first record of
//! a card it cannot decide (a possible alert, a record outside the native subset, a stored state
//! only Python can read) blocks that card: its later records wait for the Python pass too, so
//! each card's state still goes through its records in order.

use std::collections::{HashMap, HashSet};

use lru::LruCache;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::config::Rules;
use crate::detect;
use crate::eval::Lists;
use crate::event::Event;
use crate::state::{self, CardState};
use crate::tally::Tally;

const QUIET_TAIL: &[u8] = b",\"alert\":false,\"score\":0.0,\"severity\":\"low\",\"rt\":";

/// The Python pass's answer for one record: new state, row, city, amount in US dollars (at the
/// Python detector's rates), lat, lon, country, scenario, scenario id.
type SlowAnswer = (
    Vec<u8>,
    Vec<u8>,
    String,
    f64,
    Option<f64>,
    Option<f64>,
    Option<String>,
    Option<String>,
    Option<String>,
);
/// A finished batch: its tally, the new card states (card, partition, state), its rows and the
/// number of scored records.
pub type Finished = (Tally, Vec<(String, i64, Held)>, Vec<Vec<u8>>, usize);

/// A card's newest state: one this engine reads, or bytes only Python reads (a layout newer than
/// cs1 or cs2), which are kept verbatim and send every record of the card to Python.
pub enum Held {
    Native(CardState),
    Foreign(Vec<u8>),
}

pub struct Record {
    pub partition: i64,
    pub ts_ms: i64,
    pub event: Option<Event>,
    pub scenario: Option<String>,
    pub scenario_id: Option<String>,
}

pub struct SlowScored {
    row: Vec<u8>,
    city: String,
    usd: f64,
    lat: Option<f64>,
    lon: Option<f64>,
    country: Option<String>,
    scenario: Option<String>,
    sid: Option<String>,
}

pub enum Done {
    Todo,
    Quiet, // decided here: the tallied fields and the row come from the record's event
    Slow(Box<SlowScored>),
    Dead,
}

enum Prev<'a> {
    Have(&'a CardState),
    Parsed(CardState),
    Fresh,
    NeedsPython(&'a [u8]),
}

type Cache = LruCache<String, (i64, CardState)>;

pub struct Run {
    records: Vec<Record>,
    slow_cards: HashMap<usize, String>,
    stored: HashMap<String, Option<Vec<u8>>>,
    done: Vec<Done>,
    index: HashMap<String, usize>,
    pending: Vec<(String, i64, Held)>,
    first_seen: Vec<usize>, // per pending entry: index of the card's first record in the batch
    fresh: CardState,
}

impl Run {
    pub fn new(
        records: Vec<Record>,
        slow_cards: HashMap<usize, String>,
        stored: HashMap<String, Option<Vec<u8>>>,
    ) -> Self {
        let done = records.iter().map(|_| Done::Todo).collect();
        Run {
            records,
            slow_cards,
            stored,
            done,
            index: HashMap::new(),
            pending: Vec::new(),
            first_seen: Vec::new(),
            fresh: CardState::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    fn card_of(&self, i: usize) -> Option<String> {
        match &self.records[i].event {
            Some(ev) => Some(ev.card_id().to_owned()),
            None => self.slow_cards.get(&i).cloned(),
        }
    }

    fn lookup<'a>(&'a self, card: &str, cache: &'a Cache) -> Prev<'a> {
        if let Some(&k) = self.index.get(card) {
            return match &self.pending[k].2 {
                Held::Native(s) => Prev::Have(s),
                Held::Foreign(raw) => Prev::NeedsPython(raw),
            };
        }
        if let Some((_, s)) = cache.peek(card) {
            return Prev::Have(s);
        }
        match self.stored.get(card) {
            None | Some(None) => Prev::Fresh,
            Some(Some(raw)) => match state::decode(raw) {
                Some(s) if state::consistent(&s) => Prev::Parsed(s),
                Some(_) => Prev::Fresh, // as decode_state(): broken invariants read as a fresh card
                None => Prev::NeedsPython(raw),
            },
        }
    }

    fn store(&mut self, card: String, partition: i64, next: Held, at: usize) {
        match self.index.get(&card) {
            Some(&k) => {
                self.pending[k].1 = partition; // the partition of the card's newest record
                self.pending[k].2 = next;
                self.first_seen[k] = self.first_seen[k].min(at);
            }
            None => {
                self.index.insert(card.clone(), self.pending.len());
                self.pending.push((card, partition, next));
                self.first_seen.push(at);
            }
        }
    }

    fn quiet_row(&self, i: usize) -> Vec<u8> {
        let rec = &self.records[i];
        let mut row = rec
            .event
            .as_ref()
            .expect("a quiet record was parsed")
            .row_head();
        row.extend_from_slice(QUIET_TAIL);
        state::write_int(&mut row, rec.ts_ms);
        row.push(b'}');
        row
    }

    /// Decide every record that needs no Python, in order (runs without the GIL). Without
    /// rules (the engine refused them) nothing is decided here.
    pub fn quiet_pass(
        &mut self,
        rules: Option<&Rules>,
        gate: Option<&Rules>,
        lists: Option<&Lists>,
        cache: &Cache,
    ) {
        let Some(rules) = rules else { return };
        let mut blocked: HashSet<String> = HashSet::new();
        for i in 0..self.records.len() {
            let Some(card) = self.card_of(i) else {
                continue;
            };
            if blocked.contains(&card) {
                continue;
            }
            let next = match (&self.records[i].event, self.lookup(&card, cache)) {
                (None, _) | (_, Prev::NeedsPython(_)) => None,
                (Some(ev), Prev::Have(s)) => detect::quiet_gated(rules, gate, lists, ev, s),
                (Some(ev), Prev::Parsed(s)) => detect::quiet_gated(rules, gate, lists, ev, &s),
                (Some(ev), Prev::Fresh) => detect::quiet_gated(rules, gate, lists, ev, &self.fresh),
            };
            match next {
                Some(next) => {
                    self.done[i] = Done::Quiet;
                    let partition = self.records[i].partition;
                    self.store(card, partition, Held::Native(next), i);
                }
                None => {
                    blocked.insert(card);
                }
            }
        }
    }

    /// Decide the rest in order, through the Python engine where needed (GIL held).
    #[allow(clippy::too_many_arguments)]
    pub fn python_pass(
        &mut self,
        py: Python<'_>,
        rules: Option<&Rules>,
        gate: Option<&Rules>,
        lists: Option<&Lists>,
        cache: &Cache,
        slow: &Bound<'_, PyAny>,
        canonical: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        for i in 0..self.records.len() {
            if !matches!(self.done[i], Done::Todo) {
                continue;
            }
            let card = self.card_of(i);
            let mut foreign: Option<Vec<u8>> = None; // a state only Python reads
            let prev: Option<CardState> = match &card {
                None => None,
                Some(c) => match self.lookup(c, cache) {
                    Prev::Have(s) => Some(s.clone()),
                    Prev::Parsed(s) => Some(s),
                    Prev::Fresh => None,
                    Prev::NeedsPython(raw) => {
                        let raw = raw.to_vec();
                        let fixed = parse_via_python(canonical, &raw)?;
                        if fixed.is_none() {
                            foreign = Some(raw);
                        }
                        fixed
                    }
                },
            };
            if let (Some(ev), Some(rules), None) = (&self.records[i].event, rules, &foreign) {
                let before = prev.as_ref().unwrap_or(&self.fresh);
                if let Some(next) = detect::quiet_gated(rules, gate, lists, ev, before) {
                    self.done[i] = Done::Quiet;
                    let partition = self.records[i].partition;
                    let card = card.expect("a parsed record has a card");
                    self.store(card, partition, Held::Native(next), i);
                    continue;
                }
            }
            let given = match &foreign {
                Some(raw) => Some(PyBytes::new_bound(py, raw)),
                None => prev
                    .as_ref()
                    .map(|s| PyBytes::new_bound(py, &state::encode(s))),
            };
            let answer = slow.call1((i, given))?;
            if answer.is_none() {
                self.done[i] = Done::Dead; // a dead letter: the card's state stays as it was
                continue;
            }
            let (st, row, city, usd, lat, lon, country, scenario, sid): SlowAnswer =
                answer.extract()?;
            self.done[i] = Done::Slow(Box::new(SlowScored {
                row,
                city,
                usd,
                lat,
                lon,
                country,
                scenario,
                sid,
            }));
            if let Some(c) = card {
                let next = match state::decode(&st) {
                    Some(s) => Held::Native(s),
                    None => match parse_via_python(canonical, &st)? {
                        Some(s) => Held::Native(s),
                        None => Held::Foreign(st),
                    },
                };
                let partition = self.records[i].partition;
                self.store(c, partition, next, i);
            }
        }
        Ok(())
    }

    /// The batch's tally, new states, and rows in record order: the newest `row_limit` (None: all).
    /// `rates` (US dollars per unit) are the live rules' `currency` table: amounts are summed in
    /// dollars, a currency without a rate as it is. Every quiet record was decided under them.
    pub fn finish(
        self,
        row_limit: Option<usize>,
        rates: Option<&HashMap<String, f64>>,
    ) -> Finished {
        let mut tally = Tally::default();
        let scored = self
            .done
            .iter()
            .filter(|d| matches!(d, Done::Quiet | Done::Slow(_)))
            .count();
        let skip = row_limit.map_or(0, |n| scored.saturating_sub(n)); // rows the stream would trim
        let mut rows = Vec::with_capacity(scored - skip);
        let mut seen = 0;
        for (i, done) in self.done.iter().enumerate() {
            let rec = &self.records[i];
            match done {
                Done::Quiet => {
                    let ev = rec.event.as_ref().expect("a quiet record was parsed");
                    let rate = rates.and_then(|r| r.get(ev.currency())).copied();
                    tally.add(
                        rec.ts_ms,
                        ev.amount * rate.unwrap_or(1.0),
                        ev.city(),
                        ev.lat,
                        ev.lon,
                        ev.country(),
                        rec.scenario.as_deref(),
                        rec.scenario_id.as_deref(),
                    );
                    if seen >= skip {
                        rows.push(self.quiet_row(i));
                    }
                    seen += 1;
                }
                Done::Slow(s) => {
                    tally.add(
                        rec.ts_ms,
                        s.usd,
                        &s.city,
                        s.lat,
                        s.lon,
                        s.country.as_deref(),
                        s.scenario.as_deref(),
                        s.sid.as_deref(),
                    );
                    if seen >= skip {
                        rows.push(s.row.clone());
                    }
                    seen += 1;
                }
                Done::Dead | Done::Todo => {}
            }
        }
        // New states in the order their cards first appear, as the Python path writes them.
        let mut order: Vec<usize> = (0..self.pending.len()).collect();
        order.sort_by_key(|&k| self.first_seen[k]);
        let mut slots: Vec<Option<(String, i64, Held)>> =
            self.pending.into_iter().map(Some).collect();
        let pending = order.into_iter().filter_map(|k| slots[k].take()).collect();
        (tally, pending, rows, scored)
    }
}

/// State bytes the native parser does not take, normalised by Python's decode_state(); None
/// when even the normalised bytes are not cs1/cs2 (a newer layout): Python decides that card.
fn parse_via_python(canonical: &Bound<'_, PyAny>, raw: &[u8]) -> PyResult<Option<CardState>> {
    let fixed: Vec<u8> = canonical
        .call1((PyBytes::new_bound(canonical.py(), raw),))?
        .extract()?;
    Ok(match state::decode(&fixed) {
        Some(s) if state::consistent(&s) => Some(s),
        Some(_) => Some(CardState::default()), // as decode_state(): broken invariants read fresh
        None => None,
    })
}
