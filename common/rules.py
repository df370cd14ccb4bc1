"""Live-editable rule parameters: typed config, editor specs, defaults and validation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

from common.money import CURRENCIES, REPORTING
from common.rulelang.model import CustomRule, Suppression

DEFAULTS_PATH = Path(__file__).with_name("rules_defaults.json")
FieldType = Literal["bool", "int", "float", "str_list"]
MAX_LIST_ITEMS = 200
MAX_STR_LEN = 100
_encoder = msgspec.json.Encoder()


class RuleValidationError(ValueError):
    """A rules document or change that cannot be applied; the message starts with the offending path.

    `path` is that path alone ("rules[3].when.all[2].value", "velocity.max_count"; "" when the
    problem is the whole document), for a form to show the message beside its field.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


# --- typed config (one frozen struct per rule family) ------------------------------------------
class _Rule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    enabled: bool
    weight: float  # score of a rule that just fires; grows to 1 as the observation goes further over


class HighAmountRule(_Rule, frozen=True, kw_only=True):
    threshold: float


class UnknownLocationRule(_Rule, frozen=True, kw_only=True):
    flag_missing_coords: bool
    deny_cities: tuple[str, ...]


class VelocityRule(_Rule, frozen=True, kw_only=True):
    window_s: int
    max_count: int
    max_chance: float
    max_sum: float


class ImpossibleTravelRule(_Rule, frozen=True, kw_only=True):
    max_speed_kmh: float
    min_distance_km: float


class CardTestingRule(_Rule, frozen=True, kw_only=True):
    window_s: int
    tiny_below: float
    min_tiny: int
    min_merchants: int
    large_at_least: float


class AmountAnomalyRule(_Rule, frozen=True, kw_only=True):
    multiplier: float
    min_amount: float
    min_z: float
    min_history: int


class MlAnomalyRule(_Rule, frozen=True, kw_only=True):
    threshold: float
    warmup: int


class AlertingConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    min_score: float
    medium_score: float
    high_score: float


class RulesConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """Every rule's parameters; build with default_rules(), validate_rules(), apply_changes() or
    common.rulelang.parse_document(). Without custom rules or suppressions it encodes as it always did."""

    high_amount: HighAmountRule
    unknown_location: UnknownLocationRule
    velocity: VelocityRule
    impossible_travel: ImpossibleTravelRule
    card_testing: CardTestingRule
    amount_anomaly: AmountAnomalyRule
    ml_anomaly: MlAnomalyRule
    alerting: AlertingConfig
    currency: dict[str, float]  # US dollars per unit of each currency (common.money): amount rules
    custom: tuple[CustomRule, ...] = ()  # rules written in the language (docs/rules-language.md)
    suppressions: tuple[Suppression, ...] = ()


# --- editor metadata -----------------------------------------------------------------------------
class FieldSpec(msgspec.Struct, frozen=True):
    """One editable field: how the dashboard renders and bounds it."""

    name: str
    label: str
    description: str
    type: FieldType
    min: float | None = None
    max: float | None = None


class RuleSpec(msgspec.Struct, frozen=True):
    """One rule family (or the `alerting` section) and its fields, in display order."""

    name: str
    label: str
    description: str
    fields: tuple[FieldSpec, ...]


