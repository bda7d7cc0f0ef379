"""`df.linalg`: TF2's tf.linalg namespace (`df.linalg.inv`, `df.linalg.det`, `df.linalg.solve`, ...)."""
from distflow.ops.linalg_ops import (adjoint, eye, matrix_determinant as det,  # noqa: F401
                                     matrix_diag as diag, matrix_diag_part as diag_part,
                                     matrix_inverse as inv, matrix_solve as solve,
                                     matrix_transpose, matvec, norm, tensordot, trace)
from distflow.ops.matmul_ops import matmul  # noqa: F401

__all__ = ["adjoint", "det", "diag", "diag_part", "eye", "inv", "matmul", "matrix_transpose",
           "matvec", "norm", "solve", "tensordot", "trace"]
