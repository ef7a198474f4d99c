import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quant import QuantError, get_format
from quant.packing import pack, packed_nbytes, unpack


@settings(max_examples=200, deadline=None)
@given(bits=st.integers(1, 8), data=st.data())
def test_pack_unpack_round_trip_any_length(bits, data):
    codes = np.array(data.draw(st.lists(st.integers(0, (1 << bits) - 1), max_size=67)), dtype=np.uint8)
    packed = pack(codes, bits)
    assert packed.dtype == np.uint8 and packed.size == packed_nbytes(codes.size, bits)
    assert np.array_equal(unpack(packed, bits, codes.size), codes)


@pytest.mark.parametrize("bits", range(1, 9))
def test_pack_equals_the_numpy_bitstream(bits, rng):
    codes = rng.integers(0, 1 << bits, 1003).astype(np.uint8)
    reference = np.packbits(np.unpackbits(codes[:, None], axis=1)[:, 8 - bits:].reshape(-1))
    assert np.array_equal(pack(codes, bits), reference)
    assert np.array_equal(unpack(np.append(reference, np.uint8(0xAB)), bits, 1003), codes)  # extra bytes ignored


def test_pack_is_msb_first_bitstream():
    assert pack(np.array([0b101, 0b011, 0b111], np.uint8), 3).tolist() == [0b10101111, 0b10000000]
    assert pack(np.array([1, 2, 3], np.uint8), 4).tolist() == [0x12, 0x30]


def test_format_pack_and_storage_size(rng):
    f = get_format("dybit5c3")
    codes = f.encode(rng.standard_normal(1001).astype(np.float32), 0.1)
    data = f.pack(codes)
    assert data.size == (1001 * 5 + 7) // 8
    assert np.array_equal(f.unpack(data, 1001), codes)


@pytest.mark.parametrize("call, match", [
    (lambda: pack(np.array([8]), 3), "0..7"),
    (lambda: pack(np.array([1]), 9), "bits"),
    (lambda: unpack(np.zeros(1, np.uint8), 3, 5), "need 2 bytes"),
    (lambda: pack(np.array([0.5]), 3), "integers"),
    (lambda: unpack(np.array([1.7]), 3, 2), "data: expected bytes"),
    (lambda: unpack(np.zeros(4, np.uint8), 3, -1), "count: must be a non-negative integer, got -1"),
    (lambda: unpack(np.array([300]), 3, 2), "range \\[300, 300\\]"),
])
def test_packing_errors(call, match):
    with pytest.raises(QuantError, match=match):
        call()
