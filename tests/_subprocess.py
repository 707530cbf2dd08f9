"""Run a snippet in a fresh interpreter, with this checkout first on the path."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_python(code):
    """Run ``code`` with ``python -c`` from the repository root; return what it printed.

    A fresh interpreter is the only way to test what importing a module pulls in
    (``sys.modules``) or how it behaves when an optional package is missing.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                          env=env, check=True).stdout
