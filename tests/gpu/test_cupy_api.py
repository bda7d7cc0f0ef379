"""The CuPy API audit: what distflow's GPU code and the CPU stand-in (simulated_cupy.py) use of
CuPy, held to the real package. Needs no GPU: `pip install cupy-cuda12x nvidia-nccl-cu12`
installs and imports on any x86-64 Linux machine (creating an array fails without a driver, but
every module, class and function is there); CI installs both (.ci/run)."""
import inspect
import types

import numpy as np
import pytest

from cupy_reference import accepts_subset, documented_attributes, real_cupy, signature_of

cupy = real_cupy()
pytestmark = pytest.mark.skipif(
    cupy is None, reason="the CuPy API audit needs the cupy package (pip install cupy-cuda12x "
                         "nvidia-nccl-cu12: it installs and imports without a GPU; CI installs it)")


# -- 1. every CuPy name distflow's code uses ------------------------------------------------------
# uses the walk must find: if it stops finding them, it has gone blind, not the code clean
MUST_FIND = {
    "cupy.cuda.nccl.NcclCommunicator", "cupy.cuda.nccl.NcclCommunicator.allReduce",
    "cupy.cuda.nccl.NcclCommunicator.bcast", "cupy.cuda.nccl.NcclCommunicator.allGather",
    "cupy.cuda.nccl.get_unique_id", "cupy.cuda.nccl.NCCL_FLOAT32", "cupy.cuda.nccl.NCCL_SUM",
    "cupy.cuda.Stream", "cupy.cuda.Stream.begin_capture", "cupy.cuda.Stream.end_capture",
    "cupy.cuda.Stream.ptr", "cupy.cuda.Graph.launch", "cupy.cuda.MemoryPool",
    "cupy.cuda.using_allocator", "cupy.cuda.Stream.record", "cupyx.empty_pinned",
    "cupy.cuda.Device.pci_bus_id", "cupy.ndarray.get", "cupy.ndarray.set",
    "cupy.cuda.MemoryPointer.ptr", "cupy.cuda.Device.id", "cupy.cumsum", "cupy.add.at",
}


@pytest.fixture(scope="module")
def uses():
    from cupy_uses import cupy_uses
    return cupy_uses()


def test_every_cupy_name_distflow_uses_exists_in_cupy_and_every_call_binds(uses):
    problems = [u for u in uses if u.problem]
    assert not problems, "CuPy %s refuses these uses:\n  %s" % (
        cupy.__version__, "\n  ".join(map(repr, problems)))


def test_the_walk_finds_the_gpu_code_paths(uses):
    found = {u.path for u in uses}
    assert MUST_FIND <= found, "the walk no longer finds %s" % sorted(MUST_FIND - found)
    assert len(uses) > 300


def test_the_walk_reports_what_cupy_would_refuse():
    from cupy_uses import uses_in_source
    src = "\n".join([
        "from distflow import backend",
        "def f(xp, name):",
        "    cp = backend.cupy()",
        "    s = cp.cuda.Stream(non_blocking=True, fast=True)",
        "    s.begin_capture(1, 2)",
        "    s.end_capture().replay()",
        "    xp.errstate(all='ignore')",
        "    nccl = backend.load_nccl()",
        "    c = nccl.NcclCommunicator(2, b'id', 0)",
        "    c.allReduce(1, 2, 3, nccl.NCCL_FLOAT99, nccl.NCCL_SUM)",
        "    getattr(xp, name)",
        "    cp.sum(cp.zeros(3), where=True)",
        "    cp.zeros(3).resize(4)",
        "    cp.cuda.get_current_stream().record().elapsed",
    ])
    problems = {u.path: u.problem for u in uses_in_source("x.py", src) if u.problem}
    assert set(problems) == {
        "cupy.cuda.Stream(...)", "cupy.cuda.Stream.begin_capture(...)", "cupy.cuda.Graph.replay",
        "cupy.errstate", "cupy.cuda.nccl.NCCL_FLOAT99",
        "cupy.cuda.nccl.NcclCommunicator.allReduce(...)", "cupy.<computed>", "cupy.sum(...)",
        "cupy.ndarray.resize", "cupy.cuda.Event.elapsed"}, problems
    assert "unexpected keyword argument 'fast'" in problems["cupy.cuda.Stream(...)"]
    assert "missing a required argument: 'stream'" in \
        problems["cupy.cuda.nccl.NcclCommunicator.allReduce(...)"]


def test_numpy_array_methods_the_code_calls_exist_on_cupy_arrays():
    from cupy_uses import ndarray_attributes_used
    missing = {name: where for name, where in ndarray_attributes_used().items()
               if not hasattr(cupy.ndarray, name)}
    assert not missing, "cupy.ndarray has none of: %s" % missing


