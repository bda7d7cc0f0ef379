"""The watchdog's TCP side channel, in one process: a rank may message itself, so one channel
whose fake communicator has a single rank exercises the framing, the token check and the
unreachable-rank bookkeeping. (Under mpirun, test_failures.py runs it between real ranks.)"""
import socket
import struct
import time

import pytest

from distflow.distribute import side_channel
from distflow.distribute.side_channel import SideChannel
from mpi_launch import launches_mpi, run_mpi


class OneRank:
    def Get_rank(self):
        return 0

    def allgather(self, obj):
        return [obj]


@pytest.fixture
def channel():
    ch = SideChannel(OneRank())
    yield ch
    ch.close()


def receive(ch, want=1, within=5.0):
    got, deadline = [], time.monotonic() + within
    while len(got) < want and time.monotonic() < deadline:
        got += ch.poll(0.05)
    return got


def port_of(ch):
    return ch._listener.getsockname()[1]


def test_messages_arrive_whole_and_in_order(channel):
    assert channel.send(0, "query", 7)
    assert channel.send(0, "answer", ["waiting", 7, "allreduce", "the-step", 1.5])
    assert receive(channel, 2) == [(0, "query", 7),
                                   (0, "answer", ["waiting", 7, "allreduce", "the-step", 1.5])]
    assert channel.poll(0) == []


def frame(body, mac=b"\0" * 32):
    return struct.pack("!I", len(body) + len(mac)) + body + mac


def stray_sends(ch, data):
    """Sends `data` on a connection of its own; True when the channel then closed it (and
    delivered no message)."""
    stray = socket.create_connection(("127.0.0.1", port_of(ch)))
    stray.sendall(data)
    stray.settimeout(0.02)
    got, closed, deadline = [], False, time.monotonic() + 5
    while not closed and time.monotonic() < deadline:
        got += ch.poll(0.02)
        try:
            closed = stray.recv(10) == b""
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed = True
    stray.close()
    assert got == []
    return closed


BAD_FRAMES = {
    # the frame that once killed the watchdog's thread: 5 bytes whose JSON is a number
    "a frame of 5 bytes": struct.pack("!I", 5) + b"12345",
    "a frame of 1347375956 bytes": b"POST / HTTP/1.1\r\n\r\n",
    "a frame of 2147483647 bytes": struct.pack("!I", 2**31 - 1) + b"x" * 1000,
    "without this job's signature": frame(b'[0, 0, 99, "exit", [0, null]]'),
}


@pytest.mark.parametrize("why", sorted(BAD_FRAMES))
def test_a_bad_frame_is_a_logged_drop_and_the_channel_goes_on(channel, caplog, why):
    with caplog.at_level("WARNING", logger="distflow.distribute"):
        assert stray_sends(channel, BAD_FRAMES[why])
    assert channel.dropped == 1
    assert "side channel on rank 0 dropped" in caplog.text and why in caplog.text, caplog.text
    assert channel.send(0, "exit", 3)  # and the channel still works
    assert receive(channel) == [(0, "exit", 3)]


def test_a_frame_signed_with_another_jobs_secret_is_dropped(channel):
    other = SideChannel(OneRank())  # another job: its own secret
    try:
        assert stray_sends(channel, other.encode(0, "exit", [0, None]))
    finally:
        other.close()
    assert channel.dropped == 1


def test_a_recorded_frame_sent_again_is_dropped_as_a_replay(channel, caplog):
    genuine = channel.encode(0, "query", 5)
    stray = socket.create_connection(("127.0.0.1", port_of(channel)))
    stray.sendall(genuine)
    assert receive(channel) == [(0, "query", 5)]
    with caplog.at_level("WARNING", logger="distflow.distribute"):
        assert stray_sends(channel, genuine)
    assert "a replayed frame (rank 0's number 1, already seen)" in caplog.text
    # an older frame, signed and never sent, is refused too once a later one arrived
    older, newer = channel.encode(0, "query", 6), channel.encode(0, "query", 7)
    stray.sendall(newer)
    assert receive(channel) == [(0, "query", 7)]
    assert stray_sends(channel, older)
    stray.close()


