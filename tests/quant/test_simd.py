"""The AVX-512 DyBit quantise loop gives the portable kernel's bits on every (n, cap), layout and edge value."""
import os
import subprocess
import sys

import llvmlite.binding as llvm
import numpy as np
import pytest

from quant import get_format
from quant.formats import _kernels as K
from quant.formats import _simd
from quant.formats.dybit import DyBitFormat


def host_has_avx512() -> bool:
    f = llvm.get_host_cpu_features()
    return bool(f.get("avx512f")) and bool(f.get("avx512dq"))


def edge_values(f: DyBitFormat, rng) -> np.ndarray:
    lv = f.levels.astype(np.float32)
    mids = ((lv[1:].astype(np.float64) + lv[:-1]) / 2).astype(np.float32)  # exact: ties to the even code
    near = np.concatenate([np.nextafter(mids, np.float32(np.inf)), np.nextafter(mids, np.float32(-np.inf))])
    big = np.array([f.max_level * 1.5, f.max_level * 1e6, 3e38, -3e38, 1e-40, -1e-40, 1e-30, -1e-30, 2.0 ** -20,
                    0.0, -0.0], np.float32)
    tiny = np.ldexp(rng.uniform(-1, 1, 3000), rng.integers(-40, f.cap + 2, 3000)).astype(np.float32)
    return np.concatenate([lv, mids, near, big, tiny, rng.standard_normal(3000).astype(np.float32) * f.max_level])


def test_dispatch_follows_the_cpu(monkeypatch):
    # on a CPU with AVX-512F/DQ (the CI machines) the register-table loop is the one that runs
    assert _simd.AVAILABLE == host_has_avx512()
    calls = []
    monkeypatch.setattr(_simd, "dybit_quantize", lambda *a: calls.append("simd") or False)
    monkeypatch.setattr(K, "dybit_quantize", lambda *a: calls.append("portable") or False)
    get_format("dybit4c2").quantize(np.ones(8, np.float32), 1.0)
    assert calls == ["simd" if _simd.AVAILABLE else "portable"]


@pytest.mark.parametrize("env", [{"DYBIT_SIMD": "0"}, {"NUMBA_CPU_NAME": "generic"}, {"NUMBA_DISABLE_JIT": "1"}])
def test_the_simd_loop_is_off_when_switched_off_or_numba_targets_another_cpu(env, tmp_path):
    # with NUMBA_CPU_NAME=generic the AVX-512 intrinsics could not be compiled, with the JIT off not run at all:
    # the portable kernel must run
    code = ("import numpy as np; from quant import get_format; from quant.formats import _simd; "
            "q = get_format('dybit4c2').quantize(np.array([0.3, -1.3, 9.0], np.float32), 1.0); "
            "print(_simd.AVAILABLE, q.tolist())")
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), **env),
                         capture_output=True, text=True, check=True)
    assert out.stdout.split("[")[0].strip() == "False" and "[0.25, -1.5, 3.0]" in out.stdout


def test_region_table_holds_every_region_once():
    for L in range(1, 8):
        for cap in range(1, L + 1):
            A, c_lo, c_hi, vmax = K._dybit_magic(L, cap)
            table = _simd.region_table(L, cap)
            assert table[126 % 16] == c_lo and table[(126 + cap) % 16] == c_hi
            # the largest saturated value has the top exponent, so no entry above it is ever read
            assert (np.float32(vmax).view(np.uint32) >> 23) == 126 + cap


@pytest.mark.parametrize("n", range(2, 9))
def test_simd_quantize_equals_the_portable_kernel_bit_for_bit(n, rng):
    if not _simd.AVAILABLE:  # nothing to compare on this CPU: the dispatch test shows the portable kernel runs
        assert not host_has_avx512()
        return
    for cap in range(1, n):
        f = DyBitFormat(n, cap)
        x = edge_values(f, rng)
        table = _simd.region_table(f.L, cap)
        # per tensor; per row with group lengths that leave every tail length 0..15 after the 16-lane loop;
        # blocks along a row, each with its own scale
        for rows, block in ((1, x.size), (4, 1000), (3, 17), (5, 31), (2, 16), (6, 7)):
            cols = (x.size // rows // block) * block
            xx = np.ascontiguousarray(x[: rows * cols].reshape(rows, cols))
            scale = rng.uniform(0.05, 3.0, (rows, cols // block)).astype(np.float32)
            want, got = np.empty_like(xx), np.empty_like(xx)
            with np.errstate(over="ignore"):
                flag_want = K.dybit_quantize(xx, scale, block, f.L, cap, want)
                flag_got = _simd.dybit_quantize(xx, scale, block, f.L, cap, table, got)
            assert flag_got == flag_want, (f.name, rows, block)
            assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), (f.name, rows, block)


def test_simd_quantize_flags_nan_and_inf_like_the_portable_kernel():
    f = get_format("dybit4c2")
    for bad in (np.nan, np.inf, -np.inf):
        x = np.zeros(40, np.float32)
        x[33] = bad  # in the scalar tail and, shifted, in the vector part
        for xx in (x, np.roll(x, -30)):
            with pytest.raises(Exception, match="NaN|Inf|non-finite"):
                f.quantize(xx, 1.0)
    # a finite x whose x/scale overflows saturates to ±max, in the lanes and in the tail
    x = np.full(40, 3e38, np.float32)
    x[::2] *= -1
    with np.errstate(over="ignore"):
        q = f.quantize(x, 1e-3)
    assert np.array_equal(q, np.where(x > 0, f.max_level, -f.max_level).astype(np.float32) * np.float32(1e-3))
