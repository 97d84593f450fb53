"""The server's audit sink: events go to memory on the request path and to the chain in groups.

``record`` appends the event to an in-memory queue (no database round trip on the request
path). A writer thread appends what is queued to the chain in ONE write transaction with one
signed head (``AuditChain``): as soon as it can with ``before-response`` durability, where the
response waits for that commit (:meth:`ChainedAuditLog.wait_committed`), or every
``flush_seconds`` with ``buffered`` (audit/policy.py). Several worker processes append to one
chain; the chain head row lock keeps it linear.

A commit that fails (a full disk) keeps its events for the next attempt, retried with backoff
up to once a second; meanwhile calls are refused or served as the policy says, a line is logged
at most every 30 s (it never quotes a record), and the writer recovers by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from strongroom.kms.audit.events import CURRENT_TICKET, AuditEvent, Ticket
from strongroom.kms.audit.policy import UNAVAILABLE_MESSAGE, WriterPolicy
from strongroom.kms.audit.record import PROVIDER_ACCOUNT
from strongroom.kms.audit.signing import SecretSealer
from strongroom.kms.audit.store import AuditChain, PreparedEvent
from strongroom.kms.errors import DependencyTimeoutException
from strongroom.kms.log_limits import RateLimitedLog, describe_failure
from strongroom.kms.storage.database import Database

log = logging.getLogger(__name__)

DROPPED_EVENT = "AuditEventsDropped"
_MAX_RETRY_SECONDS = 1.0
# The writer keeps its database connection between commits (docs/adr/0038) and returns it to
# the pool once it has had nothing to commit for this long.
_KEEP_IDLE_CONNECTION_SECONDS = 1.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ChainedAuditLog:
    """The :class:`AuditSink` that writes the hash-chained trail into the database."""

    def __init__(
        self,
        db: Database,
        store: SecretSealer,
        region: str,
        now: Callable[[], datetime] = _utc_now,
        *,
        policy: WriterPolicy | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._chain = AuditChain(store, region, now)
        self._now = now
        self.policy = policy or WriterPolicy()
        self._pending: deque[AuditEvent] = deque()
        self._max_pending = self.policy.max_pending
        self._count_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._recorded = 0  # events queued by this process, ever
        self._committed = 0  # of those, committed (events are committed in queue order)
        self._failed_upto = 0  # events of the last failed commit, for waiters
        self._failing = False
        self._refuses = self.policy.refuses
        self._drops = not self.policy.refuses
        self._refuse_while_failing = self.policy.refuses and self.policy.waits
        self._dropped = 0
        self._dropped_since: datetime | None = None
        self.dropped_total = 0  # events dropped by this process, ever (the metrics read it)
        self._alert = RateLimitedLog(log, 30.0, monotonic)
        self._wake = threading.Event()
        self._idle = False  # the writer waits for events (before-response)
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0  # the thread running ``_loop``
        self._wake_scheduled = False  # a wake of the writer waits on the loop (_wake_soon)
        # (event number, arrival, future, deadline on the loop's clock): a heap, since a slow
        # operation's request may start waiting after a later event's request did.
        self._waiters: list[tuple[int, int, asyncio.Future[None], float]] = []
        self._arrivals = itertools.count()
        # One timer for all waiters' deadlines (not one per request, as asyncio.wait_for has).
        self._expiry: asyncio.TimerHandle | None = None
        if self.policy.waits:
            self.record = self._record_counted  # type: ignore[method-assign]

    @property
    def chain(self) -> AuditChain:
        """The chain, for writers that append inside their own transaction."""
        return self._chain

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def committed(self) -> int:
        """Events this process queued and committed to the trail, ever."""
        return self._committed

    @property
    def failing(self) -> bool:
        """The last commit failed and none has succeeded since."""
        return self._failing

    # --- the request path ---

    def admit(self) -> None:
        """Refuse a call before it runs when the trail cannot take its event (policy)."""
        if not self._refuses:
            return
        if len(self._pending) >= self._max_pending or (
            self._refuse_while_failing and self._failing
        ):
            raise DependencyTimeoutException(UNAVAILABLE_MESSAGE)

    def record(self, event: AuditEvent) -> None:
        # Buffered: deque.append and popleft are atomic, so no lock on the request path.
        if self._drops and len(self._pending) >= self._max_pending:
            self._drop()
            return
        self._pending.append(event)

    def _record_counted(self, event: AuditEvent) -> None:
        if self._drops and len(self._pending) >= self._max_pending:
            self._drop()
            return
        with self._count_lock:  # the ticket must be the event's place in the queue
            self._pending.append(event)
            self._recorded += 1
            seq = self._recorded
        ticket = CURRENT_TICKET.get()
        if ticket is not None:
            ticket.seq = seq
        if self._idle:  # waking the writer costs a lock; only when it sleeps
            self._wake_soon()

    def _wake_soon(self) -> None:
        """Wake the writer once the event loop has run what is ready now: the requests that
        arrived in the same turn of the loop record their events first and share the commit
        (one wake and a bigger group, instead of a commit of the first event while the loop
        still holds the others). Off the loop (a request run in a thread, a tool), at once."""
        loop = self._loop
        if loop is None or threading.get_ident() != self._loop_thread:
            self._wake.set()
            return
        if self._wake_scheduled:
            return
        self._wake_scheduled = True
        try:
            loop.call_soon(self._wake_now)
        except RuntimeError:  # a closed loop
            self._wake_now()

    def _wake_now(self) -> None:
        self._wake_scheduled = False
        self._wake.set()

    def _drop(self) -> None:
        with self._count_lock:
            if self._dropped == 0:
                self._dropped_since = self._now()
            self._dropped += 1
            self.dropped_total += 1
            dropped, since = self._dropped, self._dropped_since
        self._alert.log(
            logging.ERROR,
            f"audit trail: {dropped} events dropped since {since}: {len(self._pending)} wait "
            "already (audit_when_unavailable=serve)",
        )

    async def wait_committed(self, ticket: Ticket) -> None:
        """Return once the ticket's event is committed; raise DependencyTimeoutException if
        its commit failed or took longer than the policy allows (``refuse`` policy only)."""
        if ticket.seq <= self._committed or (self._drops and self._failing):
            return
        loop = self._loop
        # The loop of the last wait, if it runs in this thread, is the running loop (a thread
        # runs one loop at a time): asyncio.get_running_loop() costs a getpid() system call.
        if loop is None or self._loop_thread != threading.get_ident() or not loop.is_running():
            loop = asyncio.get_running_loop()
            if loop is not self._loop:  # a timer of another (closed) loop never fires here
                self._loop, self._expiry = loop, None
                self._loop_thread, self._wake_scheduled = threading.get_ident(), False
        future: asyncio.Future[None] = loop.create_future()
        deadline = loop.time() + self.policy.wait_seconds
        heapq.heappush(self._waiters, (ticket.seq, next(self._arrivals), future, deadline))
        # The writer may have settled this event between the check above and the append.
        self._release()
        if self._expiry is None and not future.done():
            self._expiry = loop.call_at(deadline, self._expire)
        try:
            await future
        except DependencyTimeoutException:
            if self.policy.refuses:
                raise DependencyTimeoutException(UNAVAILABLE_MESSAGE) from None

    def _expire(self) -> None:
        """On the event loop: fail the waiters whose deadline has passed; re-arm the timer for
        the earliest deadline left."""
        self._expiry = None
        loop = self._loop
        if loop is None:
            return
        now = loop.time()
        kept = []
        for entry in self._waiters:
            future, deadline = entry[2], entry[3]
            if deadline > now:
                kept.append(entry)
            elif not future.done():
                future.set_exception(DependencyTimeoutException(UNAVAILABLE_MESSAGE))
        heapq.heapify(kept)
        self._waiters = kept
        live = [deadline for _, _, future, deadline in kept if not future.done()]
        if live:
            self._expiry = loop.call_at(min(live), self._expire)

    def _release(self) -> None:
        """On the event loop: settle the waiters whose commit is done or failed."""
        committed, failed = self._committed, self._failed_upto
        waiters = self._waiters
        while waiters:
            seq, _, future, _ = waiters[0]
            if seq <= committed:
                heapq.heappop(waiters)
                if not future.done():
                    future.set_result(None)
            elif seq <= failed:
                heapq.heappop(waiters)
                if not future.done():
                    future.set_exception(DependencyTimeoutException(UNAVAILABLE_MESSAGE))
            else:
                break

    # --- the writer ---

    def start(self) -> None:
        """Start the writer thread (in the serving process, at start-up)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the writer thread and commit what is left (at shutdown)."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._commit(raise_errors=False)
        self._db.release_audit_connection()

    def flush(self) -> None:
        """Commit what is pending now, in this thread; raise if that fails (events are kept)."""
        try:
            self._commit(raise_errors=True)
        finally:
            self._db.release_audit_connection()  # tools and tests: nothing held afterwards

    def _run(self) -> None:
        retry = 0.0
        while not self._stopping:
            if retry:
                self._wake.wait(retry)
            elif self.policy.waits:
                # Idle first, then look: an event queued in between either is seen here or
                # sees the flag and wakes the writer.
                self._idle = True
                if not self._pending and not self._wake.wait(_KEEP_IDLE_CONNECTION_SECONDS):
                    self._db.release_audit_connection()
                    self._wake.wait()
                self._idle = False
            else:
                self._db.release_audit_connection()  # a commit every flush_seconds at most
                self._wake.wait(self.policy.flush_seconds)
            self._wake.clear()
            if self._stopping:
                return
            ok = self._commit(raise_errors=False)
            retry = 0.0 if ok else min(max(retry * 2, 0.05), _MAX_RETRY_SECONDS)

    def _commit(self, *, raise_errors: bool) -> bool:
        with self._flush_lock:
            pending = self._pending
            batch = [pending.popleft() for _ in range(len(pending))]
            with self._count_lock:
                dropped_count = self._dropped
                dropped = self._dropped_event(dropped_count)
            if not batch and dropped is None:
                return True
            chain = self._chain

            def arrived_meanwhile() -> list[PreparedEvent]:
                # Queue order is kept: these follow the batch, and ``_committed`` counts both.
                extra = [pending.popleft() for _ in range(len(pending))]
                batch.extend(extra)
                return chain.prepare(extra)

            try:
                prepared = chain.prepare(batch if dropped is None else [*batch, dropped])
                chain.commit_group(self._db, prepared, arrived_meanwhile)
            except Exception as error:
                # Keep the events for the next attempt, in front of anything queued meanwhile.
                pending.extendleft(reversed(batch))
                self._failed(len(batch), error)
                if raise_errors:
                    raise
                return False
            if dropped is not None:
                with self._count_lock:
                    self._dropped -= dropped_count
                    if not self._dropped:
                        self._dropped_since = None
            self._committed += len(batch)
            self._succeeded()
            return True

    def _dropped_event(self, count: int) -> AuditEvent | None:
        if not count:
            return None
        return AuditEvent(
            time=self._now(),
            request_id="",
            account_id=PROVIDER_ACCOUNT,
            principal_arn="strongroom:service/audit-writer",
            access_key_id="",
            source_ip="",
            operation=DROPPED_EVENT,
            resources=(),
            additional_data={
                "droppedEvents": count,
                "firstDroppedAt": str(self._dropped_since),
                "reason": "audit_when_unavailable=serve and the trail could not take events",
            },
        )

    def _failed(self, count: int, error: Exception) -> None:
        self._failing = True
        self._failed_upto = self._committed + count
        what = "refusing calls" if self.policy.refuses else "serving calls unaudited"
        self._alert.log(
            logging.ERROR,
            f"audit trail: cannot commit {count} events ({describe_failure(error)}); "
            f"{what} until it can (audit_when_unavailable={self.policy.when_unavailable}); "
            f"{len(self._pending)} events wait",
        )
        self._notify()

    def _succeeded(self) -> None:
        if self._failing:
            self._failing = False
            self._alert.reset()
            log.warning("audit trail: commits succeed again; %d events wait", len(self._pending))
        self._notify()

    def _notify(self) -> None:
        loop = self._loop
        if loop is not None and self._waiters:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(self._release)
