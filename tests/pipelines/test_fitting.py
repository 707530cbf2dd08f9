"""pipelines/_fitting.py: evaluation from predictions, the one refit helper, the search's progress."""

import io
import warnings

import numpy as np
import pytest


def test_evaluate_takes_predictions():
    from pipelines._fitting import evaluate

    y = np.array(list("NNNNVVVSSN"))
    p = np.array(list("NNNVVVNSNS"))
    metrics, report, cm = evaluate(y, p, ["N", "S", "V"])
    assert metrics["accuracy"] == pytest.approx(0.6)
    assert metrics["se_V"] == pytest.approx(2 / 3) and metrics["ppv_V"] == pytest.approx(2 / 3)
    assert metrics["support_N"] == 5
    np.testing.assert_array_equal(cm, [[3, 1, 1], [1, 1, 0], [1, 0, 2]])
    assert "precision" in report


def test_fit_clone_leaves_the_prototype_unfitted_and_predicts():
    from sklearn.pipeline import Pipeline

    from pipelines._fitting import fit_clone
    from sk1dcnn import CNN1DClassifier

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 1, 16)), np.arange(20) % 2
    proto = Pipeline([("cnn", CNN1DClassifier(filters=(2,), hidden_layer_sizes=(4,), max_iter=1))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = fit_clone(proto, X, y, params={"cnn__max_iter": 2}, seed=3, X_predict=X[:5])
        b = fit_clone(proto, X, y, params={"cnn__max_iter": 2}, seed=3)
    assert not hasattr(proto.named_steps["cnn"], "n_iter_")
    assert a.model.named_steps["cnn"].random_state == 3 and a.model.named_steps["cnn"].n_iter_ == 2
    np.testing.assert_array_equal(a.y_pred, a.model.predict(X[:5]))
    np.testing.assert_array_equal(b.model.predict(X), a.model.predict(X))  # same seed, same model
    assert b.y_pred is None and a.fit_time_s > 0


# ------------------------------------------------------- search progress
from _progress import FakeClock, Terminal  # noqa: E402


def test_search_progress_off_a_terminal_writes_sparse_lines_and_the_last(monkeypatch):
    from pipelines import _fitting

    monkeypatch.setattr(_fitting, "_clock", FakeClock())
    out = io.StringIO()
    p = _fitting.SearchProgress(4, 3, refit=True, stream=out)  # started at t=1
    for done in (1, 2, 3, 4):  # t = 2, 3, 4, 5: only 1 s apart, so the middle ones are left out
        p.update(done)
    assert out.getvalue().splitlines() == [
        "grid search: 1/4 candidates (3/12 fits), 0:01 elapsed, ETA 0:03",
        "grid search: 4/4 candidates (12/12 fits) in 0:04; refitting the best on all the training data"]


def test_search_progress_on_a_terminal_redraws_one_line(monkeypatch):
    from pipelines import _fitting

    monkeypatch.setattr(_fitting, "_clock", FakeClock())
    term = Terminal()
    p = _fitting.SearchProgress(2, 2, label="search", stream=term)
    p.update(1)
    p.update(2)
    assert term.getvalue() == ("\rsearch: 1/2 candidates (2/4 fits), 0:01 elapsed, ETA 0:01"
                               "\rsearch: 2/2 candidates (4/4 fits) in 0:02                \n")


def _tiny_search(n_jobs, progress):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from pipelines._fitting import grid_search

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] + 0.5 * rng.normal(size=60) > 0).astype(int)
    return grid_search(LogisticRegression(), {"C": [0.01, 0.1, 1.0, 10.0, 100.0]}, X, y,
                       cv=StratifiedKFold(3), scoring="accuracy", search={"n_jobs": n_jobs},
                       progress=progress)


def test_grid_search_in_rounds_gives_the_same_results_and_reports(capsys):
    plain = _tiny_search(1, progress=False)
    rounds = _tiny_search(1, progress=True)
    assert rounds._round == 1  # one worker: one candidate per round
    for key in ("params", "mean_test_score", "split0_test_score", "rank_test_score"):
        assert list(rounds.cv_results_[key]) == list(plain.cv_results_[key])
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("grid search: 5/5 candidates (15/15 fits) in ")


def test_grid_search_rounds_keep_every_worker_busy(capsys):
    gs = _tiny_search(2, progress=True)  # 2 workers, 3 folds: 2 candidates (6 fits) per round
    assert gs._round == 2 and len(gs.cv_results_["params"]) == 5
    assert "grid search: 5/5 candidates (15/15 fits) in " in capsys.readouterr().err
