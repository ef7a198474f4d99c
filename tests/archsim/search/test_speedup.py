"""The paper-form speed-up table: best over several searches, each search's own result shown."""
from archsim import load_hw
from archsim.search.speedup import LEVELS, main, speedup_markdown, speedup_rows


def test_best_over_seeds_and_each_seed_reported():
    rows = speedup_rows("lenet5", load_hw("default"), generations=2, pop=8, seeds=(0, 1))
    assert [r["constraint"] for r in rows] == [f"≤ {lv}" for lv in LEVELS]
    for r in rows:
        assert len(r["speedup_per_seed"]) == 2 and r["speedup"] == max(r["speedup_per_seed"])
        assert r["speedup"] >= r["uniform_speedup"] * (1 - 1e-9)  # the uniform design is in every search
    text = speedup_markdown(rows, "default", "cmd", generations=2, pop=8)
    assert "searched 2 times (seeds 0, 1; 2 generations × population 8 each)" in text
    assert " / " in text.splitlines()[-1]


def test_bad_arguments_are_named(capsys):
    for argv, flag in ((["--seeds", "0"], "--seeds"), (["--generations", "0"], "--generations")):
        try:
            main(argv)
        except SystemExit as exc:
            assert exc.code == 2
        assert flag in capsys.readouterr().err
