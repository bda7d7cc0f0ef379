"""The collective watchdog: a rank that never reaches a collective stops the job with a message
naming the ranks that wait and the ranks that are missing, instead of hanging it forever.

Why a thread, and not non-blocking collectives polled with Test: on an oversubscribed machine a
Python polling loop costs 10 to 100 times the latency of MPI's own blocking call. So the main
thread makes plain blocking calls, and notes (seq, kind, name, start) on the communicator before
each; a daemon thread wakes every `interval` seconds, reads that note, and acts only when
something is wrong. mpi4py releases the GIL inside blocking calls, so the thread runs while the
main thread waits inside MPI_Allreduce.

The thread never calls MPI (but MPI_Abort, to end the job): MPI runs at MPI_THREAD_FUNNELED, and
the ranks' watchdogs talk over their own TCP side channel (side_channel.py). Nothing travels on it
while the job is healthy (but hvd.join()'s questions). Three kinds of message:

  query   "I have waited in collective #seq past the timeout; where are you?" sent by a rank
          whose wait timed out to every other rank;
  answer  the reply of each rank's watchdog: waiting in collective #k, or running outside any
          collective (its last one was #k). A rank that cannot answer (stuck in C code holding
          the GIL, or dead) stays silent, and the report says so;
  exit    sent when a rank's program ends (atexit) with the number of collectives it started,
          and whether it ended on an interrupt: a rank still waiting for a later collective
          knows at once that it never comes (one rank took fewer steps than the others, or
          called sys.exit).

and, for hvd.join() (distflow/horovod/collectives.py), two more: `where`, a joined rank's
question to the others, and `here`, each one's reply (join_state()): the collective it waits
in, its size and dtype, so the joined rank can take part with zeros.

The thread waits in select() on the side channel, so a query is answered within milliseconds
whatever the interval, with where the rank's main thread is in Python. It also wakes on
signals (signal.set_wakeup_fd): after Ctrl-C, a rank whose main thread stays inside a
collective (waiting for a rank that has left on its KeyboardInterrupt) is ended by its watchdog
with status 130, as is a rank told that another one was interrupted; rank 0 prints the job's one
line, "distflow: interrupted".

The rank that timed out first reports (the lowest one, when several time out together), then
calls MPI_Abort, which ends every rank of the job.
"""
import atexit
import os
import signal
import sys
import threading
import time
import traceback

from distflow.distribute.side_channel import SideChannel

TAG_QUERY, TAG_ANSWER, TAG_EXIT = "query", "answer", "exit"
# hvd.join(): a joined rank asks the others where they are, to take part in their collectives
TAG_WHERE, TAG_HERE = "where", "here"
REPLY_GRACE_S = 1.0  # how long a reporter collects answers; a healthy watchdog replies in ms
# After Ctrl-C, a main thread still inside a collective this long is stuck there (a rank that
# left on its KeyboardInterrupt will never join it); a rank in Python raises at once.
INTERRUPT_GRACE_S = 1.0
INTERRUPTED_EXIT = 130  # a shell's status for a program ended by SIGINT
# An exit notice arrives in microseconds, maybe while the other ranks still return from the
# collective before: wait this long in the next one before asking them where they are.
SETTLE_S = 0.2


class WatchdogUnavailable(RuntimeError):
    """The side channel cannot work here (a rank cannot listen on TCP); every rank raises it."""


