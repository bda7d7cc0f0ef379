"""The collective watchdog: a rank that never reaches a collective stops the job with a message
naming the ranks that wait and the ranks that are missing, instead of hanging it forever.

Why a thread, and not non-blocking collectives polled with Test: on an oversubscribed machine a
Python polling loop costs 10 to 100 times the latency of MPI's own blocking call. So the main
thread makes plain blocking calls, and notes (seq, kind, name, start) on the communicator before
each; a daemon thread wakes every `interval` seconds, reads that note, and acts only when
something is wrong. mpi4py starts MPI with MPI_THREAD_MULTIPLE and releases the GIL inside
blocking calls, so this thread can talk while the main thread waits inside MPI_Allreduce.

It talks on a side channel: a duplicate of the communicator, whose messages can never match the
program's collectives. Nothing travels on it while the job is healthy. Three kinds of message:

  QUERY   "I have waited in collective #seq past the timeout; where are you?" sent by a rank
          whose wait timed out to every other rank;
  ANSWER  the reply of each rank's watchdog: waiting in collective #k, or running outside any
          collective (its last one was #k). A rank that cannot answer (stuck in C code holding
          the GIL, or dead) stays silent, and the report says so;
  EXIT    sent when a rank's program ends (atexit) with the number of collectives it started:
          a rank still waiting for a later collective knows at once that it never comes (one
          rank took fewer steps than the others, or called sys.exit).

The rank that timed out first reports (the lowest one, when several time out together), then
calls MPI_Abort, which ends every rank of the job.
"""
import atexit
import sys
import threading
import time
import traceback

TAG_QUERY, TAG_ANSWER, TAG_EXIT = 0x5D1, 0x5D2, 0x5D3
REPLY_GRACE_S = 1.0  # how long a reporter collects answers; a healthy watchdog replies in ms


