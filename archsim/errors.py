class ArchsimError(ValueError):
    """Bad input to the simulator; the message names the field, value or layer at fault."""


class ConfigError(ArchsimError):
    """A hardware description that does not validate."""


class SimError(ArchsimError):
    """A workload/plan the accelerator cannot run (e.g. an operand wider than the array supports)."""
