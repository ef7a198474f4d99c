import pytest
import yaml

from archsim import ConfigError, load_hw, shipped_configs


def test_shipped_configs_load_and_describe_themselves():
    assert set(shipped_configs()) >= {"default", "server", "int8_systolic"}
    hw = load_hw("default")
    assert (hw.array.rows, hw.array.cols, hw.clock_mhz) == (16, 32, 500)
    assert hw.buffers.weight.kib == 64 and hw.buffers.input.kib == 32 and hw.buffers.output.kib == 16
    assert hw.dram.bus_bits == 192 and hw.dram.energy_pj_per_bit == 15
    assert load_hw("server").clock_mhz == 980 and load_hw("int8_systolic").array.kind == "fixed"
    assert "16×32 fusion" in repr(hw)


def test_overrides_are_dotted_and_revalidated():
    hw = load_hw("default")
    hw2 = hw.with_overrides({"buffers.weight.kib": "128", "array.dataflow": "os"})
    assert hw2.buffers.weight.kib == 128 and hw2.array.dataflow == "os" and hw.buffers.weight.kib == 64
    assert hw.with_overrides(array__rows=32).array.rows == 32
    with pytest.raises(ConfigError, match="array.rowz: unknown key"):
        hw.with_overrides({"array.rowz": 3})


def _write(tmp_path, mutate):
    from importlib import resources

    data = yaml.safe_load(resources.files("archsim.configs").joinpath("default.yaml").read_text())
    mutate(data)
    p = tmp_path / "hw.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d["array"].update(colz=3), r"array.colz: unknown key"),
    (lambda d: d["array"].update(rows="sixteen"), r"array.rows: expected int, got str 'sixteen'"),
    (lambda d: d["array"].update(rows=0), r"array.rows: must be > 0, got 0"),
    (lambda d: d["buffers"]["input"].update(kib=-4), r"buffers.input.kib: must be > 0"),
    (lambda d: d["dram"].update(bus_bits=0), r"dram.bus_bits: must be > 0"),
    (lambda d: d["array"].update(dataflow="rs"), r"array.dataflow: must be one of ws, os, is"),
    (lambda d: d["buffers"]["weight"].update(kib=0.25), r"buffers.weight.kib: .* smallest legal tile"),
    (lambda d: d["array"].update(bricks_per_unit=9), r"array.bricks_per_unit"),
    (lambda d: d["array"].update(max_bits=3, bricks_per_unit=4), r"array.max_bits: .* even .* got 3"),
    (lambda d: d.pop("clock_mhz"), r"clock_mhz: missing"),
    (lambda d: d.update(psum_bits=8), r"psum_bits: .* 8b × 8b product \(16 bits\), got 8"),
])
def test_bad_config_names_field_and_value(tmp_path, mutate, match):
    with pytest.raises(ConfigError, match=match):
        load_hw(_write(tmp_path, mutate))


def test_malformed_yaml_and_missing_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("array: [unclosed")
    with pytest.raises(ConfigError, match="malformed YAML"):
        load_hw(p)
    with pytest.raises(ConfigError, match="not a shipped config"):
        load_hw("nonexistent")
