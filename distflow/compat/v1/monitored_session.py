"""TF1's `tf.train.MonitoredTrainingSession` and the hooks that drive it.

A MonitoredSession creates the Session, initializes (or restores from `checkpoint_dir`) the
variables, and around every `run` lets each hook add fetches (`before_run`) and look at their
values (`after_run`); a hook stops the loop with `run_context.request_stop()`, which
`should_stop()` then reports. Leaving the `with` block calls each hook's `end` and closes the
Session; an OutOfRangeError (an exhausted input) ends the block quietly, as in TF.
"""
import collections
import os
import time

import numpy as np

from distflow.client.session import Session
from distflow.framework import errors
from distflow.framework.graph import GraphKeys, Tensor, get_default_graph
from distflow.ops import variables
from distflow.ops.control_flow_ops import group
from distflow.compat.v1.platform import logging
from distflow.train.optimizer import get_global_step
from distflow.train.saver import Saver, latest_checkpoint

SessionRunArgs = collections.namedtuple("SessionRunArgs", ["fetches", "feed_dict", "options"])
SessionRunArgs.__new__.__defaults__ = (None, None)
SessionRunValues = collections.namedtuple("SessionRunValues",
                                          ["results", "options", "run_metadata"])


class SessionRunContext:
    def __init__(self, original_args, session):
        self.original_args = original_args
        self.session = session
        self.stop_requested = False

    def request_stop(self):
        self.stop_requested = True


class SessionRunHook:
    """Does nothing at each point of a MonitoredSession's life; subclasses pick theirs."""

    def begin(self):
        pass

    def after_create_session(self, session, coord):
        pass

    def before_run(self, run_context):
        return None

    def after_run(self, run_context, run_values):
        pass

    def end(self, session):
        pass


class SecondOrStepTimer:
    """Triggers every `every_secs` seconds or every `every_steps` steps (one of them)."""

    def __init__(self, every_secs=None, every_steps=None):
        if (every_secs is None) == (every_steps is None):
            raise ValueError("exactly one of every_secs and every_steps should be provided.")
        self._every_secs, self._every_steps = every_secs, every_steps
        self._last_time = self._last_step = None

    def should_trigger_for_step(self, step):
        if self._last_step is None:
            return True
        if self._last_step == step:
            return False
        if self._every_secs is not None:
            return time.time() >= self._last_time + self._every_secs
        return step >= self._last_step + self._every_steps

    def update_last_triggered_step(self, step):
        now = time.time()
        elapsed = (None, None) if self._last_time is None else \
            (now - self._last_time, step - self._last_step)
        self._last_time, self._last_step = now, step
        return elapsed

    def last_triggered_step(self):
        return self._last_step


def _global_step_tensor(hook):
    step = get_global_step()
    if step is None:
        raise RuntimeError("Global step should be created to use %s." % hook)
    return step  # a Session fetches a Variable's value; no new op in a finalized graph


class StopAtStepHook(SessionRunHook):
    """Requests a stop once the global step reaches `last_step` (or `num_steps` past its value
    when the session was created)."""

    def __init__(self, num_steps=None, last_step=None):
        if num_steps is None and last_step is None:
            raise ValueError("One of num_steps or last_step must be specified.")
        if num_steps is not None and last_step is not None:
            raise ValueError("Only one of num_steps or last_step can be specified.")
        self._num_steps, self._last_step = num_steps, last_step

    def begin(self):
        self._step = _global_step_tensor("StopAtStepHook")

    def after_create_session(self, session, coord):
        if self._last_step is None:
            self._last_step = int(session.run(self._step)) + self._num_steps

    def before_run(self, run_context):
        return SessionRunArgs(self._step)

    def after_run(self, run_context, run_values):
        if run_values.results + 1 >= self._last_step:
            # the fetched step was read before this run's update: read it again to be sure
            if run_context.session.run(self._step) >= self._last_step:
                run_context.request_stop()