class Watchdog:
    def __init__(self, comm, timeout, interval=None):
        self.comm = comm
        self.timeout = float(timeout)
        self.interval = interval or min(1.0, max(0.05, self.timeout / 10))
        self._MPI = comm._MPI
        self._side = comm.mpi_comm.Dup()
        self._exited = {}    # rank -> collectives it had started when its program ended
        self._queries = {}   # rank -> the collective it timed out in
        self._answers = {}   # rank -> its state, while collecting after a timeout
        self._pending = []   # our isend requests not yet completed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="distflow-watchdog", daemon=True)
        self._thread.start()
        atexit.register(self._at_exit)

    # -- the thread --------------------------------------------------------------------------
    def _run(self):
        try:
            while not self._stop.wait(self.interval):
                self._serve()
                self._check()
        except Exception:  # a bug here must not stop a healthy job: say so and stop watching
            _say(self.comm.rank, "the collective watchdog failed and stops watching:\n"
                 + traceback.format_exc())

    def _serve(self):
        """Answers queries, records exits and answers; never blocks."""
        MPI, side = self._MPI, self._side
        status = MPI.Status()
        while side.Iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=status):
            src, tag = status.Get_source(), status.Get_tag()
            msg = side.recv(source=src, tag=tag)
            if tag == TAG_QUERY:
                self._queries[src] = msg
                self._send(self.state(), src, TAG_ANSWER)
            elif tag == TAG_ANSWER:
                self._answers[src] = msg
            elif tag == TAG_EXIT:
                self._exited[src] = msg
        self._pending = [r for r in self._pending if not r.Test()]

    def _send(self, msg, dest, tag):
        self._pending.append(self._side.isend(msg, dest=dest, tag=tag))

    def state(self):
        """("waiting", seq, kind, name, seconds) or ("running", last seq, kind, name, seconds)."""
        now = time.monotonic()
        cur = self.comm.current
        if cur is not None:
            seq, kind, name, _, start = cur
            return ("waiting", seq, kind, name, now - start)
        done = self.comm.finished
        if done is None:
            return ("running", 0, None, None, None)
        seq, kind, name, end = done
        return ("running", seq, kind, name, now - end)

    def _check(self):
        cur = self.comm.current
        if cur is None:
            return
        seq, start = cur[0], cur[4]
        if any(started < seq for started in self._exited.values()):
            self._investigate(cur, "ended")
        elif time.monotonic() - start >= self.timeout:
            self._investigate(cur, "timeout")

    def _investigate(self, cur, why):
        """Asks every rank where it is, then reports and stops the job."""
        seq, size, me = cur[0], self.comm.size, self.comm.rank
        self._answers = {}
        for r in range(size):
            if r != me:
                self._send(seq, r, TAG_QUERY)
        deadline = time.monotonic() + REPLY_GRACE_S
        while time.monotonic() < deadline:
            time.sleep(0.02)
            self._serve()
            silent = set(range(size)) - set(self._answers) - set(self._exited) - {me}
            if not silent:
                break
        if self.comm.current is not cur:
            return  # it completed meanwhile: a slow rank, not a missing one
        if any(r < me and q == seq for r, q in self._queries.items()):
            # A lower rank waits in the same collective and reports; give it time to abort.
            self._stop.wait(2 * REPLY_GRACE_S + 3.0)
        self._stop_job(self._report(cur, dict(self._answers), why))

    def _report(self, cur, answers, why):
        seq, kind, name, nbytes, start = cur
        me, size = self.comm.rank, self.comm.size
        waited = time.monotonic() - start
        what = describe(seq, kind, name, nbytes)
        waiting, missing = [me], []
        for r in range(size):
            if r == me:
                continue
            a = answers.get(r)
            if r in self._exited and self._exited[r] < seq:
                missing.append("rank %d (its program ended after collective #%d)"
                               % (r, self._exited[r]))
            elif a is None:
                missing.append("rank %d (no answer: stuck outside Python, or dead)" % r)
            elif a[0] == "waiting" and a[1] == seq:
                waiting.append(r)
            elif a[0] == "waiting":
                missing.append("rank %d (waiting in another collective: %s, for %.1f s)"
                               % (r, describe(a[1], a[2], a[3], None), a[4]))
            elif a[1] == 0:
                missing.append("rank %d (running, has not reached any collective yet)" % r)
            else:
                missing.append("rank %d (running outside collectives; its last one was %s, "
                               "%.1f s ago)" % (r, describe(a[1], a[2], a[3], None), a[4]))
        if why == "ended":
            head = ("%s can never complete: a rank's program ended before reaching it (rank %d "
                    "has waited %.1f s)" % (what, me, waited))
        else:
            head = ("collective timeout: %s has waited %.1f s (timeout %g s)"
                    % (what, waited, self.timeout))
        lines = [head, "  waiting in it: " + _ranks(sorted(waiting))]
        lines += ["  missing: " + m for m in missing]
        lines.append("Stopping the job. (Every rank must make the same collective calls in the "
                     "same order. The timeout is init(collective_timeout=...) or "
                     "DISTFLOW_COLLECTIVE_TIMEOUT, in seconds; 0 waits forever.)")
        return "\n".join(lines)

    def _stop_job(self, message):
        _say(self.comm.rank, message)
        self.comm.abort(1)

    # -- life cycle ------------------------------------------------------------------------------
    def close(self):
        """Stops the thread (the main thread must not be inside a collective)."""
        if not self._stop.is_set():
            self._stop.set()
            if self._thread is not threading.current_thread():
                self._thread.join(timeout=5)

    def _at_exit(self):
        """Tells the other ranks this program ended, before mpi4py finalizes MPI."""
        if self._stop.is_set():
            return
        self.close()
        try:
            reqs = [self._side.isend(self.comm.seq, dest=r, tag=TAG_EXIT)
                    for r in range(self.comm.size) if r != self.comm.rank]
            deadline = time.monotonic() + 1.0
            while reqs and time.monotonic() < deadline:
                reqs = [r for r in reqs if not r.Test()]
        except Exception:  # MPI may already be finalized by the program itself
            pass


def describe(seq, kind, name, nbytes):
    text = "%s #%d" % (kind or "collective", seq)
    if name:
        text += " '%s'" % name
    if nbytes:
        text += " (%s)" % _bytes(nbytes)
    return text


def _bytes(n):
    for unit in ("B", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0


def _ranks(rs):
    return ("rank %d" % rs[0]) if len(rs) == 1 else "ranks " + ", ".join(str(r) for r in rs)


def _say(rank, text):
    """A failure message from any rank, every line prefixed with the rank (not only rank 0)."""
    prefix = "[rank %d] distflow: " % rank
    sys.stdout.flush()
    sys.stderr.write("".join(prefix + line + "\n" for line in text.rstrip("\n").split("\n")))
    sys.stderr.flush()


def parse_timeout(value):
    """Seconds as a float; None for 0, '0', 'off', 'none' (wait forever). ValueError otherwise."""
    if value is None:
        return None
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("", "0", "off", "none", "never", "inf"):
            return None
        try:
            value = float(v)
        except ValueError:
            raise ValueError("The collective timeout must be a number of seconds (or 0/off), got "
                             "%r" % value) from None
    value = float(value)
    if value < 0 or value != value:
        raise ValueError("The collective timeout must be >= 0 seconds, got %r" % value)
    return value or None
