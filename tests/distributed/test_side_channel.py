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


def test_a_stray_connection_is_dropped_and_cannot_inject_messages(channel):
    def frame(body):
        return struct.pack("!I", len(body)) + body

    for junk in (b"GET / HTTP/1.1\r\n\r\n",             # read as a huge length
                 frame(b"nope!"),                        # not JSON
                 frame(b'["bad", 0, "exit", 3]')):       # the wrong token
        stray = socket.create_connection(("127.0.0.1", port_of(channel)))
        stray.sendall(junk)
        assert receive(channel, within=0.5) == []
        # the channel closed its end: the stray sees end of stream
        stray.settimeout(5)
        assert stray.recv(10) == b""
        stray.close()
    assert channel.send(0, "exit", 3)  # and the channel still works
    assert receive(channel) == [(0, "exit", 3)]


def test_a_rank_whose_port_is_closed_is_unreachable(channel):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_port = closed.getsockname()[1]
    closed.close()
    channel._peers[0] = (["127.0.0.1"], dead_port)
    assert not channel.send(0, "query", 1, timeout=0.5)
    assert channel.unreachable == {0}


def _cannot_listen():
    raise OSError("Operation not permitted (test)")


def test_a_rank_that_cannot_listen_makes_the_channel_broken_not_an_error(monkeypatch):
    monkeypatch.setattr(side_channel, "_listen", _cannot_listen)
    ch = SideChannel(OneRank())
    assert ch.broken == "rank 0 cannot listen on TCP: Operation not permitted (test)"
    ch.close()


BROKEN_ON_RANK_1 = (
    "import os, numpy as np\n"
    "from distflow.distribute import side_channel\n"
    "def boom():\n"
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
