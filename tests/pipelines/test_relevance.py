"""pipelines/_relevance.py: per class, the average test beat and its mean relevance. The relevance
peaks where the class's signal is; the averages are those of the beats the docstring names, with
each part's own model; the static features are taken against their reference; the figures'
files come out of a workflow run, one per class."""

import re
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline

from _synthetic import bump_signals
from pipelines._relevance import METHOD, class_relevance
from sk1dcnn import CNN1DClassifier, join_static, relevance
from sk1dcnn.preprocessing import SeriesStandardScaler

T, PEAKS, HALF = 64, {1: 40, 2: 15}, 6  # class 1: a bump at timepoint 40, class 2 at 15


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


@pytest.fixture(scope="module")
def bumps():
    X, y = bump_signals(PEAKS, n=180, T=T)
    pipe = _fit(make_pipeline(SeriesStandardScaler(), CNN1DClassifier(filters=(4, 8), max_iter=30,
                                                                       random_state=0)), X, y)
    assert pipe.score(X, y) > 0.95  # the net found the bumps
    return pipe, X, y


def test_the_mean_relevance_of_each_class_peaks_at_its_bump(bumps):
    pipe, X, y = bumps
    pred = pipe.predict(X)
    out = class_relevance([(pipe, X, y, pred)], [0, 1, 2], np.arange(T), "sample")
    assert list(out) == [0, 1, 2]
    for c, peak in PEAKS.items():
        e = out[c]
        window = np.abs(np.arange(T) - peak) <= HALF
        assert window[np.argmax(e.relevance)]           # red (raises the class's score) at its bump
        assert np.abs(e.relevance[window]).mean() > 3 * np.abs(e.relevance[~window]).mean()
        assert window[np.argmax(e.beat)]                  # and the average beat shows the bump
        assert e.correct_only and e.n_beats == e.n_correct == np.sum((y == c) & (pred == c))
        assert e.n_class == np.sum(y == c) and e.method == METHOD == "gradient*input"
    # the averages are those of the correctly classified beats, through the preprocessing
    keep = (y == 1) & (pred == 1)
    Z = pipe[:-1].transform(X[keep])
    np.testing.assert_allclose(out[1].beat, Z.mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out[1].beat_std, Z.std(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out[1].relevance, relevance(pipe, X[keep], target=1,
                                                           method="gradient*input").mean(axis=0),
                               rtol=1e-9, atol=1e-12)


def test_no_correct_beat_averages_all_and_the_cap_draws_at_random(bumps):
    pipe, X, y = bumps
    wrong = np.where(y == 2, 0, y)  # no beat of class 2 is classified as 2
    out = class_relevance([(pipe, X, y, wrong)], [1, 2], np.arange(T), "sample")
    assert not out[2].correct_only and out[2].n_correct == 0 and out[2].n_beats == np.sum(y == 2)
    np.testing.assert_allclose(out[2].beat, pipe[:-1].transform(X[y == 2]).mean(axis=0), rtol=1e-12)
    capped = class_relevance([(pipe, X, y, y)], [1], np.arange(T), "sample", max_beats=7, random_state=3)
    assert capped[1].n_beats == 7 and capped[1].n_class == 60
    again = class_relevance([(pipe, X, y, y)], [1], np.arange(T), "sample", max_beats=7, random_state=3)
    np.testing.assert_array_equal(capped[1].relevance, again[1].relevance)
    other = class_relevance([(pipe, X, y, y)], [1], np.arange(T), "sample", max_beats=7, random_state=4)
    assert not np.array_equal(capped[1].beat, other[1].beat)


def test_each_part_is_explained_by_its_own_model(bumps):
    """The patient-specific scheme: beats of two 'patients', each classified by its own model."""
    pipe, X, y = bumps
    other = _fit(make_pipeline(SeriesStandardScaler(), CNN1DClassifier(filters=(4,), max_iter=5,
                                                                        random_state=1)), X, y)
    a, b = slice(0, 90), slice(90, None)
    parts = [(pipe, X[a], y[a], y[a]), (other, X[b], y[b], y[b])]
    out = class_relevance(parts, [1], np.arange(T), "sample")
    expected = np.concatenate([relevance(pipe, X[a][y[a] == 1], target=1, method="gradient*input"),
                               relevance(other, X[b][y[b] == 1], target=1, method="gradient*input")])
    np.testing.assert_allclose(out[1].relevance, expected.mean(axis=0), rtol=1e-9, atol=1e-12)
    assert out[1].n_beats == np.sum(y == 1)
    # a class a part's model does not know is explained by the other parts' models only
    two = _fit(make_pipeline(SeriesStandardScaler(), CNN1DClassifier(filters=(4,), max_iter=2,
                                                                      random_state=1)),
               X[y != 2], y[y != 2])
    out = class_relevance([(two, X[a], y[a], y[a]), (pipe, X[b], y[b], y[b])], [2], np.arange(T), "sample")
    assert out[2].n_beats == np.sum(y[b] == 2)
    assert class_relevance([(two, X, y, y)], [1, 2], np.arange(T), "sample").keys() == {1}


def test_static_features_are_taken_against_their_reference(bumps):
    _, X, y = bumps
    rng = np.random.default_rng(1)
    F = rng.normal(size=(len(y), 2)) + y[:, None]
    Xs = join_static(X, F)
    clf = _fit(CNN1DClassifier(filters=(4,), max_iter=5, n_static_features=2, random_state=0), Xs, y)
    pipe = make_pipeline(clf)  # no preprocessing: pipe[:-1] passes the beats through
    names = ("a", "b")
    plain = class_relevance([(pipe, Xs, y, y)], [1], np.arange(T), "sample", static_names=names)[1]
    full = relevance(clf, Xs[y == 1], target=1, method="gradient*input").mean(axis=0)
    np.testing.assert_allclose(plain.relevance, full[:T], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(list(plain.static.values()), full[T:], rtol=1e-9, atol=1e-12)
    ref = np.array([0.5, -2.0])
    grad = relevance(clf, Xs[y == 1], target=1, method="gradient")[:, T:]
    shifted = class_relevance([(pipe, Xs, y, y)], [1], np.arange(T), "sample", static_names=names,
                              static_reference=ref)[1]
    np.testing.assert_allclose(list(shifted.static.values()), (grad * (F[y == 1] - ref)).mean(axis=0),
                               rtol=1e-9, atol=1e-12)
    assert shifted.static_reference == {"a": 0.5, "b": -2.0}
    np.testing.assert_array_equal(shifted.relevance, plain.relevance)  # the signal's reference stays 0
    with pytest.raises(ValueError, match=re.escape(
            "class_relevance: static_reference has shape (3,); it must have one value per static "
            "feature (2)")):
        class_relevance([(pipe, Xs, y, y)], [1], np.arange(T), "sample", static_names=names,
                        static_reference=[0, 0, 0])
    with pytest.raises(ValueError, match=re.escape(
            "class_relevance: the preprocessed beats have 64 timepoints (plus 2 static columns) but "
            "the time axis has 63")):
        class_relevance([(pipe, Xs, y, y)], [1], np.arange(T - 1), "sample", static_names=names)
