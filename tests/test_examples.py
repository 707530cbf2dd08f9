"""Every script in examples/ runs as a newcomer would run it (a fresh process, shipped data only)
and prints what its docstring promises."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: script -> text its output must hold
EXPECTED = {
    "quickstart.py": "ECG200 test accuracy",
    "grid_search.py": "best parameters",
    "ecg_mitbih.py": "S beats: only",
    "advance_warning.py": "warned within its first three: yes",
}


def test_every_example_is_covered():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example_runs(script, tmp_path):
    if script in ("ecg_mitbih.py", "advance_warning.py"):
        pytest.importorskip("wfdb")
    done = subprocess.run([sys.executable, str(EXAMPLES / script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert EXPECTED[script] in done.stdout, done.stdout[-2000:]
    assert "Traceback" not in done.stderr


def test_advance_warning_example_warns_without_false_alarm_storm(tmp_path):
    pytest.importorskip("wfdb")
    import re

    done = subprocess.run([sys.executable, str(EXAMPLES / "advance_warning.py")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    fa = re.search(r"false alarms: (\d+) of (\d+) N beats", done.stdout)
    assert fa, done.stdout
    assert int(fa.group(1)) <= 0.05 * int(fa.group(2))   # at most 5% of the person's N beats
