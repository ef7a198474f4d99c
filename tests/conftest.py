import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def zoo_graphs():
    """Layer graphs of zoo models, extracted once per test session."""
    from workloads import load_workload

    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = load_workload(name)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def graphs(zoo_graphs):
    return zoo_graphs
