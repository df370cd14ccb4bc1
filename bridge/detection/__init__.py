"""Pure fraud-detection engine: rules over one event and its card's state, no I/O."""

from bridge.detection.engine import QUIET, Decision, Detector, MlStatus, make_alert
from bridge.detection.ml import MlModel
from bridge.detection.state import CardState, decode_state, encode_state

__all__ = [
    "QUIET",
    "CardState",
    "Decision",
    "Detector",
    "MlModel",
    "MlStatus",
    "decode_state",
    "encode_state",
    "make_alert",
]