class Watchdog:
    def __init__(self, comm, timeout, interval=None):
        """Collective over comm (the side channel's setup): every rank must make one."""
        self.comm = comm
        self.timeout = float(timeout)
        self.interval = interval or min(1.0, max(0.05, self.timeout / 10))
        self._side = SideChannel(comm.mpi_comm)
        if self._side.broken:
            self._side.close()
            raise WatchdogUnavailable(self._side.broken)
        self._exited = {}    # rank -> collectives it had started when its program ended
        self._interrupted_peers = set()  # ranks whose program ended on an interrupt
        self._interrupted_at = None      # when this rank saw SIGINT (or was told of it)
        self._queries = {}   # rank -> the collective it timed out in
        self._answers = {}   # rank -> its state, while collecting after a timeout
        self._seen = None    # (communicator's current entry, when this thread first saw it)
        self._done = None    # (communicator's last entry, when first seen finished)
        self._stop = threading.Event()
        self._ending = threading.Lock()  # the main thread and this one may both end the rank
        self._main = threading.main_thread()
        self._wakeup_installed = _install_wakeup_fd(self._side.wakeup_fd())
        self._here = {}      # rank -> its answer to this rank's last TAG_WHERE (hvd.join)
        self._here_changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="distflow-watchdog", daemon=True)
        self._thread.start()
        atexit.register(self._at_exit)

    # -- the thread --------------------------------------------------------------------------
    def _run(self):
        failed = False
        while not self._stop.is_set():
            try:
                # poll() returns as a message (a query, hvd.join's question), a signal or
                # close()'s wake arrives: waiting the whole interval delays none of them
                self._serve(wait=min(self.interval, SETTLE_S) if self._exited else self.interval)
                self._check()
            except Exception:  # noqa: BLE001 - a bug here must not stop a healthy job: say so
                if not failed:
                    _say(self.comm.rank, "the collective watchdog hit an error and goes on:\n"
                         + traceback.format_exc())
                failed = True
                self._stop.wait(self.interval)

    def _serve(self, wait=0.0):
        """Answers queries, records exits and answers; waits at most `wait` seconds, less when a
        message (or a signal, or close()) arrives: a query is answered as soon as it comes."""
        for src, tag, msg in self._side.poll(wait):
            if not 0 <= src < self.comm.size or src == self.comm.rank:
                continue  # signed with the job's secret, so a bug of ours: ignore it
            if tag == TAG_QUERY and isinstance(msg, int):
                self._queries[src] = msg
                self._send(self.state(), src, TAG_ANSWER)
            elif tag == TAG_ANSWER and isinstance(msg, list) and len(msg) >= 5:
                self._answers[src] = msg
            elif tag == TAG_EXIT and isinstance(msg, list) and len(msg) == 2:
                self._exited[src] = msg[0]
                if msg[1] == "interrupted":
                    self._interrupted_peers.add(src)
            elif tag == TAG_WHERE:
                self._send(self.join_state(), src, TAG_HERE)
            elif tag == TAG_HERE and isinstance(msg, list) and len(msg) == 6:
                with self._here_changed:
                    self._here[src] = msg
                    self._here_changed.notify_all()
        if signal.SIGINT in self._side.signals and _sigint_interrupts():
            self.note_interrupt()
        self._side.signals.clear()

    def join_state(self):
        """For hvd.join: ["waiting", seq, mode, elements, dtype, joined] while in a collective
        (mode: 'fast' or 'negotiation' for distflow.horovod's collectives: the hvd_mode of the
        collective's name, else the communicator's), ["running", seq started, None, 0, None,
        joined] outside one. A collective a joined rank must take part in cannot end without
        it, so what is read here about it stays true until that rank acts."""
        comm = self.comm
        cur = comm.current
        joined = bool(getattr(comm, "hvd_joined", False))
        if cur is None:
            return ["running", comm.seq, None, 0, None, joined]
        buf = cur[3]
        size = int(getattr(buf, "size", 0) or 0)
        dtype = getattr(getattr(buf, "dtype", None), "str", None)
        # a settled Horovod allreduce says so by its name (horovod/mpi_ops.SettledName)
        mode = getattr(cur[2], "hvd_mode", None) or getattr(comm, "hvd_mode", None)
        return ["waiting", cur[0], mode, size, dtype, joined]

    def ask_where(self, ranks, timeout=5.0):
        """{rank: its join_state()} for `ranks`, asked now (from the main thread); ranks that
        did not answer within `timeout` are left out."""
        with self._here_changed:
            for r in ranks:
                self._here.pop(r, None)
        for r in ranks:
            self._send(None, r, TAG_WHERE)
        deadline = time.monotonic() + timeout
        with self._here_changed:
            while not all(r in self._here for r in ranks):
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    break
                self._here_changed.wait(min(left, 0.05))
            return {r: self._here[r] for r in ranks if r in self._here}

    def _send(self, msg, dest, tag, timeout=1.0):
        self._side.send(dest, tag, msg, timeout=timeout)

    def _observe(self):
        """(the collective this rank is in or None, seconds it has been seen waiting in it).

        The communicator reads no clock (mpi.py), so this thread times what it sees: a wait
        counts from the wake that first saw it (at most `interval` late), and a collective's end
        from the first wake that saw it finished."""
        now = time.monotonic()
        cur = self.comm.current
        if cur is not None:
            if self._seen is None or self._seen[0] is not cur:
                self._seen = (cur, now)
            return cur, now - self._seen[1]
        last = self.comm.last
        if last is not None and (self._done is None or self._done[0] is not last):
            self._done = (last, now)
        return None, None

    def state(self):
        """["waiting", seq, kind, name, seconds, where] or ["running", last seq, kind, name,
        seconds, where]; `where` is the main thread's place in Python ("file:line in f")."""
        cur, waited = self._observe()
        where = _short(python_location(self._main))
        if cur is not None:
            return ["waiting", cur[0], cur[1], _short(cur[2]), waited, where]
        if self._done is None:
            return ["running", 0, None, None, None, where]
        (seq, kind, name, _), at = self._done
        return ["running", seq, kind, _short(name), time.monotonic() - at, where]

    def note_interrupt(self):
        """This rank was interrupted (SIGINT, or its program ended on KeyboardInterrupt)."""
        if self._interrupted_at is None:
            self._interrupted_at = time.monotonic()

    def _check(self):
        cur, waited = self._observe()
        if cur is None:
            return
        if self._interrupted_peers or (
                self._interrupted_at is not None
                and time.monotonic() - self._interrupted_at >= INTERRUPT_GRACE_S):
            self.end_interrupted()  # a collective no interrupted rank will join
        if any(started < cur[0] for started in self._exited.values()) and waited >= SETTLE_S:
            self._investigate(cur, "ended")
        elif waited >= self.timeout:
            self._investigate(cur, "timeout")

    def _investigate(self, cur, why):
        """Asks every rank where it is, then reports and stops the job."""
        seq, size, me = cur[0], self.comm.size, self.comm.rank
        self._answers = {}
        # a host that drops our connection attempts costs its timeout: bound the whole round
        ask_by = time.monotonic() + REPLY_GRACE_S
        for r in range(size):
            left = ask_by - time.monotonic()
            if r != me and left > 0:
                self._send(seq, r, TAG_QUERY, timeout=min(left, 0.5))
        deadline = time.monotonic() + REPLY_GRACE_S
        while time.monotonic() < deadline:
            self._serve(wait=0.02)
            silent = (set(range(size)) - set(self._answers) - set(self._exited)
                      - self._side.unreachable - {me})
            if not silent:
                break
        if self.comm.current is not cur:
            return  # it completed meanwhile: a slow rank, not a missing one
        answers = dict(self._answers)
        if (any(r < me and q == seq for r, q in self._queries.items())
                or any(r < me and a[:2] == ["waiting", seq] for r, a in answers.items())):
            # A lower rank waits in the same collective (it asked, or answered so), and it
            # reports too (it has the same exit notice, or its own timeout); the lowest one
            # reports alone: give it time to abort, answering its questions meanwhile.
            until = time.monotonic() + 2 * REPLY_GRACE_S + 3.0
            while time.monotonic() < until and not self._stop.is_set():
                self._serve(wait=min(0.1, max(0.0, until - time.monotonic())))
        self._stop_job(self._report(cur, answers, why))

    def _report(self, cur, answers, why):
        seq, kind, name, buf = cur
        me, size = self.comm.rank, self.comm.size
        waited = time.monotonic() - self._seen[1]
        what = describe(seq, kind, name, getattr(buf, "nbytes", None))
        waiting, missing = [me], []
        for r in range(size):
            if r == me:
                continue
            a = answers.get(r)
            if r in self._exited and self._exited[r] < seq:
                missing.append("rank %d (its program ended after collective #%d)"
                               % (r, self._exited[r]))
            elif a is None and r in self._side.unreachable:
                missing.append("rank %d (cannot be reached: its process has ended, or a "
                               "firewall blocks the watchdog's TCP port)" % r)
            elif a is None:
                missing.append("rank %d (no answer within %g s: stuck in C code that holds "
                               "Python's lock, or dead)" % (r, REPLY_GRACE_S))
            elif a[0] == "waiting" and a[1] == seq:
                waiting.append(r)
            elif a[0] == "waiting":
                missing.append("rank %d (waiting in another collective: %s, for %.1f s)"
                               % (r, describe(a[1], a[2], a[3], None), a[4]))
            elif a[1] == 0:
                missing.append("rank %d (running, has not reached any collective yet; now at "
                               "%s)" % (r, a[5]))
            else:
                missing.append("rank %d (running outside collectives; its last one was %s, "
                               "%.1f s ago; now at %s)"
                               % (r, describe(a[1], a[2], a[3], None), a[4], a[5]))
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

    # -- interrupts ------------------------------------------------------------------------------
    def end_interrupted(self):
        """Ends this rank after an interrupt, with status 130 and no diagnosis: rank 0 says
        "interrupted"; the other ranks are told, and mpirun stops those still running."""
        if not self._ending.acquire(blocking=False):
            time.sleep(60)  # the other thread of this rank ends it meanwhile
            os._exit(INTERRUPTED_EXIT)
        if self.comm.rank == 0:
            say_interrupted()
        self._stop_thread()
        self.note_interrupt()
        self._tell_exit()
        if self.comm.rank != 0:  # rank 0 says it first (it too was interrupted, or is told)
            time.sleep(INTERRUPT_GRACE_S + 0.5)
        self.comm.end(INTERRUPTED_EXIT)

    # -- life cycle ------------------------------------------------------------------------------
    def close(self):
        """Stops the thread (the main thread must not be inside a collective)."""
        if self._stop_thread():
            self._side.close()

    def _stop_thread(self):
        """False when it was stopped already."""
        if self._stop.is_set():
            return False
        self._stop.set()
        self._side.wake()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        if self._wakeup_installed and threading.current_thread() is self._main:
            _restore_wakeup_fd(self._side.wakeup_fd())
        return True

    def _tell_exit(self):
        """Tells every other rank this program ends, and whether on an interrupt."""
        self._side.poll(0)  # a SIGINT not yet seen by the thread
        if signal.SIGINT in self._side.signals and _sigint_interrupts():
            self.note_interrupt()
        reason = "interrupted" if self._interrupted_at is not None else None
        deadline = time.monotonic() + 1.0
        for r in range(self.comm.size):
            left = deadline - time.monotonic()
            if r != self.comm.rank and left > 0:
                self._side.send(r, TAG_EXIT, [self.comm.seq, reason], timeout=min(left, 0.5))

    def _at_exit(self):
        """Tells the other ranks this program ended, before mpi4py finalizes MPI."""
        if not self._stop_thread():
            return
        self._tell_exit()
        self._side.close()


