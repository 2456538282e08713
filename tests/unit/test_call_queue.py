"""A packing target's call queue: calls packed by dependency across pages, at most the allowed
number in flight, a call sent only once the calls it depends on answered."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from connectors.base import CallLimits, WriteOutcome, WriteResult
from connectors.errors import TransientError
from sync.engine.call_queue import CallQueue, QueuedWrite


@dataclass
class HeldSender:
    """Sends nothing until released: calls pile up in flight, so the test sees them all."""

    sent: list[list[str]] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    fail_on: str = ""
    _gate: threading.Condition = field(default_factory=threading.Condition)
    _released: int = 0

    def __call__(self, writes: Sequence[str]) -> list[WriteResult | None]:
        with self._gate:
            self.sent.append(list(writes))
            number = len(self.sent)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self._gate.notify_all()
            self._gate.wait_for(lambda: self._released >= number)
            self.in_flight -= 1
        if self.fail_on in writes:
            raise TransientError("NetSuite went away", system="erp")
        return [WriteResult(w, WriteOutcome.UPSERTED, target_id=f"i{w}") for w in writes]

    def wait_until_sent(self, calls: int) -> None:
        with self._gate:
            assert self._gate.wait_for(lambda: len(self.sent) >= calls, timeout=20)

    def release(self, calls: int) -> None:
        """Let the first ``calls`` calls (in the order they were sent) answer."""
        with self._gate:
            self._released = calls
            self._gate.notify_all()


def _writes(names: str, refs: str = "") -> list[QueuedWrite[str]]:
    return [QueuedWrite(name, frozenset(refs), name) for name in names]


def _answered(queue: CallQueue[str], writes: int) -> list[str]:
    landed: list[str] = []
    while len(landed) < writes:
        queue.wait_for_answers()
        landed += [write for write, result in queue.take_answers() if result is not None]
    return landed


def test_full_calls_of_several_pages_are_in_flight_together_up_to_the_limit() -> None:
    sender = HeldSender()
    queue = CallQueue("erp", CallLimits(batch_size=2, in_flight=3), sender)
    queue.submit(_writes("ab"))  # page one: a full call
    queue.submit(_writes("cd"))  # page two, handed over while page one's call is in flight
    queue.submit(_writes("efgh"))

    sender.wait_until_sent(3)
    assert sender.sent == [["a", "b"], ["c", "d"], ["e", "f"]]
    assert sender.in_flight == 3, "three pages' calls at once"
    sender.release(4)
    assert sorted(_answered(queue, 8)) == list("abcdefgh")
    queue.close()
    assert sender.most_in_flight == 3, "never more than the target allows"


def test_a_call_waits_for_the_call_holding_a_record_it_refers_to() -> None:
    sender = HeldSender()
    queue = CallQueue("erp", CallLimits(batch_size=2, in_flight=4), sender)
    queue.submit(_writes("ab"))
    queue.submit(_writes("x", refs="a") + _writes("y"))  # x refers to a: after a's call
    queue.submit(_writes("cd"))  # independent: overtakes the waiting call

    sender.wait_until_sent(2)
    assert sender.sent == [["a", "b"], ["c", "d"]]
    sender.release(2)  # a's call answers: x's call may go
    sender.wait_until_sent(3)
    assert sender.sent[2] == ["x", "y"]
    sender.release(3)
    assert sorted(_answered(queue, 6)) == list("abcdxy")
    queue.close()


def test_a_second_copy_of_a_record_goes_after_the_first_one_answered() -> None:
    sender = HeldSender()
    queue = CallQueue("erp", CallLimits(batch_size=2, in_flight=4), sender)
    queue.submit(_writes("ab"))
    queue.submit(_writes("ac"))

    sender.wait_until_sent(1)
    sender.release(1)
    sender.wait_until_sent(2)
    assert sender.sent == [["a", "b"], ["a", "c"]]
    sender.release(2)
    assert sorted(_answered(queue, 4)) == ["a", "a", "b", "c"]
    queue.close()


def test_a_last_partly_filled_call_waits_for_more_records_until_sealed() -> None:
    sender = HeldSender()
    queue = CallQueue("erp", CallLimits(batch_size=3, in_flight=2), sender)
    queue.submit(_writes("ab"))  # partly filled: waits for the next page
    queue.submit(_writes("cd"))  # c fills it; d starts the next, partly filled call

    sender.wait_until_sent(1)
    assert sender.sent == [["a", "b", "c"]]
    queue.seal_all()
    sender.wait_until_sent(2)
    assert sender.sent[1] == ["d"]
    sender.release(2)
    assert sorted(_answered(queue, 4)) == list("abcd")
    queue.close()


def test_waiting_on_a_call_nobody_sealed_raises_instead_of_hanging() -> None:
    queue = CallQueue("erp", CallLimits(batch_size=3, in_flight=2), HeldSender())
    queue.submit(_writes("a"))

    with pytest.raises(RuntimeError, match="nobody sealed"):
        queue.wait_for_answers()
    queue.close()


def test_after_a_failed_call_nothing_more_goes_and_the_failure_comes_once_all_answered() -> None:
    sender = HeldSender(fail_on="a")
    failed = threading.Event()
    limits = CallLimits(batch_size=2, in_flight=2)
    queue = CallQueue("erp", limits, sender, on_answer=failed.set)
    queue.submit(_writes("ab") + _writes("cd"))
    sender.wait_until_sent(2)  # both in flight when the first fails
    queue.submit(_writes("ef"))
    sender.release(1)
    assert failed.wait(timeout=20)

    sender.release(3)  # would let e, f's call answer too, had it gone
    landed: list[str] = []

    def take_until_failed() -> None:
        while True:  # the failure is raised once nothing is in flight
            queue.wait_for_answers()
            landed.extend(write for write, _ in queue.take_answers())

    with pytest.raises(TransientError, match="went away"):
        take_until_failed()
    queue.close()
    assert sender.sent == [["a", "b"], ["c", "d"]], "no call went after the failure"
    assert landed == ["c", "d"], "the call in flight beside the failed one still answered"
