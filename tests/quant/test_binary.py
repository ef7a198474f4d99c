import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quant import QuantError
from quant.binary import binary_matmul, bitplanes


@settings(max_examples=80, deadline=None)
@given(a_bits=st.integers(1, 8), b_bits=st.integers(1, 8), signed_a=st.booleans(), signed_b=st.booleans(),
       m=st.integers(1, 6), k=st.integers(1, 9), n=st.integers(1, 5), seed=st.integers(0, 2**31 - 1))
def test_binary_plane_products_equal_the_integer_matmul(a_bits, b_bits, signed_a, signed_b, m, k, n, seed):
    rng = np.random.default_rng(seed)

    def draw(bits, signed, shape):
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        return rng.integers(lo, hi + 1, size=shape)

    a, b = draw(a_bits, signed_a, (m, k)), draw(b_bits, signed_b, (k, n))
    assert np.array_equal(binary_matmul(a, b, a_bits, b_bits, a_signed=signed_a, b_signed=signed_b), a @ b)


def test_bitplanes_reconstruct_and_reject_out_of_range():
    q = np.array([-4, -1, 0, 3])
    planes, w = bitplanes(q, 3)
    assert np.array_equal((planes.astype(np.int64) * w[:, None]).sum(0), q)
    assert w.tolist() == [1, 2, -4]
    with pytest.raises(QuantError, match="fit signed 3-bit"):
        bitplanes(np.array([4]), 3)
    with pytest.raises(QuantError, match="integers"):
        bitplanes(np.array([0.5]), 3)