# -- 2. every name the stand-in offers, with a compatible signature --------------------------------
def _compare(stand, real, path, problems, seen):
    """Every public attribute of the stand-in object `stand` exists on CuPy's `real`, and each
    callable accepts no call that CuPy's refuses."""
    if id(stand) in seen:
        return
    seen.add(id(stand))
    if callable(stand) and not isinstance(stand, types.SimpleNamespace):
        s_sig, r_sig = inspect.signature(stand), signature_of(real)
        if r_sig is not None:
            if list(s_sig.parameters)[:1] == ["self"]:  # a method of the stand-in's classes
                s_sig = s_sig.replace(parameters=list(s_sig.parameters.values())[1:])
            problems.extend("%s%s: %s (CuPy: %s)" % (path, s_sig, p, r_sig)
                            for p in accepts_subset(s_sig, r_sig))
    if isinstance(stand, (types.ModuleType, types.SimpleNamespace, type)):
        names = vars(stand)
        for name, value in list(names.items()):
            if name.startswith("_") and name not in ("__enter__", "__exit__", "__version__"):
                continue
            if isinstance(stand, types.ModuleType) and name == "ndarray":
                continue  # SimArray: compared method by method below
            if not hasattr(real, name) and name not in documented_attributes(real):
                problems.append("%s.%s: not in CuPy" % (path, name))
                continue
            if callable(value) or isinstance(value, (types.SimpleNamespace, types.ModuleType)):
                _compare(value, getattr(real, name), path + "." + name, problems, seen)


def test_every_name_the_stand_in_offers_is_cupys_with_a_compatible_signature():
    from simulated_cupy import SimArray, _Device, make_module
    sim, problems = make_module(), []
    _compare(sim, cupy, "cupy", problems, set())
    for name in ("get", "set"):  # the device array's own methods (the rest are NumPy's, held)
        s_sig = inspect.signature(getattr(SimArray, name))
        s_sig = s_sig.replace(parameters=list(s_sig.parameters.values())[1:])
        problems.extend("ndarray.%s: %s" % (name, p)
                        for p in accepts_subset(s_sig, signature_of(getattr(cupy.ndarray, name))))
    device = _Device()
    for name in vars(device):  # instance attributes: CuPy's class has them or documents them
        if not hasattr(cupy.cuda.Device, name) and \
                name not in documented_attributes(cupy.cuda.Device):
            problems.append("cuda.Device().%s: not in CuPy" % name)
    stream = sim.cuda.get_current_stream()
    for name in vars(stream):
        if not hasattr(cupy.cuda.Stream, name) and \
                name not in documented_attributes(cupy.cuda.Stream):
            problems.append("cuda.get_current_stream().%s: not in CuPy" % name)
    assert not problems, "the stand-in accepts what CuPy %s refuses:\n  %s" % (
        cupy.__version__, "\n  ".join(problems))


def test_the_pinned_host_buffer_stand_in_takes_what_cupyx_takes():
    import cupyx
    from distflow.backend import gpu
    from simulated_cupy import simulated_gpu
    with simulated_gpu():
        stand = inspect.signature(gpu.empty_pinned)
    assert accepts_subset(stand, signature_of(cupyx.empty_pinned)) == []


def test_the_stand_in_offers_exactly_the_numpy_names_cupy_has():
    from simulated_cupy import make_module
    sim = make_module()
    for name in dir(np):
        if name.startswith("_"):
            continue
        if hasattr(cupy, name):
            getattr(sim, name)
        else:
            with pytest.raises(AttributeError, match="no attribute"):
                getattr(sim, name)


def test_the_stand_in_refuses_calls_and_attributes_cupy_refuses():
    from simulated_cupy import make_module
    sim = make_module()
    x = sim.asarray(np.arange(6.0))
    with pytest.raises(TypeError, match="where"):
        sim.sum(x, where=x > 0)           # NumPy takes where=, CuPy does not
    with pytest.raises(TypeError, match="order"):
        sim.add(x, x, order="C")          # nor a ufunc's order=
    with pytest.raises(TypeError, match="where"):
        x.sum(where=True)
    with pytest.raises(AttributeError, match="resize"):
        x.resize(3)                       # no ndarray.resize in CuPy
    with pytest.raises(TypeError):
        range(sim.asarray(np.array(3)))   # no __index__
    with pytest.raises(TypeError):
        sim.cuda.Device(index=0)          # CuPy's parameter is `device`
    with pytest.raises(TypeError):
        sim.array(a=[1.0])                # CuPy's first parameter is `obj`
    sim.add.at(x, sim.asarray(np.array([0, 0])), 1.0)  # what CuPy takes still works
    assert float(x[0]) == 2.0 and sim.linalg.inv(sim.eye(2)).shape == (2, 2)


# -- 3. the NCCL data types and reduction ops --------------------------------------------------------
def test_every_nccl_data_type_and_op_distflow_uses_exists_and_matches_its_name():
    from cupy.cuda import nccl
    from distflow.distribute.nccl import _nccl_dtypes, _nccl_ops
    dtypes = _nccl_dtypes(nccl)
    for dtype, code in dtypes.items():
        assert code == getattr(nccl, "NCCL_" + dtype.name.upper()), dtype
    assert len(set(dtypes.values())) == len(dtypes)
    ops = _nccl_ops(nccl)
    assert ops == {"sum": nccl.NCCL_SUM, "mean": nccl.NCCL_SUM, "max": nccl.NCCL_MAX,
                   "min": nccl.NCCL_MIN}
    assert len({nccl.NCCL_SUM, nccl.NCCL_MAX, nccl.NCCL_MIN}) == 3
    # what the communicator needs of the module: loading it says whether libnccl is there
    assert isinstance(nccl.available, bool)
    assert {"allReduce", "bcast", "allGather", "destroy"} <= set(dir(nccl.NcclCommunicator))
