class WorkloadError(ValueError):
    """A model, graph file or layer that cannot be turned into a layer graph; the message names it."""
