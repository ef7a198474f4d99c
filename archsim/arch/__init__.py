"""Array microarchitectures: how an array of PEs turns a layer's folds into cycles (``array.microarchitecture``)."""
from archsim.arch.base import MICROARCHITECTURES, ArrayModel, FoldWork, array_model

__all__ = ["MICROARCHITECTURES", "ArrayModel", "FoldWork", "array_model"]
