"""TF1's `tf.logging`, `tf.app` and `tf.flags`: the scaffolding of TF1 scripts.

`tf.logging` writes through Python's logging to the logger named "tensorflow" (so programs that
configure that logger keep working), WARN and above by default, as TF prints them
(`INFO:tensorflow:message`). `tf.app.run()` calls the script's `main(argv)` after parsing the
flags defined with `tf.app.flags.DEFINE_*`, and exits with its result.
"""
import argparse
import logging as _logging
import sys
import types

DEBUG, INFO, WARN, ERROR, FATAL = (_logging.DEBUG, _logging.INFO, _logging.WARN, _logging.ERROR,
                                   _logging.FATAL)
_logger = _logging.getLogger("tensorflow")


def _get_logger():
    if not _logger.handlers:  # TF's own handler: to stderr, "LEVEL:tensorflow:message"
        handler = _logging.StreamHandler(sys.stderr)
        handler.setFormatter(_logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
        _logger.addHandler(handler)
        _logger.propagate = False
        if _logger.level == _logging.NOTSET:
            _logger.setLevel(WARN)
    return _logger


def _log(level):
    def log(msg, *args, **kwargs):
        _get_logger().log(level, msg, *args, **kwargs)
    return log


def set_verbosity(v):
    _get_logger().setLevel(v)


def get_verbosity():
    return _get_logger().getEffectiveLevel()


_counts = {}


def log_every_n(level, msg, n, *args):
    """Logs the 1st, (n+1)th, ... call from the same line of the caller."""
    caller = sys._getframe(1)
    key = (caller.f_code.co_filename, caller.f_lineno)
    count = _counts.get(key, 0)
    _counts[key] = count + 1
    if count % n == 0:
        _get_logger().log(level, msg, *args)


def log_first_n(level, msg, n, *args):
    caller = sys._getframe(1)
    key = (caller.f_code.co_filename, caller.f_lineno, "first")
    count = _counts.get(key, 0)
    _counts[key] = count + 1
    if count < n:
        _get_logger().log(level, msg, *args)


logging = types.SimpleNamespace(
    __name__="logging", DEBUG=DEBUG, INFO=INFO, WARN=WARN, ERROR=ERROR, FATAL=FATAL,
    debug=_log(DEBUG), info=_log(INFO), warn=_log(WARN), warning=_log(WARN),
    error=_log(ERROR), fatal=_log(FATAL), log=lambda level, msg, *a: _get_logger().log(level, msg, *a),
    set_verbosity=set_verbosity, get_verbosity=get_verbosity, log_every_n=log_every_n,
    log_first_n=log_first_n, get_logger=_get_logger)


class _FlagValues:
    """`tf.app.flags.FLAGS`: the defined flags, parsed from sys.argv on first read."""

    def __init__(self):
        object.__setattr__(self, "_defs", {})
        object.__setattr__(self, "_values", None)

    def _define(self, name, default, help, kind):
        if name in self._defs:
            raise ValueError("Flag --%s is defined twice." % name)
        self._defs[name] = (default, help, kind)
        if self._values is not None:
            self._values[name] = default

    def _parse(self, argv):
        parser = argparse.ArgumentParser(prog=argv[0] if argv else None, allow_abbrev=False)
        for name, (default, help, kind) in self._defs.items():
            if kind is bool:  # --name, --noname or --name=value; never the next argument
                parser.add_argument("--" + name, action="store_true", default=default, help=help)
                parser.add_argument("--no" + name, dest=name, action="store_false")
            elif kind is list:
                parser.add_argument("--" + name, default=default, help=help,
                                    type=lambda s: s.split(",") if s else [])
            else:
                parser.add_argument("--" + name, default=default, type=kind, help=help)
        args = []
        for a in argv[1:]:
            name, eq, value = a[2:].partition("=")
            if a.startswith("--") and eq and self._defs.get(name, (0, 0, None))[2] is bool:
                a = "--" + ("" if _parse_bool(value, parser) else "no") + name
            args.append(a)
        known, rest = parser.parse_known_args(args)
        object.__setattr__(self, "_values", vars(known))
        return argv[:1] + rest

    def __call__(self, argv):
        return self._parse(list(argv))

    def __getattr__(self, name):
        if self._values is None:
            self._parse(sys.argv)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError("Unknown command line flag '%s'" % name) from None

    def __setattr__(self, name, value):
        if self._values is None:
            self._parse(sys.argv)
        self._values[name] = value


def _parse_bool(s, parser):
    if s.lower() in ("true", "t", "1", "yes"):
        return True
    if s.lower() in ("false", "f", "0", "no"):
        return False
    parser.error("Non-boolean argument to boolean flag: %r" % s)


FLAGS = _FlagValues()


def _definer(kind):
    def define(name, default, help=None, **unused):
        FLAGS._define(name, default, help, kind)
    return define


flags = types.SimpleNamespace(
    __name__="flags", FLAGS=FLAGS, DEFINE_string=_definer(str), DEFINE_integer=_definer(int),
    DEFINE_float=_definer(float), DEFINE_boolean=_definer(bool), DEFINE_bool=_definer(bool),
    DEFINE_list=_definer(list))


def run(main=None, argv=None):
    """Parses the flags from `argv` (sys.argv by default), then exits with main(remaining argv)."""
    argv = FLAGS(sys.argv if argv is None else argv)
    main = main or sys.modules["__main__"].main
    sys.exit(main(argv))


app = types.SimpleNamespace(__name__="app", run=run, flags=flags)
