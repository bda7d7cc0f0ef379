"""`tf.distribute.experimental`: the TF 2.0-2.3 spelling of MultiWorkerMirroredStrategy and the
communication options TF programs pass to it (accepted; distflow picks MPI or NCCL itself)."""
import enum

from distflow.distribute.strategy import MultiWorkerMirroredStrategy  # noqa: F401

__all__ = ["MultiWorkerMirroredStrategy", "CommunicationImplementation",
           "CollectiveCommunication", "CommunicationOptions"]


class CommunicationImplementation(enum.Enum):
    AUTO = "AUTO"
    RING = "RING"
    NCCL = "NCCL"


CollectiveCommunication = CommunicationImplementation


class CommunicationOptions:
    def __init__(self, bytes_per_pack=0, timeout_seconds=None,
                 implementation=CommunicationImplementation.AUTO):
        self.bytes_per_pack = bytes_per_pack
        self.timeout_seconds = timeout_seconds
        self.implementation = implementation
