import pytest

from workloads import load_workload


@pytest.fixture(scope="session")
def graphs():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = load_workload(name)
        return cache[name]

    return get
