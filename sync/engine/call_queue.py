"""One packing target's calls across pages: packed by dependency, kept in flight on workers.

The engine hands over a page's writes and goes on with the next page; the queue packs them
first-fit into calls of ``batch_size`` (a record never shares a call with a record it refers
to, nor with an earlier copy of itself) and keeps ``in_flight`` calls going on worker
threads. A call goes as soon as a worker is free and every call it waits for has answered, so
calls of several pages overlap and only a run's last round can be partly idle. Each worker
builds its call's records itself, so the next call is built while others are in flight.

The last call that is not full waits for more records (the next page's, of any entity) until
it is sealed: by a later call, by :meth:`CallQueue.seal` or :meth:`CallQueue.seal_all`.
Results are not applied here: the engine's thread takes them with :meth:`CallQueue.take_answers`,
so deliveries are only ever touched by that thread. Once a call fails, no further call goes;
the calls in flight finish and :meth:`CallQueue.wait_for_answers` raises the failure then.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from connectors.base import CallLimits, WriteResult
from connectors.errors import ConnectorError

_Write = TypeVar("_Write")
Sender = Callable[[Sequence[_Write]], Sequence[WriteResult | None]]
Answer = tuple[_Write, WriteResult | None]


@dataclass
class _Call(Generic[_Write]):
    """The writes of one call and the numbers of the calls that must answer before it goes."""

    number: int
    writes: list[_Write] = field(default_factory=list)
    external_ids: list[str] = field(default_factory=list)
    after: set[int] = field(default_factory=set)
    sealed: bool = False


@dataclass(frozen=True)
class QueuedWrite(Generic[_Write]):
    """A write with its external id and the external ids of the records it refers to."""

    external_id: str
    references: frozenset[str]
    write: _Write


class CallQueue(Generic[_Write]):
    """Calls of one packing target, sent by dependency by ``limits.in_flight`` workers."""

    def __init__(
        self,
        name: str,
        limits: CallLimits,
        send: Sender[_Write],
        on_answer: Callable[[], None] = lambda: None,
    ) -> None:
        self._name = name
        self._on_answer = on_answer  # called in the worker once a call answered or failed
        self._batch = limits.batch_size
        self._workers_wanted = max(1, limits.in_flight)
        self._send = send
        self._changed = threading.Condition()
        self._unsent: list[_Call[_Write]] = []  # by number
        self._unanswered: set[int] = set()  # calls not answered yet, sent or not
        self._in_flight = 0
        self._call_of: dict[str, int] = {}  # external id -> unanswered call holding it
        self._numbers = 0
        self._answers: list[Answer[_Write]] = []
        self._failure: BaseException | None = None
        self._closing = False
        self._workers: list[threading.Thread] = []

    def submit(self, writes: Sequence[QueuedWrite[_Write]]) -> None:
        """Pack ``writes`` into calls; every call but a last partly filled one may go."""
        if not writes:
            return
        with self._changed:
            for queued in writes:
                self._place(queued)
            for call in self._unsent[:-1]:
                call.sealed = True  # a later call exists: nothing more is waited for
            self._changed.notify_all()
        self._start_workers()

    def seal(self, wanted: Callable[[_Write], bool]) -> None:
        """Let the unsent calls holding a wanted write go, full or not."""
        with self._changed:
            for call in self._unsent:
                if any(wanted(write) for write in call.writes):
                    call.sealed = True
            self._changed.notify_all()

    def seal_all(self) -> None:
        """Let every unsent call go, full or not."""
        self.seal(lambda _: True)

    def take_answers(self) -> list[Answer[_Write]]:
        """The answers that came since the last take, in no particular order."""
        with self._changed:
            answers, self._answers = self._answers, []
        return answers

    def wait_for_answers(self) -> None:
        """Block until an answer is there to take; raise the failure once nothing is in flight.

        Returns at once when no call is unanswered. Waiting on nothing but a last call nobody
        sealed would never end: that raises ``RuntimeError``, the caller's mistake.
        """
        with self._changed:
            while not self._answers and self._unanswered:
                if self._in_flight == 0:
                    if self._failure is not None:
                        raise self._failure
                    if self._next_ready() is None:
                        raise RuntimeError(f"{self._name}: waiting for a call nobody sealed")
                self._changed.wait()

    def close(self) -> None:
        """Send nothing more; wait for the calls in flight and end the workers."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        for worker in self._workers:
            worker.join()
        self._workers = []

    def _place(self, queued: QueuedWrite[_Write]) -> None:
        """First fit into an unsent call after every unanswered call it waits for."""
        waits_for = {self._call_of[ref] for ref in queued.references if ref in self._call_of}
        if queued.external_id in self._call_of:  # a second copy lands after the first
            waits_for.add(self._call_of[queued.external_id])
        latest = max(waits_for, default=-1)
        call = next(
            (
                c
                for c in self._unsent
                if c.number > latest and len(c.writes) < self._batch and not c.sealed
            ),
            None,
        )
        if call is None:
            call = _Call(self._numbers)
            self._numbers += 1
            self._unsent.append(call)
            self._unanswered.add(call.number)
        call.writes.append(queued.write)
        call.external_ids.append(queued.external_id)
        call.after |= waits_for
        self._call_of[queued.external_id] = call.number

    def _start_workers(self) -> None:
        while len(self._workers) < self._workers_wanted:
            worker = threading.Thread(
                target=self._work,
                name=f"{self._name}-call-{len(self._workers)}",
                daemon=True,  # a run that dies unexpectedly must not hang the process
            )
            self._workers.append(worker)
            worker.start()

    def _next_ready(self) -> _Call[_Write] | None:
        if self._failure is not None:
            return None
        for call in self._unsent:
            full = len(call.writes) >= self._batch
            if (full or call.sealed) and not (call.after & self._unanswered):
                return call
        return None

    def _work(self) -> None:
        while True:
            with self._changed:
                call = self._next_ready()
                while call is None:
                    if self._closing:
                        return
                    self._changed.wait()
                    call = self._next_ready()
                self._unsent.remove(call)
                self._in_flight += 1
            self._answer(call)

    def _answer(self, call: _Call[_Write]) -> None:
        results: Sequence[WriteResult | None] = ()
        failure: BaseException | None = None
        try:
            results = self._send(call.writes)
            if len(results) != len(call.writes):
                raise ConnectorError(
                    f"{self._name} answered {len(results)} results for {len(call.writes)} records",
                    system=self._name,
                )
        except BaseException as error:  # raised again in the engine's thread
            failure = error
        with self._changed:
            self._in_flight -= 1
            if failure is None:
                self._answers.extend(zip(call.writes, results, strict=True))
                self._unanswered.discard(call.number)
                for external_id in call.external_ids:
                    if self._call_of.get(external_id) == call.number:
                        del self._call_of[external_id]
            elif self._failure is None:
                self._failure = failure
            self._changed.notify_all()
        self._on_answer()
