"""Our side of the SCALE-Sim validation, without SCALE-Sim: the compute cycles ``benchmarks/vs_scalesim.py``
compares must stay one cycle above the totals SCALE-Sim 3.0.0 printed for the same layers (recorded from its
run on 2026-11-23, reports/validation.md), in all three dataflows."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# SCALE-Sim 3.0.0 "Total Cycles" (32×32 array, 64 KiB SRAMs, CALC mode), per dataflow and ResNet-18 layer
SCALESIM_TOTAL_CYCLES = {
    "ws": {"conv1": 126379, "layer1.0.conv1": 116279, "layer2.0.conv1": 63215, "layer2.0.downsample.0": 7023,
           "layer3.0.conv2": 167039, "layer4.0.conv1": 164735, "layer4.1.conv2": 329471, "fc": 48639},
    "os": {"conv1": 163855, "layer1.0.conv1": 125047, "layer2.0.conv1": 63799, "layer2.0.downsample.0": 12599,
           "layer3.0.conv2": 132495, "layer4.0.conv1": 75711, "layer4.1.conv2": 149439, "fc": 18367},
    "is": {"conv1": 309679, "layer1.0.conv1": 278711, "layer2.0.conv1": 99899, "layer2.0.downsample.0": 11099,
           "layer3.0.conv2": 176399, "layer4.0.conv1": 87263, "layer4.1.conv2": 174527, "fc": 17503},
}


def _bench():
    spec = importlib.util.spec_from_file_location("vs_scalesim", ROOT / "benchmarks" / "vs_scalesim.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_our_compute_cycles_stay_one_above_scalesims(dataflow, graphs):
    bench = _bench()
    ours = bench.ours(graphs("resnet18"), dataflow, True)
    assert set(ours) == set(bench.LAYERS) == set(SCALESIM_TOTAL_CYCLES[dataflow])
    for name, total in SCALESIM_TOTAL_CYCLES[dataflow].items():
        assert ours[name]["compute"] == total + 1, (dataflow, name)  # SCALE-Sim ends on the last output's cycle


def test_bad_dataflow_list_is_refused_before_installing_anything(capsys):
    with pytest.raises(SystemExit) as exc:
        _bench().main(["--dataflows", "ws,rs"])
    assert exc.value.code == 2
    assert "--dataflows: expected a comma-separated subset of ws,os,is, got 'ws,rs'" in capsys.readouterr().err
