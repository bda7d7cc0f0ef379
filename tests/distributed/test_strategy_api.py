"""tf.distribute's API in one process: the default strategy, scopes and replica contexts,
TF_CONFIG checks, reductions, and the errors that keep a distributed program from silently
training wrong."""
import numpy as np
import pytest

import distflow as tf
from distflow.distribute import strategy as strategy_module


@pytest.fixture
def strategy():
    return tf.distribute.MultiWorkerMirroredStrategy()


def test_default_strategy_outside_any_scope():
    default = tf.distribute.get_strategy()
    assert default.num_replicas_in_sync == 1
    assert not tf.distribute.has_strategy()
    assert not tf.distribute.in_cross_replica_context()
    context = tf.distribute.get_replica_context()
    assert context is not None and context.num_replicas_in_sync == 1
    x = tf.constant([1.0, 2.0, 3.0])
    assert float(default.reduce(tf.distribute.ReduceOp.SUM, x, axis=0)) == 6.0
    assert float(default.reduce(tf.distribute.ReduceOp.MEAN, x, axis=0)) == 2.0
    assert default.run(lambda v: v * 2, args=(3,)) == 6


def test_scope_makes_the_strategy_current_and_cross_replica(strategy):
    with strategy.scope():
        assert tf.distribute.get_strategy() is strategy
        assert tf.distribute.has_strategy()
        assert tf.distribute.in_cross_replica_context()
        assert tf.distribute.get_replica_context() is None

        def replica_fn():
            context = tf.distribute.get_replica_context()
            assert not tf.distribute.in_cross_replica_context()
            assert context.replica_id_in_sync_group == 0
            return context.all_reduce(tf.distribute.ReduceOp.MEAN, {"a": tf.constant(4.0)})

        assert float(strategy.run(replica_fn)["a"]) == 4.0
    assert tf.distribute.get_strategy() is not strategy
    assert strategy.num_replicas_in_sync == 1
    assert strategy.cluster_resolver.task_type == "worker"
    assert strategy.cluster_resolver.task_id == 0
    assert strategy.extended.should_checkpoint


def test_reduce_mean_along_an_axis_averages_the_elements(strategy):
    value = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    np.testing.assert_allclose(strategy.reduce("MEAN", value, axis=0).numpy(), [3.0, 4.0])
    np.testing.assert_allclose(strategy.reduce("SUM", value, axis=0).numpy(), [9.0, 12.0])
    np.testing.assert_allclose(strategy.reduce("SUM", value, axis=None).numpy(), value.numpy())
    with pytest.raises(ValueError, match="ReduceOp.SUM or ReduceOp.MEAN"):
        strategy.reduce("max", value)


def test_apply_gradients_inside_run_works_in_a_function(strategy):
    with strategy.scope():
        v = tf.Variable([1.0, 2.0])
        opt = tf.keras.optimizers.SGD(learning_rate=0.5)

    @tf.function
    def step():
        def replica_fn():
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(v * v)
            opt.apply_gradients([(tape.gradient(loss, v), v)])
            return loss
        return strategy.run(replica_fn)

    assert float(step()) == 5.0
    np.testing.assert_allclose(v.numpy(), [0.0, 0.0])


def test_distributed_iterator_refuses_next_inside_a_function(strategy):
    data = tf.data.Dataset.from_tensor_slices(np.arange(8, dtype=np.float32)).batch(4)
    iterator = iter(strategy.experimental_distribute_dataset(data))

    @tf.function
    def step(it):
        return strategy.run(lambda b: b * 2, args=(next(it),))

    with pytest.raises(tf.errors.UnimplementedError, match="pass the batch in"):
        step(iterator)
    np.testing.assert_allclose(next(iterator).numpy(), [0.0, 1.0, 2.0, 3.0])


def test_datasets_from_function_get_an_input_context(strategy):
    seen = []

    def dataset_fn(input_context):
        seen.append(input_context)
        batch = input_context.get_per_replica_batch_size(8)
        return tf.data.Dataset.from_tensor_slices(np.arange(16.0)).batch(batch)

    data = strategy.distribute_datasets_from_function(dataset_fn)
    assert len(list(data)) == 2
    assert [b.numpy().tolist() for b in data][1] == [8.0 + i for i in range(8)]  # not split
    assert seen[0].num_input_pipelines == 1 and seen[0].input_pipeline_id == 0


def test_tf_config_must_describe_the_mpirun_job():
    read = strategy_module.read_tf_config
    two = '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}'
    assert read(1, 2, {"TF_CONFIG": two})["task"]["index"] == 1
    assert read(0, 1, {}) is None
    with pytest.raises(ValueError, match="describes 2 workers .* this job has 1 rank"):
        read(0, 1, {"TF_CONFIG": two})
    with pytest.raises(ValueError, match="task .* but mpirun made it rank 0 of 2"):
        read(0, 2, {"TF_CONFIG": two})
    chief = '{"cluster": {"chief": ["a:1"], "worker": ["b:2"]}, "task": {"type": "worker", ' \
            '"index": 0}}'
    assert read(1, 2, {"TF_CONFIG": chief}) is not None
    with pytest.raises(ValueError, match="not valid JSON"):
        read(0, 1, {"TF_CONFIG": "{worker"})


def test_mirrored_strategy_takes_one_device_per_process():
    assert tf.distribute.MirroredStrategy().num_replicas_in_sync == 1
    assert tf.distribute.MirroredStrategy(devices=["/cpu:0"]).num_replicas_in_sync == 1
    with pytest.raises(ValueError, match="mpirun -n 2"):
        tf.distribute.MirroredStrategy(devices=["/gpu:0", "/gpu:1"])