def test_a_frame_for_another_rank_is_dropped(channel):
    assert stray_sends(channel, channel.encode(1, "exit", [0, None]))


def test_a_flood_of_silent_connections_closes_the_oldest(channel):
    strays = [socket.create_connection(("127.0.0.1", port_of(channel)))
              for _ in range(side_channel.MAX_PENDING + 5)]
    receive(channel, within=1.0)
    assert len(channel._in) <= side_channel.MAX_PENDING
    strays[0].settimeout(5)
    assert strays[0].recv(10) == b""  # the oldest was closed
    for s in strays:
        s.close()
    assert channel.send(0, "exit", 1)
    assert receive(channel) == [(0, "exit", 1)]


def test_drops_are_logged_a_few_times_then_counted(channel, caplog):
    with caplog.at_level("WARNING", logger="distflow.distribute"):
        for _ in range(side_channel.LOGGED_DROPS + 3):
            stray_sends(channel, b"\xff" * 8)
    assert channel.dropped == side_channel.LOGGED_DROPS + 3
    assert caplog.text.count("dropped") == side_channel.LOGGED_DROPS
    assert "further drops are counted, not logged" in caplog.text


def test_ranks_on_one_host_listen_on_loopback_only(channel):
    assert channel.address == "127.0.0.1"
    assert channel._listener.getsockname()[0] == "127.0.0.1"


def test_ranks_on_several_hosts_listen_on_the_address_that_reaches_the_others():
    # 127.0.0.2 stands for another host: the route to it leaves from this host's 127.0.0.1
    assert side_channel.bind_address(0, [("a", ["10.9.9.9"]), ("b", ["127.0.0.2"])]) \
        == "127.0.0.1"
    # no address of another host is known: every interface (the HMAC still guards the port)
    assert side_channel.bind_address(1, [("a", []), ("b", [])]) == "0.0.0.0"


def test_a_rank_whose_port_is_closed_is_unreachable(channel):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_port = closed.getsockname()[1]
    closed.close()
    channel._peers[0] = (["127.0.0.1"], dead_port)
    assert not channel.send(0, "query", 1, timeout=0.5)
    assert channel.unreachable == {0}


def _cannot_listen(address):
    raise OSError("Operation not permitted (test)")


def test_a_rank_that_cannot_listen_makes_the_channel_broken_not_an_error(monkeypatch):
    monkeypatch.setattr(side_channel, "_listen", _cannot_listen)
    ch = SideChannel(OneRank())
    assert ch.broken == "rank 0 cannot listen on TCP: Operation not permitted (test)"
    ch.close()


BROKEN_ON_RANK_1 = (
    "import os, numpy as np\n"
    "from distflow.distribute import side_channel\n"
    "def boom(address):\n"
    "    raise OSError('Operation not permitted (test)')\n"
    "if os.environ.get('PMI_RANK') == '1':\n"
    "    side_channel._listen = boom\n"
    "import distflow.distribute as dd\n"
    "comm = dd.init().communicator\n"
    "buf = np.ones(3, np.float32)\n"
    "comm.allreduce(buf)\n"
    "seen = comm.allgather_object((float(buf[0]), comm.watchdog is not None))\n"
    "if comm.rank == 0:\n"
    "    print(seen)\n")


@launches_mpi
def test_when_one_rank_cannot_listen_every_rank_runs_without_a_watchdog_and_rank_0_says_so():
    proc = run_mpi(2, ["-c", BROKEN_ON_RANK_1])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[(2.0, False), (2.0, False)]"
    assert proc.stderr.count("no collective watchdog (rank 1 cannot listen on TCP") == 1
