import numpy as np
import pytest

from quant.ebs import DEFAULT_BITS, ebs_search
from quant.qmodel import calibrate, evaluate, quantize_model
from workloads.data import load_fashion_mnist
from workloads.train import load_trained


@pytest.fixture(scope="module")
def data():
    x, y = load_fashion_mnist("train", limit=2048)
    xt, yt = load_fashion_mnist("test", limit=1000)
    return x, y, xt, yt


def test_penalty_moves_strength_toward_cheaper_bits_and_zero_penalty_keeps_accuracy(data):
    x, y, xt, yt = data
    uniform = float(np.mean(DEFAULT_BITS)) ** 2  # E[b_w]·E[b_a] at the initial (uniform) strengths
    free = ebs_search(load_trained("fashion_cnn"), (1, 28, 28), x, y, lam=0.0, steps=60)
    cheap = ebs_search(load_trained("fashion_cnn"), (1, 28, 28), x, y, lam=3.0, steps=60)
    assert cheap.expected_bits() < uniform < free.expected_bits()
    bits = lambda plan: np.mean([int(p.weight[3:]) * int(p.activation[3:]) for _, p in plan.items()])  # noqa: E731
    assert bits(cheap.plan) < bits(free.plan)
    fp32 = evaluate(load_trained("fashion_cnn"), xt, yt)
    q = quantize_model(load_trained("fashion_cnn"), free.plan, (1, 28, 28))
    calibrate(q, [x[i:i + 128] for i in range(0, 512, 128)])
    assert evaluate(q, xt, yt) >= fp32 - 0.01
    assert cheap.history[-1][3] < cheap.history[0][3]  # the expected cost fell during the search


def test_latency_cost_uses_the_simulator_table(data):
    from archsim import load_hw
    from workloads import load_workload

    x, y, _, _ = data
    r = ebs_search(load_trained("fashion_cnn"), (1, 28, 28), x, y, lam=2.0, steps=20, cost="latency",
                   hw=load_hw("default"), graph=load_workload("fashion_cnn"))
    assert set(r.plan) == {"conv1", "conv2", "fc1", "fc2"} and str(r.plan["conv1"]) == "int8"
    with pytest.raises(ValueError, match="needs hw and graph"):
        ebs_search(load_trained("fashion_cnn"), (1, 28, 28), x, y, steps=1, cost="latency")
