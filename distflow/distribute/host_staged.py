"""The host-staged communicator: GPU buffers reduced by MPI through host memory.

Each collective on a GPU buffer copies it to a host buffer, runs the MPI collective there (the
MPI library need not know about GPUs), and copies the result back. It is slower than NCCL (two
copies over PCIe and a stream synchronization per collective) but works wherever MPI does: when
CuPy has no NCCL, and when several ranks share one GPU, which NCCL before 2.30 refuses.

The host buffers are page-locked (pinned) and kept per buffer size, so a training step, which
reduces the same fused gradient buffer every time, allocates nothing after its first step. The
copy to the host waits for the kernels queued before it on the current stream; the copy back is
queued on that stream, so the update kernels that follow see the reduced values.

Host (NumPy) buffers go to MPI directly, as with the plain MPI communicator.
"""
from distflow import backend
from distflow.backend import gpu
from distflow.distribute.communicator import DelegatingCommunicator

MAX_STAGING_BUFFERS = 8  # distinct (size, dtype) pairs kept; past that, buffers are not kept


class HostStagedCommunicator(DelegatingCommunicator):
    name = "host-staged"
    capturable = False  # host copies and MPI cannot be captured into a CUDA graph

    def __init__(self, mpi):
        """`mpi`: the MPI (or single) communicator of the same ranks."""
        super().__init__(mpi)
        self._staging = {}

    def _host_buffer(self, buf):
        """A pinned host array with buf's shape and dtype, reused for the same size and dtype."""
        key = (buf.shape, buf.dtype.str)
        host = self._staging.get(key)
        if host is None:
            host = gpu.empty_pinned(buf.shape, buf.dtype)
            if len(self._staging) < MAX_STAGING_BUFFERS:
                self._staging[key] = host
        return host

    def _device_allreduce(self, buf, op, name):
        host = self._host_buffer(buf)
        buf.get(out=host)  # waits for the kernels that computed buf
        self.inner.allreduce(host, op, name)
        buf.set(host)

    def _device_broadcast(self, buf, root, name):
        host = self._host_buffer(buf)
        if self.rank == root:
            buf.get(out=host)
        else:  # MPI writes into host: a copy still reading it from before must finish first
            backend.cupy().cuda.get_current_stream().synchronize()
        self.inner.broadcast(host, root, name)
        if self.rank != root:
            buf.set(host)

    def _device_allgather(self, buf, name):
        rows = self.inner.allgather(buf.get(), name)
        return backend.cupy().asarray(rows)

    def close(self):
        self._staging.clear()
        super().close()
