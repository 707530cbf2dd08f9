"""sk1dcnn.ecg.novelty.AdaptiveTemplateDetector: hand-computed ratios, drift followed while an
abnormal beat is flagged and kept out of the template, prematurity against the recent rhythm,
exact error messages."""

import re

import numpy as np
import pytest

from sk1dcnn.ecg.novelty import AdaptiveTemplateDetector


def test_ratios_by_hand():
    # n_init=1, rates 0.5: template starts at beat 0 and moves half way to each beat
    beats = np.array([[1.0, 0.0], [3.0, 0.0], [2.0, 0.0]])
    det = AdaptiveTemplateDetector(template_rate=0.5, rr_rate=0.5, n_init=1).fit(beats, [1.0, 1.0, 0.5])
    # templates seen: [1,0] -> [1,0] (after beat 0) -> [2,0] (after beat 1) -> [2,0] after beat 2
    # distances: 0, |3-1|/1 = 2, |2-2|/2 = 0 -> threshold 2
    # local RR: 1 -> 1 -> 1 -> 0.75; pre/local: 1, 1, 0.5 -> threshold 0.5
    assert det.distance_threshold_ == 2.0 and det.prematurity_threshold_ == 0.5
    np.testing.assert_allclose(det.template_, [2.0, 0.0])
    assert det.local_rr_ == 0.75 and det.n_updates_ == 3
    # a beat at [8, 0]: distance 6/2 = 3 -> ratio 1.5; pre-RR 0.75: 0.5 / (0.75 / 0.75) = 0.5
    d, p = det.step([8.0, 0.0], 0.75)
    assert (d, p) == (1.5, 0.5)
    # it is within the default gate (3.0, 1.2): averaged in
    np.testing.assert_allclose(det.template_, [5.0, 0.0])


def _stream(rng, n, T=40, drift=0.0, noise=0.01):
    beat = np.sin(np.linspace(0, np.pi, T)) * np.hanning(T)
    amp = 1 + drift * np.arange(n) / n
    return amp[:, None] * beat + noise * rng.standard_normal((n, T)), beat


def test_follows_slow_drift_that_a_fixed_template_calls_abnormal():
    rng = np.random.default_rng(0)
    train, beat = _stream(rng, 300)
    det = AdaptiveTemplateDetector().fit(train, 0.8 + 0.02 * rng.standard_normal(300))
    later, _ = _stream(rng, 1500, drift=0.6)         # amplitude grows 60 % over the monitored beats
    d, p = det.score_stream(later, 0.8 + 0.01 * rng.standard_normal(1500))
    fixed = np.linalg.norm(later - train.mean(0), axis=1) / np.linalg.norm(train.mean(0))
    max_train = (np.linalg.norm(train - train.mean(0), axis=1) / np.linalg.norm(train.mean(0))).max()
    assert (fixed > max_train).mean() > 0.5           # a fixed template flags most of the late beats
    assert (d > 1).mean() < 0.01 and (p > 1).mean() < 0.01   # the adaptive one follows them


def test_abnormal_beat_is_flagged_and_kept_out_of_the_template():
    rng = np.random.default_rng(1)
    train, beat = _stream(rng, 200)
    det = AdaptiveTemplateDetector().fit(train, np.full(200, 0.8))
    before, n = det.template_.copy(), det.n_updates_
    d, p = det.step(-2 * beat, 0.8)                   # an inverted, larger beat
    assert d > 3                                      # beyond the update gate
    np.testing.assert_array_equal(det.template_, before)
    assert det.n_updates_ == n
    # and a run of such beats stays flagged: none of them moves the template
    d_run, _ = det.score_stream(np.tile(-2 * beat, (50, 1)), np.full(50, 0.8))
    assert (d_run > 3).all()


def test_premature_against_the_recent_rhythm():
    rng = np.random.default_rng(2)
    train, beat = _stream(rng, 200)
    rr_train = 0.8 + 0.02 * rng.standard_normal(200)
    det = AdaptiveTemplateDetector().fit(train, rr_train)
    # the heart rate rises slowly from 0.8 s to 0.6 s RR: followed, nothing premature
    rr_later = np.linspace(0.8, 0.6, 400)
    _, p = det.score_stream(np.tile(beat, (400, 1)), rr_later)
    assert (p < 1).all()
    # then a beat at 60 % of the current RR is premature
    _, p_early = det.step(beat, 0.36)
    assert p_early > 1.2


def test_errors_name_the_problem():
    det = AdaptiveTemplateDetector()
    with pytest.raises(RuntimeError, match="not fitted yet: call fit with normal beats first"):
        det.step(np.ones(4), 0.8)
    X = np.ones((5, 4))
    with pytest.raises(ValueError, match=re.escape("pre_rr must hold one interval per beat: 5 beats, "
                                                   "pre_rr of shape (4,)")):
        det.fit(X, np.ones(4))
    Xn = X.copy()
    Xn[2, 1] = np.nan
    with pytest.raises(ValueError, match=re.escape("training beats and pre_rr must be finite (no NaN or inf)")):
        det.fit(Xn, np.ones(5))
    with pytest.raises(ValueError, match="training beats must be 2-D"):
        det.fit(np.ones(5), np.ones(5))
    with pytest.raises(ValueError, match="pre_rr must be positive intervals, seconds"):
        det.fit(X, np.zeros(5))
    with pytest.raises(ValueError, match="the training beats average to zero"):
        det.fit(np.zeros((5, 4)), np.ones(5))
    with pytest.raises(ValueError, match=re.escape("template_rate must be a float in (0, 1], got 0")):
        AdaptiveTemplateDetector(template_rate=0).fit(X, np.ones(5))
    with pytest.raises(ValueError, match="update_gate must be two positive numbers"):
        AdaptiveTemplateDetector(update_gate=(1.0,)).fit(X, np.ones(5))
    det.fit(X, np.ones(5))
    with pytest.raises(ValueError, match=re.escape("beat has (3,) timepoints, the training beats had (4,)")):
        det.step(np.ones(3), 0.8)
    with pytest.raises(ValueError, match=re.escape("pre_rr must be a positive interval, seconds, got 0.0")):
        det.step(np.ones(4), 0.0)
    with pytest.raises(ValueError, match=re.escape("the beat must be finite (no NaN or inf)")):
        det.step(np.r_[1.0, np.nan, 1.0, 1.0], 0.8)


def test_is_a_scikit_learn_style_object():
    from sklearn.base import clone

    det = AdaptiveTemplateDetector(template_rate=0.1, update_gate=(2.0, 1.1))
    assert clone(det).get_params() == det.get_params()
    assert det.get_params()["update_gate"] == (2.0, 1.1)