_COMMON = (
    FieldSpec("enabled", "Enabled", "Evaluate this rule on every transaction.", "bool"),
    FieldSpec("weight", "Weight", "Score when the rule just fires (rises to 1 further over).", "float", 0, 1),
)
# One row per field: name, label, description, type, min, max. Kept as a table for reading.
# fmt: off
_TABLE: dict[str, tuple[str, str, tuple[tuple[Any, ...], ...]]] = {
    "high_amount": ("High amount", "Amount above a fixed limit.", (
        ("threshold", "Threshold ($)", "Fire when the amount (in US dollars) exceeds this.", "float", 1, 1e6),
    )),
    "unknown_location": ("Unknown location", "City is UNKNOWN_IP_ADDR, coordinates are missing, or the city "
                         "is on the deny list.", (
        ("flag_missing_coords", "Flag missing coordinates", "Fire when lat/lon are null.", "bool"),
        ("deny_cities", "Deny-listed cities", "Cities that always fire (exact name).", "str_list"),
    )),
    "velocity": ("Velocity", "Too many or too much on one card within a sliding event-time window.", (
        ("window_s", "Window (s)", "Length of the sliding window.", "int", 1, 3600),
        ("max_count", "Max count", "Fire at this many transactions in the window.", "int", 2, 50),
        ("max_chance", "Max chance at card's rate", "Busy cards: fire only if their own usual rate gives "
         "this count with at most this probability (1 = off).", "float", 0, 1),
        ("max_sum", "Max sum ($)", "Fire when 2+ transactions in the window sum to this.", "float", 1, 1e7),
    )),
    "impossible_travel": ("Impossible travel", "Consecutive located transactions too far apart for the "
                          "time between them.", (
        ("max_speed_kmh", "Max speed (km/h)", "Fire above this great-circle speed.", "float", 10, 20000),
        ("min_distance_km", "Min distance (km)", "Ignore shorter hops (GPS jitter).", "float", 0, 20000),
    )),
    "card_testing": ("Card testing", "Several tiny amounts at several merchants, then a large one.", (
        ("window_s", "Window (s)", "How far back tiny amounts count.", "int", 60, 86400),
        ("tiny_below", "Tiny below ($)", "An amount below this is a probe.", "float", 0.01, 100),
        ("min_tiny", "Min probes", "Probes needed before the large amount.", "int", 1, 16),
        ("min_merchants", "Min merchants", "Distinct merchants among the probes.", "int", 1, 16),
        ("large_at_least", "Large at least ($)", "The amount that completes the pattern.", "float", 1, 1e6),
    )),
    "amount_anomaly": ("Amount anomaly", "Amount far above this card's own typical spend.", (
        ("multiplier", "Multiplier", "Fire above this many times the card's typical (geometric-mean) amount.",
         "float", 1, 1000),
        ("min_amount", "Floor ($)", "Never fire below this amount.", "float", 0, 1e6),
        ("min_z", "Min z (log)", "Also this many std devs above the card's log-mean.", "float", 0, 20),
        ("min_history", "Warm-up (txns)", "Card history needed before it can fire.", "int", 2, 1000),
    )),
    "ml_anomaly": ("ML anomaly (HalfSpaceTrees)", "Online model score; process-local, costs throughput.", (
        ("threshold", "Threshold", "Fire at or above this model score.", "float", 0, 1),
        ("warmup", "Warm-up (txns)", "Events the model learns before it can fire.", "int", 0, 1_000_000),
    )),
    "alerting": ("Alerting", "How rule scores become alerts.", (
        ("min_score", "Alert at score", "Raise an alert at or above this score.", "float", 0, 1),
        ("medium_score", "Medium at", "Severity medium at or above this score.", "float", 0, 1),
        ("high_score", "High at", "Severity high at or above this score.", "float", 0, 1),
    )),
}
# fmt: on
_TABLE["currency"] = (
    "Exchange rates",
    "US dollars per unit of each currency: amount rules compare every amount in US dollars.",
    tuple(
        (
            code,
            f"{code} in $",
            f"US dollars per {code} (approximate; edit when rates move).",
            "float",
            1e-6,
            1e4,
        )
        for code in CURRENCIES
        if code != REPORTING
    ),
)
_SETTINGS = {"alerting", "currency"}  # sections that are not rules: no enabled/weight
RULE_SPECS: dict[str, RuleSpec] = {
    name: RuleSpec(
        name, label, text, (() if name in _SETTINGS else _COMMON) + tuple(FieldSpec(*row) for row in rows)
    )
    for name, (label, text, rows) in _TABLE.items()
}


# --- validation ----------------------------------------------------------------------------------
def check_value(where: str, spec: FieldSpec, value: Any) -> Any:
    """Return the value in its canonical type or raise RuleValidationError naming `where`."""
    kind = spec.type
    if kind == "bool":
        if not isinstance(value, bool):
            raise RuleValidationError(f"{where}: expected true/false, got {value!r:.60}", where)
        return value
    if kind == "str_list":
        return _check_str_list(where, value)
    # bool is an int subclass; a checkbox value must not pass as a number
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleValidationError(f"{where}: expected a number, got {value!r:.60}", where)
    if kind == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise RuleValidationError(f"{where}: expected a whole number, got {value!r}", where)
            value = int(value)
    else:
        try:
            value = float(value)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise RuleValidationError(f"{where}: must be a finite number, got {value!r}", where)
    if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
        raise RuleValidationError(f"{where}: {value!r} is out of range [{spec.min:g}, {spec.max:g}]", where)
    return value


