"""Progress on rank 0: a tqdm bar on a terminal, plain lines otherwise (logs, pipes, mpirun).

A bar that redraws itself with carriage returns turns a log file into noise, so the bar is only
used when stdout is a terminal; elsewhere each epoch (and, with train.log_every, every N steps)
is one line.
"""
import sys


def format_metrics(record, prefix):
    keys = [("loss", "loss"), ("rmse", "RMSE"), ("mae", "MAE"), ("accuracy", "accuracy")]
    parts = ["%s %.4g" % (label, record["%s_%s" % (prefix, key)]) for key, label in keys
             if record.get("%s_%s" % (prefix, key)) is not None]
    return ("%s " % prefix) + " ".join(parts) if parts else ""


class Progress:
    """`step()` after every step, `epoch()` after every epoch, `close()` at the end. Does
    nothing when `enabled` is false (every rank but 0)."""

    def __init__(self, epochs, steps_per_epoch, start_epoch=0, enabled=True, label="",
                 log_every=0, stream=None, bar=None):
        self.enabled = enabled
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.label = (label + " ") if label else ""
        self.log_every = log_every
        self.stream = stream or sys.stdout
        self._bar = None
        if not enabled:
            return
        if bar is None:
            bar = self.stream.isatty()
        if bar:
            from tqdm import tqdm
            self._bar = tqdm(total=epochs * steps_per_epoch, initial=start_epoch * steps_per_epoch,
                             desc=self.label.strip() or "train", unit="step", file=self.stream,
                             dynamic_ncols=True, leave=True)

    def step(self, epoch, step_in_epoch, global_step, loss, samples_per_s):
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(1)
            if step_in_epoch % 10 == 0 or step_in_epoch == self.steps_per_epoch:
                self._bar.set_postfix_str("epoch %d/%d, step %d, loss %.4g, %.0f samples/s"
                                          % (epoch, self.epochs, global_step, loss, samples_per_s),
                                          refresh=False)
        elif self.log_every and global_step % self.log_every == 0:
            self.write("%sepoch %d/%d step %d (%d/%d): loss %.4g, %.0f samples/s"
                       % (self.label, epoch, self.epochs, global_step, step_in_epoch,
                          self.steps_per_epoch, loss, samples_per_s))

    def epoch(self, record):
        if not self.enabled:
            return
        parts = [format_metrics(record, "train"), format_metrics(record, "test"),
                 "%.0f samples/s" % record["samples_per_s"]]
        self.write("%sepoch %d/%d (step %d): %s" % (self.label, record["epoch"], self.epochs,
                                                    record["step"],
                                                    ", ".join(p for p in parts if p)))

    def write(self, line):
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
