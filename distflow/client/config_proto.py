"""TF1's session options (`tf.ConfigProto`, `tf.GPUOptions`, `tf.RunOptions`).

Programs pass them to `tf.Session(config=...)` to ask for soft placement, memory growth or
thread counts. distflow's Session places every op on its one device and takes memory as it
needs it, so the options are kept (a program may read them back) and change nothing.
"""


class _Proto:
    """Fields with defaults, set by keyword or attribute, as a protocol buffer message is."""

    _FIELDS = {}

    def __init__(self, **kwargs):
        for name, default in self._FIELDS.items():
            object.__setattr__(self, name, default() if callable(default) else default)
        for name, value in kwargs.items():
            setattr(self, name, value)

    def __setattr__(self, name, value):
        if name not in self._FIELDS:
            raise AttributeError("Protocol message %s has no \"%s\" field."
                                 % (type(self).__name__, name))
        object.__setattr__(self, name, value)

    def __repr__(self):
        changed = ["%s: %r" % (n, getattr(self, n)) for n, d in self._FIELDS.items()
                   if not callable(d) and getattr(self, n) != d]
        return "\n".join(changed)


class GPUOptions(_Proto):
    _FIELDS = {"allow_growth": False, "per_process_gpu_memory_fraction": 0.0,
               "visible_device_list": "", "allocator_type": ""}


class GraphOptions(_Proto):
    _FIELDS = {"build_cost_model": 0, "infer_shapes": False, "place_pruned_graph": False,
               "enable_bfloat16_sendrecv": False}


class ConfigProto(_Proto):
    _FIELDS = {"allow_soft_placement": False, "log_device_placement": False,
               "intra_op_parallelism_threads": 0, "inter_op_parallelism_threads": 0,
               "device_count": dict, "gpu_options": GPUOptions, "graph_options": GraphOptions,
               "operation_timeout_in_ms": 0, "use_per_session_threads": False,
               "isolate_session_state": False}


class RunOptions(_Proto):
    FULL_TRACE, SOFTWARE_TRACE, HARDWARE_TRACE, NO_TRACE = 3, 1, 2, 0
    _FIELDS = {"trace_level": 0, "timeout_in_ms": 0, "report_tensor_allocations_upon_oom": False}


def check_config(config):
    if config is not None and not isinstance(config, ConfigProto):
        raise TypeError("config must be a tf.ConfigProto, but got %s" % type(config))
