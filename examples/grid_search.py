"""A Pipeline and a GridSearchCV over the CNN's architecture, all cores.

Every architecture choice is a flat hyperparameter, so scikit-learn's
model selection searches it like any other.

The fits are deliberately short (max_iter=60), so most end before the
training loss settles and each would warn (ConvergenceWarning). The warnings
filter around ``grid.fit`` silences them, in the worker processes too
(scikit-learn 1.7+ passes the filters on to joblib's workers); see
docs/progress-and-errors.md.

    python examples/grid_search.py
"""

import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from sk1dcnn import CNN1DClassifier
from sk1dcnn.datasets import load_ucr
from sk1dcnn.preprocessing import SeriesStandardScaler

X_train, y_train, X_test, y_test = load_ucr("ECG200")

pipe = Pipeline([
    ("scale", SeriesStandardScaler()),
    ("cnn", CNN1DClassifier(max_iter=60, random_state=0)),
])
grid = GridSearchCV(
    pipe,
    {
        "cnn__filters": [(16, 32), (32, 64, 128)],
        "cnn__kernel_size": [3, 7],
        "cnn__global_pool": ["avg", "max"],
    },
    cv=3,
    n_jobs=-1,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=ConvergenceWarning)  # short fits on purpose
    grid.fit(X_train, y_train)

print("best parameters:", grid.best_params_)
print(f"cross-validated accuracy: {grid.best_score_:.3f}")
print(f"test accuracy of the refit pipeline: {grid.score(X_test, y_test):.3f}")
