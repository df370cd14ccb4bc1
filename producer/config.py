"""The producer's settings: CLI flag > environment variable > default (read once, in main())."""

from __future__ import annotations

from dataclasses import dataclass

from common.settings import KafkaSettings, setting
from producer.generator import DEFAULT_FRAUD_RATIO, DEFAULT_SIM_RATE
from producer.labels import DEFAULT_DELAY_S, DEFAULT_MAX_PENDING
from producer.world import DEFAULT_CARDS


@dataclass(frozen=True)
class ProducerSettings(KafkaSettings):
    """Producer configuration: CLI flag > environment variable > default."""

    rate: float = setting(20.0, "events/s sent (0 = as fast as possible)", env="PRODUCER_RATE")
    count: int = setting(0, "events to send (0 = forever)", env="PRODUCER_COUNT")
    fraud_ratio: float = setting(
        DEFAULT_FRAUD_RATIO, "share of events in fraud instances", env="PRODUCER_FRAUD_RATIO"
    )
    sim_rate: float = setting(
        DEFAULT_SIM_RATE,
        "simulated events/s of *event time* (independent of the send rate)",
        env="PRODUCER_SIM_RATE",
    )
    cards: int = setting(DEFAULT_CARDS, "cards in the simulated world", env="PRODUCER_CARDS")
    # The card population (homes, spending) is one world across runs: the bridge keeps each card's
    # history in Redis, and a world rebuilt from each run's random seed moved every card to another
    # city on restart (a flood of impossible_travel alerts). The stream seed still varies per run.
    world_seed: int = setting(
        0,
        "seed of the world (card homes, spending); the same across runs so card histories kept in "
        "Redis stay true after a restart",
        env="PRODUCER_WORLD_SEED",
    )
    state_file: str = setting(
        "",
        "where each card's holder is, saved on a clean stop and resumed on start, so a restart moves nobody",
        env="PRODUCER_STATE_FILE",
        shown="none (`make run`: `.local/run/producer-cards.json`)",
    )
    scenarios: str = setting(
        "all",
        "subset and weights, e.g. `high_amount=2,velocity_burst=1`",
        env="PRODUCER_SCENARIOS",
    )
    bootstrap_timeout_ms: int = setting(
        10_000, "unreachable Kafka: exit 2 after this", env="PRODUCER_BOOTSTRAP_TIMEOUT_MS"
    )
    # 0, not kafka-python's default: a linger adds to every alert's end-to-end latency at moderate
    # rates (measured: p50 8 ms with 0, 10 ms with 2 at 1,000 ev/s); at full speed records still
    # batch up behind the requests in flight.
    linger_ms: int = setting(0, "batching linger (part of alert latency)", env="PRODUCER_LINGER_MS")
    batch_size: int = setting(128 * 1024, "batch size in bytes", env="PRODUCER_BATCH_SIZE")
    compression: str = setting("", "compression codec (none by default)", env="PRODUCER_COMPRESSION")
    kafka_labels_topic: str = setting(
        "labels",
        "the topic of fraud / legitimate labels: analysts' resolutions, chargebacks (docs/labels.md)",
    )
    labels: bool = setting(
        False,
        "send the ground truth as delayed labels: a chargeback per fraud event (docs/labels.md)",
        env="PRODUCER_LABELS",
    )
    labels_delay_s: float = setting(
        float(DEFAULT_DELAY_S),
        "event-time delay of those labels (7 days: chargebacks come late)",
        env="PRODUCER_LABELS_DELAY_S",
    )
    labels_legitimate: bool = setting(
        False, "also a `ground_truth` legitimate label per non-fraud event", env="PRODUCER_LABELS_LEGITIMATE"
    )
    labels_max_pending: int = setting(
        DEFAULT_MAX_PENDING,
        "labels held until due; beyond it new ones are dropped and counted",
        env="PRODUCER_LABELS_MAX_PENDING",
    )
