//! The rules config as the bridge sends it (a msgspec-encoded RulesConfig), read strictly.
//!
//! Every struct refuses unknown fields: a field, rule family or section this engine does not know
//! may change what fires, so such a config is refused whole (every event goes to Python) rather
//! than half-read. Some known fields are read but not used by the quiet gates (`weight`,
//! `min_merchants`, `min_z`, ...): each gate is a necessary condition of its rule whatever they are.
#![allow(dead_code)] // the fields read only so that no unknown one passes

use std::collections::HashMap;

use serde::Deserialize;

use crate::rules::{self, Cond, Needs};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HighAmount {
    pub enabled: bool,
    pub weight: f64,
    pub threshold: f64,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnknownLocation {
    pub enabled: bool,
    pub weight: f64,
    pub flag_missing_coords: bool,
    pub deny_cities: Vec<String>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Velocity {
    pub enabled: bool,
    pub weight: f64,
    pub window_s: i64,
    pub max_count: i64,
    pub max_chance: f64,
    pub max_sum: f64,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Travel {
    pub enabled: bool,
    pub weight: f64,
    pub max_speed_kmh: f64,
    pub min_distance_km: f64,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardTesting {
    pub enabled: bool,
    pub weight: f64,
    pub window_s: i64,
    pub tiny_below: f64,
    pub min_tiny: i64,
    pub min_merchants: i64,
    pub large_at_least: f64,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountAnomaly {
    pub enabled: bool,
    pub weight: f64,
    pub multiplier: f64,
    pub min_amount: f64,
    pub min_z: f64,
    pub min_history: i64,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ml {
    pub enabled: bool,
    pub weight: f64,
    pub threshold: f64,
    pub warmup: i64,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alerting {
    pub min_score: f64,
    pub medium_score: f64,
    pub high_score: f64,
}

/// A custom rule as the document writes it; `when` is compiled by rules.rs.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRule {
    pub id: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub score: f64,
    pub when: serde_json::Value,
    pub explain: String,
}

/// Suppressions only ever remove alerts, so the quiet decision never reads them: an event on
/// which no rule fires raises nothing with or without them. Their shape is still checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    pub list: String,
    pub field: String,
    pub rules: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    high_amount: HighAmount,
    unknown_location: UnknownLocation,
    velocity: Velocity,
    impossible_travel: Travel,
    card_testing: CardTesting,
    amount_anomaly: AmountAnomaly,
    ml_anomaly: Ml,
    alerting: Alerting,
    /// US dollars per unit of each currency (the rules' `currency` section): amounts compare in $
    currency: HashMap<String, f64>,
    #[serde(default)]
    custom: Vec<CustomRule>,
    #[serde(default)]
    suppressions: Vec<Suppression>,
}

pub struct Rules {
    pub high_amount: HighAmount,
    pub unknown_location: UnknownLocation,
    pub velocity: Velocity,
    pub impossible_travel: Travel,
    pub card_testing: CardTesting,
    pub amount_anomaly: AmountAnomaly,
    pub ml_anomaly: Ml,
    pub currency: HashMap<String, f64>,
    /// The enabled custom rules, compiled; an event is quiet only if each evaluates to false.
    pub custom: Vec<Cond>,
    /// What they read: lists (the bridge sends their entries), aggregates, history columns.
    pub needs: Needs,
}

/// Read a rules config; Err is the refusal, in words for the log and the health panel.
pub fn parse(raw: &[u8]) -> Result<Rules, String> {
    let w: Wire = serde_json::from_slice(raw)
        .map_err(|e| format!("the rules config does not parse natively ({e})"))?;
    let mut custom = Vec::new();
    let mut needs = Needs::default();
    for rule in w.custom.iter().filter(|r| r.enabled) {
        let cond = rules::compile_into(&rule.when, &mut needs)
            .map_err(|why| format!("rule {} uses {why}", rule.id))?;
        custom.push(cond);
    }
    Ok(Rules {
        high_amount: w.high_amount,
        unknown_location: w.unknown_location,
        velocity: w.velocity,
        impossible_travel: w.impossible_travel,
        card_testing: w.card_testing,
        amount_anomaly: w.amount_anomaly,
        ml_anomaly: w.ml_anomaly,
        currency: w.currency,
        custom,
        needs,
    })
}
