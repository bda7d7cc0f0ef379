"""`tf.distribute.cluster_resolver`: the job as TF describes it, from mpirun (TF_CONFIG, when
set, only has to agree with it)."""
from distflow.distribute import runtime
from distflow.distribute.strategy import ClusterResolver, read_tf_config

__all__ = ["TFConfigClusterResolver", "ClusterResolver"]


class TFConfigClusterResolver(ClusterResolver):
    def __init__(self, task_type=None, task_id=None, rpc_layer=None, environment=None):
        ctx = runtime.init()
        super().__init__(ctx.rank, ctx.size, read_tf_config(ctx.rank, ctx.size))
