//! Per-batch aggregates of scored events, handed to the Python plan builder as plain tuples.

use std::collections::{BTreeMap, HashMap};

use pyo3::prelude::*;
use pyo3::types::PyTuple;

#[derive(Default)]
pub struct Tally {
    seconds: BTreeMap<i64, (i64, i64)>, // second -> (transactions, amount in US cents)
    cities: Vec<(String, i64)>,         // first-seen order
    city_at: HashMap<String, usize>,
    geo: Vec<(String, f64, f64, Option<String>)>, // newest located event per city
    geo_at: HashMap<String, usize>,
    scenarios: Vec<(String, i64)>,
    instances: Vec<(String, Vec<String>)>, // fraud scenario -> instance ids seen
}

fn bump(list: &mut Vec<(String, i64)>, at: &mut HashMap<String, usize>, key: &str) {
    match at.get(key) {
        Some(&i) => list[i].1 += 1,
        None => {
            at.insert(key.to_owned(), list.len());
            list.push((key.to_owned(), 1));
        }
    }
}

impl Tally {
    /// Count one scored event; `usd` is its amount in US dollars (amount * rate, as Python's
    /// tally_scored computes it: the cents must come out identical).
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        ts_ms: i64,
        usd: f64,
        city: &str,
        lat: Option<f64>,
        lon: Option<f64>,
        country: Option<&str>,
        scenario: Option<&str>,
        sid: Option<&str>,
    ) {
        let e = self.seconds.entry(ts_ms.div_euclid(1000)).or_insert((0, 0));
        e.0 += 1;
        e.1 += (usd * 100.0).round_ties_even() as i64; // Python's round(): half to even
        bump(&mut self.cities, &mut self.city_at, city);
        if let (Some(la), Some(lo)) = (lat, lon) {
            let item = (city.to_owned(), la, lo, country.map(str::to_owned));
            match self.geo_at.get(city) {
                Some(&i) => self.geo[i] = item,
                None => {
                    self.geo_at.insert(city.to_owned(), self.geo.len());
                    self.geo.push(item);
                }
            }
        }
        if let Some(s) = scenario {
            match self.scenarios.iter_mut().find(|(k, _)| k == s) {
                Some((_, n)) => *n += 1,
                None => self.scenarios.push((s.to_owned(), 1)),
            }
            if let (Some(id), true) = (sid, s != "normal") {
                match self.instances.iter_mut().find(|(k, _)| k == s) {
                    Some((_, ids)) => ids.push(id.to_owned()),
                    None => self.instances.push((s.to_owned(), vec![id.to_owned()])),
                }
            }
        }
    }

    /// (seconds, cities, geo, scenarios, instances, scored)
    pub fn into_py_tuple(self, py: Python<'_>, scored: usize) -> PyResult<Bound<'_, PyTuple>> {
        let seconds: Vec<(i64, i64, i64)> = self
            .seconds
            .into_iter()
            .map(|(s, (n, c))| (s, n, c))
            .collect();
        Ok(PyTuple::new_bound(
            py,
            [
                seconds.into_py(py).into_bound(py),
                self.cities.into_py(py).into_bound(py),
                self.geo.into_py(py).into_bound(py),
                self.scenarios.into_py(py).into_bound(py),
                self.instances.into_py(py).into_bound(py),
                scored.into_py(py).into_bound(py),
            ],
        ))
    }
}
