"""ConvergenceWarning: at most one per fit, and none in a grid search of deliberately short fits
with the documented warnings filter (docs/progress-and-errors.md), in joblib's workers too."""

import os
import subprocess
import sys
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from sk1dcnn import CNN1DClassifier
from tests._subprocess import REPO


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((24, 16))
    return X, (X[:, :8].sum(axis=1) > 0).astype(int)


def _convergence_warnings(record):
    return [w for w in record if issubclass(w.category, ConvergenceWarning)]


def test_at_most_one_convergence_warning_per_fit():
    X, y = _data()
    clf = CNN1DClassifier(filters=(2,), hidden_layer_sizes=(4,), max_iter=3, tol=0.0, random_state=0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        clf.fit(X, y)
        clf.set_params(warm_start=True).fit(X, y)  # a second fit: its own one
        clf.partial_fit(X, y)  # partial_fit never warns: it has no max_iter to reach
    messages = [str(w.message) for w in _convergence_warnings(record)]
    assert messages == ["Stochastic Optimizer: Maximum iterations (3) reached and the optimization "
                        "hasn't converged yet."] * 2
    with warnings.catch_warnings(record=True) as record:  # converged: none
        warnings.simplefilter("always")
        CNN1DClassifier(filters=(2,), hidden_layer_sizes=(4,), max_iter=50, n_iter_no_change=1,
                        tol=10.0, random_state=0).fit(X, y)
    assert _convergence_warnings(record) == []


def test_the_documented_filter_silences_a_grid_search_in_process():
    X, y = _data()
    grid = GridSearchCV(CNN1DClassifier(filters=(2,), hidden_layer_sizes=(4,), max_iter=2, random_state=0),
                        {"kernel_size": [3, 5]}, cv=2, n_jobs=1)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=ConvergenceWarning)  # the recipe
            grid.fit(X, y)
    assert _convergence_warnings(record) == []


SEARCH_IN_WORKERS = """
import warnings
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sk1dcnn import CNN1DClassifier

rng = np.random.default_rng(0)
X = rng.standard_normal((24, 16))
y = (X[:, :8].sum(axis=1) > 0).astype(int)
grid = GridSearchCV(CNN1DClassifier(filters=(2,), hidden_layer_sizes=(4,), max_iter=2, random_state=0),
                    {"kernel_size": [3, 5]}, cv=2, n_jobs=2)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=ConvergenceWarning)
    grid.fit(X, y)
print("fitted", len(grid.cv_results_["params"]))
"""


def test_the_documented_filter_reaches_joblib_workers():
    """Worker processes print their warnings to the terminal: run in a fresh interpreter and
    read its stderr (pytest's own filter must not hide them)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "PYTHONWARNINGS": "default"}
    done = subprocess.run([sys.executable, "-c", SEARCH_IN_WORKERS], capture_output=True, text=True,
                          cwd=REPO, env=env, check=True)
    assert done.stdout.strip() == "fitted 2"
    assert "ConvergenceWarning" not in done.stderr
    # the control: without the filter the same search does warn, from the workers
    loud = SEARCH_IN_WORKERS.replace('warnings.simplefilter("ignore", category=ConvergenceWarning)', "pass")
    done = subprocess.run([sys.executable, "-c", loud], capture_output=True, text=True, cwd=REPO, env=env,
                          check=True)
    assert "ConvergenceWarning" in done.stderr