def _short(text, limit=200):
    """A name as it travels in an answer: a side channel message is at most 4 KiB."""
    if isinstance(text, str) and len(text) > limit:
        return text[:limit - 3] + "..."
    return text


def python_location(thread):
    """Where `thread` is in Python: "file:line in function" of its innermost frame."""
    frame = sys._current_frames().get(thread.ident)
    if frame is None:
        return "(no Python frame: the thread has ended)"
    code = frame.f_code
    return "%s:%d in %s" % (os.path.basename(code.co_filename), frame.f_lineno,
                            code.co_name)


_interrupt_said = []
_interrupt_lock = threading.Lock()


def say_interrupted():
    """The one line an interrupted job prints (by rank 0), once per process: the main thread
    and the watchdog's may both come here."""
    with _interrupt_lock:
        if _interrupt_said:
            return
        _interrupt_said.append(True)
    sys.stdout.flush()
    sys.stderr.write("distflow: interrupted\n")
    sys.stderr.flush()


def _sigint_interrupts():
    """Whether SIGINT raises KeyboardInterrupt here; a program with its own handler (one that
    saves and goes on, say) decides for itself what Ctrl-C means."""
    return signal.getsignal(signal.SIGINT) is signal.default_int_handler


def _install_wakeup_fd(fd):
    """Makes a signal wake the watchdog's thread (Python writes the signal's number to `fd`
    even while the main thread waits in C). False where another wakeup fd (asyncio's) is set,
    or off the main thread: a stuck rank then learns of Ctrl-C from the others' exit notices."""
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        old = signal.set_wakeup_fd(fd, warn_on_full_buffer=False)
    except (ValueError, OSError):
        return False
    if old != -1:
        signal.set_wakeup_fd(old)
        return False
    return True


def _restore_wakeup_fd(fd):
    try:
        current = signal.set_wakeup_fd(-1)
        if current not in (-1, fd):
            signal.set_wakeup_fd(current)  # someone else's since: leave it
    except (ValueError, OSError):
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
