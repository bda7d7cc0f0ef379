"""The watchdog's side channel: small messages between ranks over TCP, outside MPI.

Why not MPI: distflow runs MPI at MPI_THREAD_FUNNELED (only the main thread calls MPI), because
under MPI_THREAD_MULTIPLE MPICH gives up its shared-memory all-reduce, three times faster on the
small buffers of a training step (runtime.py has the figures). The watchdog's thread must still
talk while the main thread waits inside a collective, so it talks here, where MPI's thread level
does not matter.

Set up once, from the main thread, with two MPI allgathers: the first tells every rank where the
others run and carries rank 0's random 32-byte job secret; then every rank listens where the
ranks are (on loopback when they all share one host, else on the address this host uses to
reach the other hosts) and the second allgather shares the ports. Nothing travels while the job
is healthy.

A port is still a port: anything on the host (or the network) may connect and send anything.
So a frame is a 4-byte length, a JSON body [source, destination, sequence, tag, payload] (JSON,
never pickle: reading it cannot run code) and the body's HMAC-SHA256 under the job's secret. A
frame is accepted only when it is no longer than MAX_MESSAGE, its HMAC is right, it is meant
for this rank, and its sequence number is above every one accepted from that source (each
sender numbers its frames, so a recorded frame sent again is refused). Anything else is a drop,
logged (the first few of them), that closes the connection it came on and nothing more: poll()
never raises for what a peer sends. Everything is best effort: a rank that cannot be reached is
reported as such, and the timeout still ends the job.
"""
import hashlib
import hmac
import json
import logging
import secrets
import select
import socket
import struct
import threading

_HEADER = struct.Struct("!I")
_MAC = 32             # bytes of HMAC-SHA256
MAX_MESSAGE = 4096    # a body's bytes: the watchdog's messages are a few hundred at most
MAX_PENDING = 32      # connections that have not yet sent a valid frame: more close the oldest
LOGGED_DROPS = 10     # drops logged one by one; later ones are only counted (`dropped`)
_log = logging.getLogger("distflow.distribute")


