import subprocess
import sys

from archsim.cli import main


def test_formats_lists_and_describes(capsys):
    assert main(["formats", "--bits", "4"]) == 0
    out = capsys.readouterr().out.split()
    assert "dybit4c2" in out and "nf4" in out and "mxfp4" in out
    assert main(["formats", "dybit5c3"]) == 0
    assert "6" in capsys.readouterr().out


def test_unknown_format_is_one_clear_line():
    r = subprocess.run([sys.executable, "-m", "archsim", "formats", "nosuch4"], capture_output=True, text=True)
    assert r.returncode == 2
    assert "unknown format 'nosuch4'" in r.stderr and "Traceback" not in r.stderr
