"""The watchdog's side channel: small messages between ranks over TCP, outside MPI.

Why not MPI: distflow runs MPI at MPI_THREAD_FUNNELED (only the main thread calls MPI), because
under MPI_THREAD_MULTIPLE MPICH gives up its shared-memory all-reduce, three times faster on the
small buffers of a training step (runtime.py has the figures). The watchdog's thread must still
talk while the main thread waits inside a collective, so it talks here, where MPI's thread level
does not matter.

Set up once, from the main thread, with one MPI allgather: every rank listens on a TCP port of
its own and learns every other rank's addresses and port, and rank 0's random job token. Nothing
travels while the job is healthy. A message is a 4-byte length and JSON [token, source rank, tag,
payload]; JSON, not pickle, so that a stray connection cannot run code here, and one whose token
is wrong is dropped. Everything is best effort: a rank that cannot be reached is reported as such,
and the timeout still ends the job.
"""
import json
import secrets
import select
import socket
import struct
import threading

_HEADER = struct.Struct("!I")
MAX_MESSAGE = 1 << 16  # the watchdog's messages are a few dozen bytes


class SideChannel:
    def __init__(self, mpi_comm):
        """Collective over `mpi_comm` (an mpi4py communicator); call from the main thread."""
        self.rank = mpi_comm.Get_rank()
        host = socket.gethostname()
        try:
            self._listener = _listen()
            port = self._listener.getsockname()[1]
        except OSError as e:  # no TCP here: every rank must still reach the allgather below
            self._listener, port = None, "%s" % e
        token = secrets.token_hex(16) if self.rank == 0 else None
        mine = (host, _own_addresses(host), port, token)
        # the raw mpi4py call, not the communicator's: it is no collective of the program's
        everyone = mpi_comm.allgather(mine)
        self._token = everyone[0][3]
        self._peers = [(_candidates(host, h, addrs), port) for h, addrs, port, _ in everyone]
        # why the channel cannot work (a rank could not listen), the same on every rank
        self.broken = next(("rank %d cannot listen on TCP: %s" % (r, p)
                            for r, (_, _, p, _) in enumerate(everyone) if isinstance(p, str)),
                           None)
        self._out = {}      # rank -> connected socket
        self._in = {}       # accepted socket -> bytes received so far
        self.unreachable = set()  # ranks whose port refused us: their process has likely ended
        # the watchdog's thread answers while the main thread may ask (hvd.join): one sender
        self._send_lock = threading.Lock()

    def send(self, dest, tag, payload, timeout=1.0):
        """Sends one message; False when `dest` cannot be reached (then noted in unreachable)."""
        body = json.dumps([self._token, self.rank, tag, payload]).encode()
        frame = _HEADER.pack(len(body)) + body
        with self._send_lock:
            return self._send_frame(dest, frame, timeout)

    def _send_frame(self, dest, frame, timeout):
        for attempt in (0, 1):  # a cached connection may have died since: reconnect once
            sock = self._out.get(dest) or self._connect(dest, timeout)
            if sock is None:
                self.unreachable.add(dest)
                return False
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

    def poll(self, timeout=0.0):
        """[(source rank, tag, payload)] of the messages that arrived; waits at most `timeout`."""
        readable, _, _ = select.select([self._listener] + list(self._in), [], [], timeout)
        messages = []
        for sock in readable:
            if sock is self._listener:
                self._accept()
                continue
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                self._drop(sock)
                continue
            self._in[sock] += data
            messages += self._frames(sock)
        return messages

    def _accept(self):
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            sock.setblocking(False)
            self._in[sock] = b""

    def _frames(self, sock):
        buf, out = self._in[sock], []
        while len(buf) >= _HEADER.size:
            (n,) = _HEADER.unpack_from(buf)
            if n > MAX_MESSAGE:  # not one of ours
                self._drop(sock)
                return out
            if len(buf) < _HEADER.size + n:
                break
            body, buf = buf[_HEADER.size:_HEADER.size + n], buf[_HEADER.size + n:]
            try:
                token, src, tag, payload = json.loads(body)
            except ValueError:
                token = None
            if token != self._token:
                self._drop(sock)
                return out
            out.append((src, tag, payload))
        self._in[sock] = buf
        return out

    def _drop(self, sock):
        self._in.pop(sock, None)
        sock.close()

    def close(self):
        for sock in list(self._out.values()) + list(self._in) + [self._listener]:
            if sock is not None:
                sock.close()
        self._out, self._in = {}, {}


def _listen():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("", 0))
        sock.listen(64)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _own_addresses(host):
    """This host's IPv4 addresses that other hosts may reach (loopback ones left out)."""
    try:
        addrs = socket.gethostbyname_ex(host)[2]
    except OSError:
        addrs = []
    return [a for a in addrs if not a.startswith("127.")]


def _candidates(my_host, host, addrs):
    """Where to connect to a rank on `host`: loopback first when it is this host."""
    return (["127.0.0.1"] if host == my_host else []) + list(addrs) + [host]
