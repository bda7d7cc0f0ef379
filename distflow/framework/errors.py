"""TensorFlow's error classes: an OpError carries the node that failed and a TF error code."""


class OpError(Exception):
    code = 2

    def __init__(self, node_def, op, message):
        super().__init__(message)
        self.node_def = node_def
        self.op = op
        self.message = message

    def __str__(self):
        return self.message


def _make(name, code):
    return type(name, (OpError,), {"code": code, "__module__": __name__})


CancelledError = _make("CancelledError", 1)
UnknownError = _make("UnknownError", 2)
InvalidArgumentError = _make("InvalidArgumentError", 3)
DeadlineExceededError = _make("DeadlineExceededError", 4)
NotFoundError = _make("NotFoundError", 5)
AlreadyExistsError = _make("AlreadyExistsError", 6)
PermissionDeniedError = _make("PermissionDeniedError", 7)
ResourceExhaustedError = _make("ResourceExhaustedError", 8)
FailedPreconditionError = _make("FailedPreconditionError", 9)
AbortedError = _make("AbortedError", 10)
OutOfRangeError = _make("OutOfRangeError", 11)
UnimplementedError = _make("UnimplementedError", 12)
InternalError = _make("InternalError", 13)
UnavailableError = _make("UnavailableError", 14)
DataLossError = _make("DataLossError", 15)


def run_error(message):
    """The error a kernel raises for inputs it cannot take at run time (a bad index, a shape
    only known then): TF's InvalidArgumentError, the same eagerly and inside Session.run."""
    return InvalidArgumentError(None, None, message)
