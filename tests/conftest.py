import numpy as np
import pytest


def pytest_configure(config):
    """The suite trains, calibrates and evaluates on Fashion-MNIST (a Debian package, never downloaded):
    without it, one line saying how to get it instead of a failure per test."""
    from workloads.data import fashion_mnist_dir
    from workloads.errors import WorkloadError

    try:
        fashion_mnist_dir()
    except WorkloadError as exc:
        pytest.exit(f"{exc} (`make test` installs it where it can)", returncode=4)


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


@pytest.fixture
def stored_rows():
    """A function counting the evaluations a search database holds: read-only, so polling it never creates
    the file before the search does, and 0 while it does not exist or is locked."""
    from archsim.search.store import stored_count

    return stored_count
