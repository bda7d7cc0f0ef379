"""The watchdog's TCP side channel, in one process: a rank may message itself, so one channel
whose fake communicator has a single rank exercises the framing, the token check and the
unreachable-rank bookkeeping. (Under mpirun, test_failures.py runs it between real ranks.)"""
import socket
import struct
import time

import pytest

from distflow.distribute.side_channel import SideChannel


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