class LoggingTensorHook(SessionRunHook):
    """Logs the values of `tensors` (a dict tag -> tensor or name, or a list) at INFO, every
    `every_n_iter` runs or `every_n_secs` seconds, and at the end when `at_end`."""

    def __init__(self, tensors, every_n_iter=None, every_n_secs=None, at_end=False,
                 formatter=None):
        if not at_end and (every_n_iter is None) == (every_n_secs is None):
            raise ValueError("either at_end and/or exactly one of every_n_iter and every_n_secs "
                             "must be provided.")
        if every_n_iter is not None and every_n_iter <= 0:
            raise ValueError("invalid every_n_iter=%s." % every_n_iter)
        if not isinstance(tensors, dict):
            tensors = collections.OrderedDict((_Tag(t), t) for t in tensors)
        self._tags = list(tensors)
        self._tensors = tensors
        self._timer = None if at_end and every_n_iter is None and every_n_secs is None else \
            SecondOrStepTimer(every_n_secs, every_n_iter)
        self._at_end, self._formatter = at_end, formatter

    def begin(self):
        graph = get_default_graph()
        self._current = {tag: graph.as_graph_element(t) for tag, t in self._tensors.items()}
        self._iter = 0

    def before_run(self, run_context):
        self._trigger = self._timer is not None and self._timer.should_trigger_for_step(self._iter)
        return SessionRunArgs(self._current) if self._trigger else None

    def _log(self, values):
        elapsed = self._timer.update_last_triggered_step(self._iter)[0] if self._timer else None
        if self._formatter is not None:
            logging.info(self._formatter(values))
            return
        with np.printoptions(suppress=True):
            stats = ", ".join("%s = %s" % (tag, values[tag]) for tag in self._tags)
        if elapsed is not None:
            logging.info("%s (%.3f sec)", stats, elapsed)
        else:
            logging.info("%s", stats)

    def after_run(self, run_context, run_values):
        if self._trigger:
            self._log(run_values.results)
        self._iter += 1

    def end(self, session):
        if self._at_end:
            self._log(session.run(self._current))


class _Tag(str):
    """A list entry's tag: its name (a tensor prints as its name, as TF's tags do)."""

    def __new__(cls, t):
        return super().__new__(cls, t.name if isinstance(t, Tensor) else str(t))


class CheckpointSaverHook(SessionRunHook):
    """Saves `checkpoint_dir/model.ckpt-<global step>` when the session starts, every
    `save_secs` seconds or `save_steps` steps, and at the end."""

    def __init__(self, checkpoint_dir, save_secs=None, save_steps=None, saver=None,
                 checkpoint_basename="model.ckpt", scaffold=None, listeners=None):
        if saver is not None and scaffold is not None:
            raise ValueError("You cannot provide both saver and scaffold.")
        self._dir = checkpoint_dir
        self._path = os.path.join(checkpoint_dir, checkpoint_basename)
        self._timer = SecondOrStepTimer(save_secs, save_steps)
        self._saver, self._scaffold = saver, scaffold
        self._listeners = list(listeners or ())

    def begin(self):
        self._step = _global_step_tensor("CheckpointSaverHook")
        if self._saver is None:
            self._saver = self._scaffold.saver if self._scaffold is not None else _default_saver()
        for listener in self._listeners:
            listener.begin()

    def after_create_session(self, session, coord):
        step = int(session.run(self._step))
        self._save(session, step)
        self._timer.update_last_triggered_step(step)

    def before_run(self, run_context):
        return SessionRunArgs(self._step)

    def after_run(self, run_context, run_values):
        if self._timer.should_trigger_for_step(run_values.results + 1):
            step = int(run_context.session.run(self._step))
            if self._timer.should_trigger_for_step(step):
                self._timer.update_last_triggered_step(step)
                if self._save(run_context.session, step):
                    run_context.request_stop()

    def end(self, session):
        step = int(session.run(self._step))
        if step != self._timer.last_triggered_step():
            self._save(session, step)
        for listener in self._listeners:
            listener.end(session, step)

    def _save(self, session, step):
        logging.info("Saving checkpoints for %d into %s.", step, self._path)
        for listener in self._listeners:
            listener.before_save(session, step)
        self._saver.save(session, self._path, global_step=step)
        return any(listener.after_save(session, step) for listener in self._listeners)


class NanTensorHook(SessionRunHook):
    """Stops (or raises NanLossDuringTrainingError) when `loss_tensor` is NaN."""

    def __init__(self, loss_tensor, fail_on_nan_loss=True):
        self._loss, self._fail = loss_tensor, fail_on_nan_loss

    def before_run(self, run_context):
        return SessionRunArgs(self._loss)

    def after_run(self, run_context, run_values):
        if np.isnan(run_values.results):
            if self._fail:
                raise NanLossDuringTrainingError
            logging.error("Model diverged with loss = NaN.")
            run_context.request_stop()


class NanLossDuringTrainingError(RuntimeError):
    def __str__(self):
        return "NaN loss during training."


def _default_saver():
    graph = get_default_graph()
    found = graph.get_collection("savers")
    if found:
        return found[0]
    saver = Saver()
    graph.add_to_collection("savers", saver)
    return saver


class Scaffold:
    """What a MonitoredSession runs to make its variables ready: `init_op` (all global
    variables), `local_init_op` (the local ones) and the `saver` used to restore."""

    def __init__(self, init_op=None, init_feed_dict=None, init_fn=None, ready_op=None,
                 ready_for_local_init_op=None, local_init_op=None, summary_op=None, saver=None,
                 copy_from_scaffold=None):
        self.init_op, self.init_feed_dict, self.init_fn = init_op, init_feed_dict, init_fn
        self.local_init_op, self.saver = local_init_op, saver

    def finalize(self):
        # the defaults are kept in the graph's collections, as TF keeps them, so that a second
        # MonitoredSession over the same (then finalized) graph finds them
        if self.init_op is None:
            self.init_op = _cached("init_op", variables.global_variables_initializer)
        if self.local_init_op is None:
            self.local_init_op = _cached("local_init_op", lambda: group(
                *[v.initializer for v in get_default_graph()
                  .get_collection(GraphKeys.LOCAL_VARIABLES)]))
        if self.saver is None and variables.global_variables():
            self.saver = _default_saver()
        get_default_graph().finalize()
        return self


