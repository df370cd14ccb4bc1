"""Pure fraud-detection engine: rules over one event and its card's state, no I/O."""

from bridge.detection.decision import QUIET, Decision, make_alert
from bridge.detection.engine import Detector, MlStatus
from bridge.detection.ml import MlModel
from bridge.detection.state import CardState, HistoryState, decode_state, encode_state

__all__ = [
    "QUIET",
    "CardState",
    "Decision",
    "Detector",
    "HistoryState",
    "MlModel",
    "MlStatus",
    "decode_state",
    "encode_state",
    "make_alert",
]
