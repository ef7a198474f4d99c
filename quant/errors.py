"""The one exception type users of ``quant`` catch."""


class QuantError(ValueError):
    """Bad input to the quantisation library: the message names the field, value or format at fault."""
