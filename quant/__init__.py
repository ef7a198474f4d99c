"""Number formats (DyBit and baselines), scale selection and quantisation of tensors and models."""
from quant.choose import choose_qparams
from quant.errors import QuantError
from quant.formats import get_format, list_formats
from quant.scaling import Layout, QParams

__all__ = ["QuantError", "get_format", "list_formats", "choose_qparams", "QParams", "Layout"]
