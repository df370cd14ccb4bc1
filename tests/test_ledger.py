"""The bridge's ledger (bridge/ledger.py): positions move on send; a refusal or an error takes them back."""

from __future__ import annotations

from bridge.ledger import Ledger


def test_a_sent_batch_moves_positions_before_redis_answers_and_a_refusal_takes_it_back() -> None:
    ledger = Ledger()
    ledger.assign({0: 100, 1: None})
    ledger.claim({0: 100, 1: 0})
    ledger.sent({0: 100, 1: 0}, {0: 150, 1: 20}, 70)
    assert ledger.pos == {0: 150, 1: 20} and ledger.inflight == {} and ledger.processed == 70
    ledger.claim({0: 150})  # the next batch is prepared while Redis runs the first
    sent = ledger.take_unconfirmed()
    assert sent is not None and ledger.take_unconfirmed() is None  # read once
    ledger.revoke(1)  # partition 1 left meanwhile: its position is the new owner's
    ledger.roll_back(sent)
    assert ledger.pos == {0: 100} and ledger.processed == 0
    assert ledger.rewind_targets() == {0: 100, 1: 0} and ledger.inflight == {}


def test_an_error_rewinds_to_the_batch_and_to_what_was_polled_meanwhile_plus_a_fence() -> None:
    ledger = Ledger()
    ledger.assign({0: 10, 1: 5})
    ledger.claim({0: 10})
    ledger.hold({0: 40, 1: 5})  # polled while the batch ran: partition 0 keeps its earlier start
    assert ledger.rewind_targets({2: 7}) == {0: 10, 1: 5, 2: 7}
    assert ledger.rewind_targets() == {}  # taken once
    ledger.reset()
    assert ledger.pos == {} and ledger.inflight == {}
