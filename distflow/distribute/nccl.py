"""The NCCL communicator: collectives on GPU buffers through NCCL (CuPy's cupy.cuda.nccl).

Each collective is queued on the current CUDA stream, the one the kernels that computed the
buffer ran on, so the all-reduce of a step's gradients waits for them on the GPU, without a
host synchronization, and can be captured into a CUDA graph with the rest of the step.

Setting up goes through a bootstrap communicator (MPI; or `single` for a one-rank job): rank 0
asks NCCL for a unique id (128 bytes) and broadcasts it once, then every rank joins the NCCL
communicator with it, on its own GPU (ncclCommInitRank). The bootstrap keeps the work NCCL
cannot do: host (NumPy) buffers such as metric sums and the layout checks, Python objects,
barriers, host names and aborting the job. One rank per GPU: NCCL before 2.30 refuses two ranks
on one GPU ("Duplicate GPU detected"); use the host-staged communicator for that.
"""
import numpy as np

from distflow import backend
from distflow.backend import gpu
from distflow.distribute.communicator import DelegatingCommunicator


def load_nccl():
    """CuPy's NCCL module, or ImportError saying what to install."""
    cp = backend.cupy()
    nccl = gpu.nccl_module()
    if not getattr(nccl, "available", False):
        raise ImportError("CuPy (%s) cannot load the NCCL library: pip install "
                          "nvidia-nccl-cu12 (or -cu13, matching CuPy's CUDA), or use "
                          "communicator='host-staged'" % cp.__version__)
    return nccl


def _nccl_dtypes(nccl):
    return {np.dtype(np.float16): nccl.NCCL_FLOAT16, np.dtype(np.float32): nccl.NCCL_FLOAT32,
            np.dtype(np.float64): nccl.NCCL_FLOAT64, np.dtype(np.int8): nccl.NCCL_INT8,
            np.dtype(np.uint8): nccl.NCCL_UINT8, np.dtype(np.int32): nccl.NCCL_INT32,
            np.dtype(np.uint32): nccl.NCCL_UINT32, np.dtype(np.int64): nccl.NCCL_INT64,
            np.dtype(np.uint64): nccl.NCCL_UINT64}


def _nccl_ops(nccl):
    return {"sum": nccl.NCCL_SUM, "mean": nccl.NCCL_SUM, "max": nccl.NCCL_MAX,
            "min": nccl.NCCL_MIN}


class NCCLCommunicator(DelegatingCommunicator):
    name = "nccl"
    capturable = True  # its collectives may be captured into a CUDA graph (client/cuda_graph.py)
    _comm = None       # the NCCL communicator, once every rank has joined it

    def __init__(self, bootstrap, device_index=None):
        """`bootstrap`: the MPI (or single) communicator of the same ranks. `device_index`: this
        rank's GPU (default: the current CUDA device, which the runtime pinned)."""
        self._nccl = nccl = load_nccl()
        cp = backend.cupy()
        super().__init__(bootstrap)
        self.device_index = cp.cuda.runtime.getDevice() if device_index is None \
            else int(device_index)
        self._dtypes = _nccl_dtypes(nccl)
        self._ops = _nccl_ops(nccl)
        uid = nccl.get_unique_id() if self.rank == 0 else None
        uid = bootstrap.broadcast_object(uid, 0)
        with cp.cuda.Device(self.device_index):
            # collective: returns once every rank has joined with the same id
            self._comm = nccl.NcclCommunicator(self.size, uid, self.rank)

    # -- GPU buffers go through NCCL; the rest through the bootstrap (DelegatingCommunicator) --
    def _stream_ptr(self):
        return backend.cupy().cuda.get_current_stream().ptr

    def _check_device(self, buf, what):
        if buf.device.id != self.device_index:
            raise ValueError("%s: the buffer is on GPU %d, this rank's NCCL communicator on GPU "
                             "%d" % (what, buf.device.id, self.device_index))

    def _reduce_type(self, buf, op):
        """(NCCL data type, element count) for a reduction; complex sums reduce the real and
        imaginary parts as a float array twice as long."""
        dtype = buf.dtype
        if dtype.kind == "c" and op in ("sum", "mean"):
            part = np.dtype("float%d" % (dtype.itemsize * 4))
            return self._dtypes[part], buf.size * 2
        if dtype not in self._dtypes:
            raise TypeError("NCCL cannot %s-reduce %s buffers (supported: %s)"
                            % (op, dtype, ", ".join(sorted(str(d) for d in self._dtypes))))
        return self._dtypes[dtype], buf.size

    def _device_allreduce(self, buf, op, name):
        self._check_device(buf, "allreduce")
        datatype, count = self._reduce_type(buf, op)
        if count == 0:
            return
        ptr = buf.data.ptr
        self._comm.allReduce(ptr, ptr, count, datatype, self._ops[op], self._stream_ptr())
        if op == "mean":
            buf /= self.size

    def _device_broadcast(self, buf, root, name):
        self._check_device(buf, "broadcast")
        if buf.nbytes:  # as bytes: any dtype travels
            self._comm.bcast(buf.data.ptr, buf.nbytes, self._nccl.NCCL_UINT8, root,
                             self._stream_ptr())

    def _device_allgather(self, buf, name):
        cp = backend.cupy()
        self._check_device(buf, "allgather")
        out = cp.empty((self.size,) + buf.shape, dtype=buf.dtype)
        if buf.nbytes:
            self._comm.allGather(buf.data.ptr, out.data.ptr, buf.nbytes, self._nccl.NCCL_UINT8,
                                 self._stream_ptr())
        return out

    def close(self):
        comm, self._comm = self._comm, None
        if comm is not None:
            comm.destroy()
        super().close()