class SideChannel:
    def __init__(self, mpi_comm):
        """Collective over `mpi_comm` (an mpi4py communicator); call from the main thread."""
        self.rank = mpi_comm.Get_rank()
        host = socket.gethostname()
        secret = secrets.token_bytes(32) if self.rank == 0 else None
        # raw mpi4py calls, not the communicator's: they are no collectives of the program's
        where = mpi_comm.allgather((host, _own_addresses(host), secret))
        self._key = where[0][2]
        self.address = bind_address(self.rank, [(h, a) for h, a, _ in where])
        try:
            self._listener = _listen(self.address)
            port = self._listener.getsockname()[1]
        except OSError as e:  # no TCP here: every rank must still reach the allgather below
            self._listener, port = None, "%s" % e
        ports = mpi_comm.allgather((self.address, port))
        self._peers = [(_candidates(host, h, addrs, bound), p)
                       for (h, addrs, _), (bound, p) in zip(where, ports)]
        # why the channel cannot work (a rank could not listen), the same on every rank
        self.broken = next(("rank %d cannot listen on TCP: %s" % (r, p)
                            for r, (_, p) in enumerate(ports) if isinstance(p, str)), None)
        self._out = {}        # rank -> connected socket
        self._in = {}         # accepted socket -> bytes received so far (insertion = age)
        self._trusted = set()  # accepted sockets that delivered a valid frame
        self._seq = 0         # the number of this rank's last frame
        self._last_seen = {}  # source rank -> the highest sequence number accepted from it
        self._send_lock = threading.RLock()  # the watchdog's thread and atexit both send
        self.dropped = 0
        self.unreachable = set()  # ranks whose port refused us: their process has likely ended
        # poll() also returns when wake() is called or a signal arrives (signal.set_wakeup_fd)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.signals = bytearray()  # signal numbers written to wakeup_fd(), not yet taken

    # -- sending ---------------------------------------------------------------------------------
    def encode(self, dest, tag, payload):
        """One authenticated frame for `dest` (numbered: each call gives a new number)."""
        with self._send_lock:
            self._seq += 1
            body = json.dumps([self.rank, dest, self._seq, tag, payload]).encode()
        return _HEADER.pack(len(body) + _MAC) + body + _mac(self._key, body)

    def send(self, dest, tag, payload, timeout=1.0):
        """Sends one message; False when `dest` cannot be reached (then noted in unreachable)."""
        with self._send_lock:  # frames leave in their numbers' order
            frame = self.encode(dest, tag, payload)
            for attempt in (0, 1):  # a cached connection may have died since: reconnect once
                sock = self._out.get(dest) or self._connect(dest, timeout)
                if sock is None:
                    break
                try:
                    sock.sendall(frame)
                    return True
                except OSError:
                    self._out.pop(dest, None)
                    sock.close()
        self.unreachable.add(dest)
        return False

    def _connect(self, dest, timeout):
        addrs, port = self._peers[dest]
        for addr in addrs:
            try:
                sock = socket.create_connection((addr, port), timeout=timeout)
            except OSError:
                continue
            self._out[dest] = sock
            return sock
        return None

    # -- receiving -------------------------------------------------------------------------------
    def wakeup_fd(self):
        """A non-blocking fd for signal.set_wakeup_fd: a signal then ends poll()'s wait."""
        return self._wake_w.fileno()

    def wake(self):
        """Ends a poll() waiting in another thread."""
        try:
            self._wake_w.send(b"\0")
        except OSError:  # full (a wake is pending anyway) or closed
            pass

    def poll(self, timeout=0.0):
        """[(source rank, tag, payload)] of the messages that arrived; waits at most `timeout`,
        less when a message arrives or wake() is called."""
        waiting = [self._wake_r] + ([self._listener] if self._listener is not None else [])
        by_fd = {sock.fileno(): sock for sock in waiting + list(self._in)}
        poller = select.poll()  # not select(): a process may hold descriptors above 1024
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        events = poller.poll(max(0, int(timeout * 1000)))
        messages = []
        for fd, _ in events:  # POLLHUP and POLLERR too: recv() then says what happened
            sock = by_fd[fd]
            if sock is self._wake_r:
                self._take_wakes()
            elif sock is self._listener:
                self._accept()
            else:
                messages += self._read(sock)
        return messages

    def _take_wakes(self):
        try:
            while True:
                data = self._wake_r.recv(256)
                if not data:
                    return
                self.signals += data.replace(b"\0", b"")
        except OSError:  # nothing more to read
            pass

    def _accept(self):
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:  # nothing more to accept, or out of descriptors: try next poll
                return
            pending = [s for s in self._in if s not in self._trusted]
            if len(pending) >= MAX_PENDING:  # a flood of connections: drop the oldest stranger
                self._drop(pending[0], "too many unauthenticated connections")
            sock.setblocking(False)
            self._in[sock] = b""

    def _read(self, sock):
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._close(sock)
            return []
        self._in[sock] += data
        try:
            return self._frames(sock)
        except Exception as e:  # noqa: BLE001 - whatever a peer sends, the channel goes on
            self._drop(sock, "an unreadable frame (%s)" % type(e).__name__)
            return []

    def _frames(self, sock):
        buf, out = self._in[sock], []
        while len(buf) >= _HEADER.size:
            (n,) = _HEADER.unpack_from(buf)
            if not _MAC < n <= MAX_MESSAGE + _MAC:
                self._drop(sock, "a frame of %d bytes (at most %d)" % (n, MAX_MESSAGE + _MAC))
                return out
            if len(buf) < _HEADER.size + n:
                break
            frame, buf = buf[_HEADER.size:_HEADER.size + n], buf[_HEADER.size + n:]
            message, why = self._open(frame)
            if message is None:
                self._drop(sock, why)
                return out
            self._trusted.add(sock)
            out.append(message)
        self._in[sock] = buf
        return out

    def _open(self, frame):
        """((source, tag, payload), None) for a valid frame, else (None, why it is not)."""
        body, mac = frame[:-_MAC], frame[-_MAC:]
        if not hmac.compare_digest(mac, _mac(self._key, body)):
            return None, "a frame without this job's signature"
        try:
            src, dest, seq, tag, payload = json.loads(body)
        except (ValueError, TypeError):
            return None, "a signed frame that is not a message"
        if not (type(src) is int and type(seq) is int and isinstance(tag, str)):
            return None, "a signed frame that is not a message"
        if dest != self.rank:
            return None, "a frame for rank %r" % (dest,)
        if seq <= self._last_seen.get(src, 0):
            return None, "a replayed frame (rank %d's number %d, already seen)" % (src, seq)
        self._last_seen[src] = seq
        return (src, tag, payload), None

    def _drop(self, sock, why):
        self.dropped += 1
        if self.dropped <= LOGGED_DROPS:
            try:
                peer = "%s:%s" % sock.getpeername()[:2]
            except OSError:
                peer = "a closed connection"
            _log.warning("distflow: the watchdog's side channel on rank %d dropped %s from %s%s",
                         self.rank, why, peer, "" if self.dropped < LOGGED_DROPS else
                         " (further drops are counted, not logged)")
        self._close(sock)

    def _close(self, sock):
        self._in.pop(sock, None)
        self._trusted.discard(sock)
        sock.close()

    def close(self):
        for sock in list(self._out.values()) + list(self._in) + [self._listener]:
            if sock is not None:
                sock.close()
        self._out, self._in, self._trusted = {}, {}, set()
        # the wake pair stays: a signal handler may still write to it until set_wakeup_fd(-1)


def _mac(key, body):
    return hmac.new(key, body, hashlib.sha256).digest()


def _listen(address):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((address, 0))
        sock.listen(64)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def bind_address(rank, everyone):
    """Where rank `rank` listens, from every rank's (host name, its non-loopback addresses):
    loopback when every rank is on this host; else this host's address on the route to the
    first other host (the interface the job's traffic takes); else every interface, when
    no route can be found (the HMAC still guards the port)."""
    mine = everyone[rank][0]
    others = [addrs for host, addrs in everyone if host != mine]
    if not others:
        return "127.0.0.1"
    for addrs in others:
        for addr in addrs:
            source = _route_source(addr)
            if source:
                return source
    return "0.0.0.0"


def _route_source(addr):
    """This host's address that packets to `addr` leave from (UDP connect sends nothing)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((addr, 9))
            return probe.getsockname()[0]
    except OSError:
        return None


def _own_addresses(host):
    """This host's IPv4 addresses that other hosts may reach (loopback ones left out)."""
    try:
        addrs = socket.gethostbyname_ex(host)[2]
    except OSError:
        addrs = []
    return [a for a in addrs if not a.startswith("127.")]


def _candidates(my_host, host, addrs, bound):
    """Where to connect to a rank on `host` that listens on `bound`."""
    if bound != "0.0.0.0":
        return [bound]
    # last, loopback: host names that do not resolve (simulated hosts on one machine); a
    # process there that is not `dest` drops the frame (signature, or destination rank)
    return (["127.0.0.1"] if host == my_host else []) + list(addrs) + [host, "127.0.0.1"]