def _cached(key, make):
    graph = get_default_graph()
    found = graph.get_collection(key)
    if found:
        return found[0]
    op = make()
    graph.add_to_collection(key, op)
    return op


class _Coordinator:
    def __init__(self):
        self._stop = False

    def request_stop(self, ex=None):
        self._stop = True

    def should_stop(self):
        return self._stop


class MonitoredSession:
    """A Session whose `run` goes through `hooks`; see the module's docstring."""

    def __init__(self, session_creator=None, hooks=None, stop_grace_period_secs=120,
                 checkpoint_dir=None, scaffold=None, config=None):
        self._hooks = list(hooks or ())
        scaffold = scaffold or Scaffold()
        for hook in self._hooks:
            hook.begin()
        scaffold.finalize()
        self._sess = Session(config=config)
        restore = latest_checkpoint(checkpoint_dir) if checkpoint_dir else None
        if restore and scaffold.saver is not None:
            scaffold.saver.restore(self._sess, restore)
        else:
            self._sess.run(scaffold.init_op, feed_dict=scaffold.init_feed_dict)
            if scaffold.init_fn is not None:
                scaffold.init_fn(scaffold, self._sess)
        self._sess.run(scaffold.local_init_op)
        self._coord = _Coordinator()
        for hook in self._hooks:
            hook.after_create_session(self._sess, self._coord)
        self._closed = False

    @property
    def graph(self):
        return self._sess.graph

    def should_stop(self):
        return self._closed or self._coord.should_stop()

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        if self.should_stop():
            raise RuntimeError("Run called even after should_stop requested.")
        context = SessionRunContext(SessionRunArgs(fetches, feed_dict), self._sess)
        all_fetches, all_feeds = {"caller": fetches}, dict(feed_dict or {})
        for i, hook in enumerate(self._hooks):
            args = hook.before_run(context)
            if args is None:
                continue
            all_fetches[i] = args.fetches
            for k, v in (args.feed_dict or {}).items():
                if k in all_feeds:
                    raise RuntimeError("Same tensor is fed by a SessionRunHook and user. %s" % k)
                all_feeds[k] = v
        results = self._sess.run(all_fetches, feed_dict=all_feeds, options=options,
                                 run_metadata=run_metadata)
        for i, hook in enumerate(self._hooks):
            hook.after_run(context, SessionRunValues(results.get(i), options, run_metadata))
        if context.stop_requested:
            self._coord.request_stop()
        return results["caller"]

    def close(self):
        if not self._closed:
            self._closed = True
            self._sess.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None and not self._closed:
                for hook in self._hooks:
                    hook.end(self._sess)
        finally:
            self.close()
        return exc_type is not None and issubclass(exc_type, (errors.OutOfRangeError,
                                                               StopIteration))


class SingularMonitoredSession(MonitoredSession):
    def raw_session(self):
        return self._sess


def MonitoredTrainingSession(master="", is_chief=True, checkpoint_dir=None, scaffold=None,
                             hooks=None, chief_only_hooks=None, save_checkpoint_secs=None,
                             save_summaries_steps=None, save_summaries_secs=None, config=None,
                             stop_grace_period_secs=120, log_step_count_steps=100,
                             max_wait_secs=7200, save_checkpoint_steps=None, summary_dir=None,
                             save_graph_def=True):
    """A MonitoredSession for training: with `checkpoint_dir`, restores the newest checkpoint
    there and saves one every `save_checkpoint_steps` steps (else every
    `save_checkpoint_secs` seconds, 600 by default)."""
    hooks = list(hooks or ())
    if is_chief:
        hooks.extend(chief_only_hooks or ())
        secs, steps = save_checkpoint_secs, save_checkpoint_steps
        if secs is None and steps is None:
            secs = 600
        if checkpoint_dir and (secs or steps):
            hooks.append(CheckpointSaverHook(checkpoint_dir, save_secs=None if steps else secs,
                                             save_steps=steps, scaffold=scaffold))
    return MonitoredSession(hooks=hooks, checkpoint_dir=checkpoint_dir, scaffold=scaffold,
                            config=config)


__all__ = ["CheckpointSaverHook", "LoggingTensorHook", "MonitoredSession",
           "MonitoredTrainingSession", "NanLossDuringTrainingError", "NanTensorHook", "Scaffold",
           "SecondOrStepTimer", "SessionRunArgs", "SessionRunContext", "SessionRunHook",
           "SessionRunValues", "SingularMonitoredSession", "StopAtStepHook"]