def _check_str_list(where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise RuleValidationError(f"{where}: expected a list of strings, got {value!r:.60}", where)
    if len(value) > MAX_LIST_ITEMS:
        raise RuleValidationError(f"{where}: at most {MAX_LIST_ITEMS} entries", where)
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip() or len(item) > MAX_STR_LEN:
            raise RuleValidationError(
                f"{where}: entries must be non-empty strings of <= {MAX_STR_LEN} characters, "
                f"got {item!r:.60}",
                where,
            )
        if item.strip() not in out:
            out.append(item.strip())
    return tuple(out)


_EXTRAS = ("custom", "suppressions")  # RulesConfig sections of the rule language (common.rulelang)


def _merge(raw: Any, base: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Check names and types of `raw`, filling missing fields from `base` (None: all required)."""
    if not isinstance(raw, Mapping):
        raise RuleValidationError(f"rules: expected an object, got {type(raw).__name__}")
    for name in raw:
        if name not in RULE_SPECS and name not in _EXTRAS:
            raise RuleValidationError(f"unknown rule {name!r:.60}; known: {', '.join(RULE_SPECS)}")
    merged: dict[str, dict[str, Any]] = {}
    for name, spec in RULE_SPECS.items():
        section = raw.get(name, {} if base is not None else None)
        if not isinstance(section, Mapping):
            raise RuleValidationError(f"{name}: expected an object, got {section!r:.60}")
        known = {f.name: f for f in spec.fields}
        for key in section:
            if key not in known:
                raise RuleValidationError(f"{name}: unknown field {key!r:.60}; known: {', '.join(known)}")
        merged[name] = {}
        for fname, fspec in known.items():
            if fname in section:
                merged[name][fname] = check_value(f"{name}.{fname}", fspec, section[fname])
            elif base is not None:
                merged[name][fname] = base[name][fname]
            else:
                raise RuleValidationError(f"{name}.{fname}: missing")
    return merged


def build_config(
    merged: dict[str, dict[str, Any]],
    custom: tuple[CustomRule, ...] = (),
    suppressions: tuple[Suppression, ...] = (),
) -> RulesConfig:
    """The config from checked sections (every RULE_SPECS field present) and validated custom rules."""
    alerting = merged["alerting"]
    if not alerting["medium_score"] <= alerting["high_score"]:
        raise RuleValidationError(
            "alerting.medium_score: must not exceed alerting.high_score", "alerting.medium_score"
        )
    cfg = msgspec.convert({name: merged[name] for name in RULE_SPECS}, RulesConfig)
    return msgspec.structs.replace(cfg, custom=custom, suppressions=suppressions)


def rules_to_dict(cfg: RulesConfig) -> dict[str, Any]:
    """Return the plain JSON form of a config (lists for str_list fields; `custom` and `suppressions`
    only when there are any, in their document form)."""
    body: dict[str, Any] = msgspec.json.decode(_encoder.encode(cfg))
    return body


def _extras(
    raw: Mapping[str, Any], base: RulesConfig
) -> tuple[tuple[CustomRule, ...], tuple[Suppression, ...]]:
    """Custom rules and suppressions of a stored/partial mapping, validated; absent ones from `base`."""
    # Late import: the language validator imports this module (RuleValidationError, RULE_SPECS).
    from common.rulelang.document import parse_custom_list, parse_suppressions

    custom = parse_custom_list(raw["custom"], "custom") if "custom" in raw else base.custom
    if "suppressions" not in raw and "custom" not in raw:
        return custom, base.suppressions
    sups = raw.get("suppressions", msgspec.to_builtins(base.suppressions))
    return custom, parse_suppressions(sups, "suppressions", {r.id for r in custom})


def validate_rules(raw: Any, base: RulesConfig | None = None) -> RulesConfig:
    """Validate a rules mapping; rules/fields it omits come from `base` (default: default_rules())."""
    base = base if base is not None else default_rules()
    merged = _merge(raw, rules_to_dict(base))
    return build_config(merged, *_extras(raw, base))


def apply_changes(cfg: RulesConfig, changes: Mapping[str, Mapping[str, Any]]) -> RulesConfig:
    """Return `cfg` with a partial update {"rule": {"field": value}} applied and validated.

    Custom rules and suppressions stay as they are unless `changes` names those sections.
    """
    return build_config(_merge(changes, rules_to_dict(cfg)), *_extras(changes, cfg))


_DEFAULTS: RulesConfig | None = None


def default_rules() -> RulesConfig:
    """Return the shipped defaults from rules_defaults.json (every field must be present there)."""
    global _DEFAULTS  # noqa: PLW0603 - parse the file once; RulesConfig is immutable
    if _DEFAULTS is None:
        _DEFAULTS = build_config(_merge(msgspec.json.decode(DEFAULTS_PATH.read_bytes()), None))
    return _DEFAULTS