def test_compat_v1_and_experimental_names():
    import distflow.compat.v1 as v1
    assert v1.distribute.MirroredStrategy is tf.distribute.MirroredStrategy
    assert tf.distribute.experimental.MultiWorkerMirroredStrategy \
        is tf.distribute.MultiWorkerMirroredStrategy
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.NCCL)
    assert tf.distribute.MultiWorkerMirroredStrategy(
        communication_options=options).num_replicas_in_sync == 1
    assert tf.nn.compute_average_loss([1.0, 3.0], global_batch_size=4).numpy() == 1.0


def test_keras_model_under_a_strategy_refuses_a_distributed_optimizer(strategy):
    from distflow.distribute import DistributedOptimizer
    with strategy.scope():  # refused at compile, before the op='sum' check of plain fit
        model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(2,))])
        with pytest.raises(ValueError, match="sums the gradients itself"):
            model.compile(optimizer=DistributedOptimizer(tf.keras.optimizers.SGD(0.1)),
                          loss="mse")


def test_keras_model_under_a_strategy_refuses_horovods_distributed_optimizer(strategy):
    import distflow.horovod.keras as hvd
    hvd.init()
    with strategy.scope():
        model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(2,))])
        with pytest.raises(ValueError, match="sums the gradients itself"):  # at compile
            model.compile(optimizer=hvd.DistributedOptimizer(tf.keras.optimizers.SGD(0.1),
                                                             op=hvd.Sum), loss="mse")
    # compiled outside the scope, the model made in it trains under the strategy: fit refuses
    model.compile(optimizer=hvd.DistributedOptimizer(tf.keras.optimizers.SGD(0.1), op=hvd.Sum),
                  loss="mse")
    with pytest.raises(ValueError, match="sums the gradients itself"):
        model.fit(np.ones((4, 2), np.float32), np.ones((4, 1), np.float32), verbose=0)


def test_regularization_is_counted_once_over_the_replicas(strategy):
    assert float(tf.nn.scale_regularization_loss(6.0)) == 6.0  # outside run: as it is
    assert float(strategy.run(lambda: tf.nn.compute_average_loss([1.0, 3.0]))) == 2.0


def test_a_model_made_in_the_scope_trains_under_it_when_compiled_outside(strategy):
    with strategy.scope():
        model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse")
    assert model._distribute_strategy is strategy
    plain = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(2,))])
    plain.compile(optimizer="sgd", loss="mse")
    assert plain._distribute_strategy is None


def test_one_device_strategy_is_one_replica():
    strategy = tf.distribute.OneDeviceStrategy(device="/cpu:0")
    assert strategy.num_replicas_in_sync == 1
    with strategy.scope():
        assert tf.distribute.get_strategy() is strategy
    value = tf.constant([1.0, 2.0])
    assert float(strategy.reduce("SUM", value, axis=0)) == 3.0
    with pytest.raises(ValueError, match="Unknown device"):
        tf.distribute.OneDeviceStrategy(device="/tpu:0")


def test_keras_fit_asks_for_the_dataset_of_global_batches(strategy):
    data = tf.data.Dataset.from_tensor_slices((np.ones((4, 2), np.float32),
                                               np.ones((4, 1), np.float32))).batch(2)
    with strategy.scope():
        model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(2,))])
        model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(TypeError, match="the tf.data.Dataset of global batches itself"):
        model.fit(strategy.experimental_distribute_dataset(data), verbose=0)
    model.fit(data, verbose=0)


def test_keras_results_under_a_strategy_are_python_floats(strategy):
    # as without a strategy: print(model.evaluate(...)) shows [0.25, 0.5], not np.float64(0.25)
    x, y = np.ones((4, 2), np.float32), np.ones((4, 1), np.float32)
    with strategy.scope():
        model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(2,))])
        model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=1, verbose=0)
    results = model.evaluate(x, y, verbose=0)
    assert type(history.history["loss"][0]) is float
    assert [type(r) for r in results] == [float, float]


@pytest.mark.parametrize("which", ["horovod", "distflow"])
def test_a_distributed_optimizer_inside_strategy_run_is_refused(strategy, which):
    # strategy.run sums the gradients across replicas; a second all-reduce would change the step
    if which == "horovod":
        import distflow.horovod as hvd
        hvd.init()
        optimizer = hvd.DistributedOptimizer(tf.keras.optimizers.SGD(0.1), op=hvd.Sum)
    else:
        from distflow.distribute import DistributedOptimizer
        optimizer = DistributedOptimizer(tf.keras.optimizers.SGD(0.1))
    with strategy.scope():
        v = tf.Variable(1.0)

    def step():
        with tf.GradientTape() as tape:
            loss = v * v
        optimizer.apply_gradients([(tape.gradient(loss, v), v)])
    with pytest.raises(ValueError, match="all-reduces its gradients itself"):
        strategy.run(step)
    assert float(v) == 1.0
    optimizer.apply_gradients([(tf.constant(1.0), v)])  # outside strategy.run: its own reduce
    assert abs(float(v) - 0.9) < 1e-6


def test_horovods_distributed_gradient_tape_inside_strategy_run_is_refused(strategy):
    # its averaged gradients would be summed over the replicas again by apply_gradients
    import distflow.horovod as hvd
    hvd.init()
    with strategy.scope():
        v = tf.Variable(1.0)

    def step():
        with tf.GradientTape() as tape:
            loss = v * v
        return hvd.DistributedGradientTape(tape).gradient(loss, v)
    with pytest.raises(ValueError, match="hvd.DistributedGradientTape all-reduces"):
        strategy.run(step)
