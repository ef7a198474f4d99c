"""DyBit with a wider exponent step (dybitNcKeS, this project's extension): tables by hand, es = 0 is DyBit,
the hardware widths, names, and what the wider range buys on heavy-tailed tensors."""
import numpy as np
import pytest

from quant import QuantError, get_format
from quant.formats.dybit import WideDyBitFormat, dybit_code_values, dybit_wide_code_values


@pytest.mark.parametrize("n", range(2, 9))
def test_step_zero_is_plain_dybit(n):
    for cap in range(1, n):
        assert np.array_equal(dybit_wide_code_values(n, cap, 0), dybit_code_values(n, cap), equal_nan=True)


@pytest.mark.parametrize("name, magnitudes", [
    ("dybit4c3e1", [0, 0.25, 0.5, 0.75, 1, 2, 4, 16]),  # 0MM · 10x (x: exponent bit) · 110 = 2^2 · 111 = 2^4
    ("dybit4c2e1", [0, 0.25, 0.5, 0.75, 1, 2, 4, 8]),  # 11x: 2^(2 + x)
    ("dybit4c3e2", [0, 0.25, 0.5, 0.75, 1, 4, 16, 256]),  # 10x: x is the high exponent bit (2^0, 2^2)
    ("dybit5c2e1", [0, 1 / 8, 2 / 8, 3 / 8, 4 / 8, 5 / 8, 6 / 8, 7 / 8, 1, 1.5, 2, 3, 4, 6, 8, 12]),
])
def test_tables_by_hand(name, magnitudes):
    f = get_format(name)
    half = 1 << (f.bits - 1)
    assert f.code_values[:half].tolist() == magnitudes  # magnitude codes in code order
    assert np.array_equal(f.code_values[half:], -f.code_values[:half])


def test_wider_step_widens_the_dynamic_range_and_prices_its_shifter():
    ranges = {n: get_format(n).max_level / get_format(n).levels[get_format(n).levels > 0].min()
              for n in ("dybit4c3", "dybit4c3e1", "dybit4c3e2")}
    assert ranges == {"dybit4c3": 16, "dybit4c3e1": 64, "dybit4c3e2": 1024}
    hw = get_format("dybit4c3e1").hardware  # significands 1 or 1.1b: a 3-bit signed multiply, shifts 2^-2..2^4
    assert (hw.multiplier_bits, hw.max_shift, hw.shift_bits) == (3, 6, 3)
    for n in range(2, 9):  # with step 0 the field-derived widths are DyBit's own
        for cap in range(1, n):
            assert WideDyBitFormat(n, cap, 0).hardware == get_format(f"dybit{n}c{cap}").hardware


def test_adaptive_step_chooses_among_distinct_grids_and_helps_heavy_tails(rng):
    ada = get_format("dybit4e1")
    assert [c.name for c in ada.candidates] == ["dybit4c1", "dybit4c2", "dybit4c3", "dybit4c2e1", "dybit4c3e1"]
    heavy = rng.standard_t(2, (32, 512)).astype(np.float32)  # crest factor in the tens, like FFN activations
    gauss = rng.standard_normal((32, 512)).astype(np.float32)

    def rel(name, x):
        q = get_format(name).quantize(x)
        return float(((q - x) ** 2).sum() / (x**2).sum())

    assert rel("dybit4e1", heavy) < 0.7 * rel("dybit4", heavy)
    assert rel("dybit4e1", gauss) <= rel("dybit4", gauss)  # a superset of dybit4's grids


def test_bad_step_names_give_one_line():
    for bad, words in (("dybit4c3e3", "es must be"), ("dybit4c3e0", "plain DyBit"), ("dybit4e0", "1 or 2"),
                       ("dybit4c4e1", "cap must be"), ("mxdybit4e3", "1 or 2")):
        with pytest.raises(QuantError, match=words) as exc:
            get_format(bad)
        assert "\n" not in str(exc.value)
