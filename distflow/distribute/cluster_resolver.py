"""`tf.distribute.cluster_resolver`: the job as TF describes it, from mpirun. Every rank is a
'worker' whose task_id is its rank; TF_CONFIG, when set, only has to agree with mpirun's ranks
(read_tf_config says how it may not)."""
import json
import os

from distflow.distribute import runtime

__all__ = ["ClusterResolver", "ClusterSpec", "TFConfigClusterResolver", "read_tf_config"]


class ClusterResolver:
    """The job as TF's cluster resolvers describe it: every rank a 'worker', task_id its rank."""

    def __init__(self, rank, size, tf_config=None):
        self.task_type = "worker"
        self.task_id = rank
        self.rpc_layer = "mpi"
        self.environment = ""
        self._size = size
        self._cluster = (tf_config or {}).get("cluster") or {
            "worker": ["rank-%d" % r for r in range(size)]}

    def cluster_spec(self):
        return ClusterSpec(self._cluster)

    def num_accelerators(self, task_type=None, task_id=None, config_proto=None):
        return {"GPU": 1} if runtime.device().startswith("gpu") else {}

    def master(self, task_type=None, task_id=None, rpc_layer=None):
        return ""


class ClusterSpec:
    def __init__(self, cluster):
        self._cluster = {k: list(v) for k, v in dict(cluster).items()}

    @property
    def jobs(self):
        return list(self._cluster)

    def num_tasks(self, job_name):
        return len(self._cluster[job_name])

    def as_dict(self):
        return dict(self._cluster)

    def __bool__(self):
        return bool(self._cluster)


def read_tf_config(rank, size, env=None):
    """TF_CONFIG as a dict, after checking that it describes this mpirun job (or None)."""
    raw = (os.environ if env is None else env).get("TF_CONFIG", "").strip()
    if not raw:
        return None
    try:
        config = json.loads(raw)
    except ValueError:
        raise ValueError("TF_CONFIG is not valid JSON: %r" % raw) from None
    if not isinstance(config, dict):
        raise ValueError("TF_CONFIG must be a JSON object with 'cluster' and 'task', got %r" % raw)
    cluster = config.get("cluster") or {}
    chiefs, workers = list(cluster.get("chief", [])), list(cluster.get("worker", []))
    count = len(chiefs) + len(workers)
    if count and count != size:
        raise ValueError("TF_CONFIG describes %d workers (%s), but this job has %d rank%s: "
                         "distflow takes its workers from mpirun, so start it with `mpirun -n %d` "
                         "or unset TF_CONFIG" % (count, ", ".join(sorted(cluster)), size,
                                                 "" if size == 1 else "s", count))
    task = config.get("task") or {}
    if task and count:
        kind, index = task.get("type", "worker"), int(task.get("index", 0))
        expected = index + (len(chiefs) if kind == "worker" else 0)
        if kind not in ("worker", "chief") or expected != rank:
            raise ValueError("TF_CONFIG says this process is task {'type': %r, 'index': %d}, but "
                             "mpirun made it rank %d of %d: give each rank its own TF_CONFIG or "
                             "unset it (the ranks come from mpirun)" % (kind, index, rank, size))
    return config


class TFConfigClusterResolver(ClusterResolver):
    def __init__(self, task_type=None, task_id=None, rpc_layer=None, environment=None):
        ctx = runtime.init()
        super().__init__(ctx.rank, ctx.size, read_tf_config(ctx.rank, ctx.size))
