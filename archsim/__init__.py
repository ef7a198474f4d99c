"""The accelerator model: hardware config, precision cost rule, mapping, SimPy DES and analytic engines,
energy/area, results, grid sweeps (``archsim.sweep``). Torch-free: it consumes a ``workloads.LayerGraph`` and a
``quant.plan.PrecisionPlan``."""
from archsim.config import Accelerator, load_hw, shipped_configs
from archsim.dse import sweep
from archsim.errors import ArchsimError, ConfigError, SimError
from archsim.result import SimResult
from archsim.simulate import simulate

__all__ = ["Accelerator", "load_hw", "shipped_configs", "simulate", "SimResult", "ArchsimError", "ConfigError",
           "SimError", "sweep"]
