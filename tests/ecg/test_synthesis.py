"""sk1dcnn.ecg.synthesis: the degradation fit recovers known filters; synthesis reads only normal beats."""

import re

import numpy as np
import pytest
from sklearn.base import clone

from sk1dcnn.ecg.synthesis import DegradationBank, conv_matrix, fit_degradation_filter


def _beat(T=96, width=0.04, rng=None):
    t = np.linspace(-0.5, 0.5, T)
    b = np.exp(-(t / width) ** 2) - 0.2 * np.exp(-((t - 0.25) / 0.08) ** 2)
    if rng is not None:
        b = b + 0.05 * rng.standard_normal(T)
    return b


def test_conv_matrix_is_numpy_convolve_same():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(40)
    for L in (1, 5, 17):
        h = rng.standard_normal(L)
        np.testing.assert_allclose(conv_matrix(x, L) @ h, np.convolve(x, h, mode="same"), atol=1e-12)


def test_fit_recovers_a_known_filter():
    rng = np.random.default_rng(1)
    x = _beat(rng=rng)  # a noisy beat: rich enough to identify every tap
    h = rng.standard_normal(15)
    y = np.convolve(x, h, mode="same")
    np.testing.assert_allclose(fit_degradation_filter(x, y, 15, alpha=0.0), h, atol=1e-8)
    # the ridge shrinks towards the identity filter, not towards zero
    strong = fit_degradation_filter(x, y, 15, alpha=1e6)
    ident = np.zeros(15)
    ident[7] = 1.0
    np.testing.assert_allclose(strong, ident, atol=1e-3)


def test_bank_recovers_each_records_filter_and_synthesizes_with_it():
    rng = np.random.default_rng(2)
    X, y, g, true = [], [], [], {}
    for rec in ("a", "b"):
        x = _beat(rng=rng)
        for c in ("S", "V"):
            true[rec, c] = rng.standard_normal(11)
        X += [x, x, np.convolve(x, true[rec, "S"], "same"), np.convolve(x, true[rec, "V"], "same")]
        y += ["N", "N", "S", "V"]
        g += [rec] * 4
    bank = DegradationBank(filter_length=11, alpha=1e-12, n_beat_filters=0, min_normal_beats=2)
    bank.fit(np.array(X), np.array(y), groups=np.array(g))
    assert bank.filter_records_.tolist() == ["a", "a", "b", "b"]
    assert bank.filter_classes_.tolist() == ["S", "V", "S", "V"]
    for k, (rec, c) in enumerate(zip(bank.filter_records_, bank.filter_classes_)):
        np.testing.assert_allclose(bank.filters_[k], true[rec, c], atol=1e-6)
    # a new person's normal beats: every filter applied to their average
    new = np.vstack([_beat(width=0.06, rng=rng) for _ in range(4)])
    out = bank.transform(new)
    for k in range(4):
        np.testing.assert_allclose(out[k], np.convolve(new.mean(axis=0), bank.filters_[k], "same"),
                                   atol=1e-12)
    Xs, ys = bank.synthesize(new, n_per_filter=3, random_state=0)
    assert Xs.shape == (4 + 12, new.shape[1])
    assert ys.tolist() == ["S", "V", "S", "V"] + ["S"] * 3 + ["V"] * 3 + ["S"] * 3 + ["V"] * 3
    # each per-beat synthetic is one of the person's beats through its filter
    for k, f in zip(range(4, 16), np.repeat(np.arange(4), 3)):
        assert any(np.allclose(Xs[k], np.convolve(b, bank.filters_[f], "same")) for b in new)


def test_per_beat_filters_and_rr_ratios():
    rng = np.random.default_rng(3)
    x = _beat(rng=rng)
    rr_n = [0.8, 0.8, 0.8, 0.8, 1.0, 1.0, 1.0]
    beats = [x, x] + [np.convolve(x, rng.standard_normal(5), "same") for _ in range(3)]
    ratios = [[0.6, 1.4, 1.0], [0.5, 1.5, 1.0], [0.7, 1.3, 0.9]]
    rr = [rr_n, rr_n] + [[0.8 * a, 0.8 * b, 0.8 * c, 0.8, a, b, c] for a, b, c in ratios]
    X = np.hstack([np.array(beats), np.array(rr)])
    bank = DegradationBank(filter_length=5, n_beat_filters=2, min_normal_beats=2, rr_features=True,
                           random_state=0).fit(X, ["N", "N", "V", "V", "V"], groups=["r"] * 5)
    assert len(bank.filters_) == 3  # the class average, then two single beats
    np.testing.assert_allclose(bank.rr_ratios_[0], np.median(ratios, axis=0))
    assert all(any(np.allclose(r, q) for q in ratios) for r in bank.rr_ratios_[1:])
    normal = np.hstack([np.array([x, x]), [[0.9, 0.9, 0.9, 0.9, 1, 1, 1], [1.1, 1.1, 1.1, 1.1, 1, 1, 1]]])
    out = bank.transform(normal)
    avg = 1.0  # the median of the normal beats' running average RR
    np.testing.assert_allclose(out[:, -7:-4], bank.rr_ratios_ * avg)
    np.testing.assert_allclose(out[:, -4], avg)
    np.testing.assert_allclose(out[:, -3:], bank.rr_ratios_)


def test_synthesis_never_reads_the_targets_abnormal_beats():
    """A target whose abnormal beats are NaN: the bank (other records) and the synthesis
    from the target's normal beats give no NaN."""
    rng = np.random.default_rng(4)
    X, y, g = [], [], []
    for rec in ("src1", "src2", "target"):
        x = _beat(rng=rng)
        for c in ("N", "N", "N", "S", "V"):
            b = x + 0.01 * rng.standard_normal(len(x)) if c == "N" else np.convolve(x, rng.random(9), "same")
            X.append(b if not (rec == "target" and c != "N") else np.full(len(x), np.nan))
            y.append(c)
            g.append(rec)
    X, y, g = np.array(X), np.array(y), np.array(g)
    others = g != "target"
    bank = DegradationBank(filter_length=9, n_beat_filters=1, min_normal_beats=2, random_state=0)
    bank.fit(X[others], y[others], groups=g[others])
    assert "target" not in bank.records_
    Xs, _ = bank.synthesize(X[(g == "target") & (y == "N")], n_per_filter=2, random_state=0)
    assert np.isfinite(Xs).all()
    # and the bank refuses NaN rather than averaging it in
    with pytest.raises(ValueError, match=re.escape("X contains NaN or infinite values")):
        clone(bank).fit(X, y, groups=g)


def test_bad_input_errors():
    X = np.vstack([_beat(), _beat(), _beat(width=0.1)])
    y, g = ["N", "N", "V"], ["a", "a", "a"]
    with pytest.raises(ValueError, match=re.escape("filter_length must be odd (a centred filter), got 4")):
        DegradationBank(filter_length=4).fit(X, y, groups=g)
    with pytest.raises(ValueError, match=re.escape("no source record has both 5 N beats and a beat of "
                                                   "class S or V: the bank is empty")):
        DegradationBank(filter_length=5).fit(X, y, groups=g)
    bank = DegradationBank(filter_length=5, min_normal_beats=2).fit(X, y, groups=g)
    with pytest.raises(ValueError, match=re.escape("normal_beats have 50 timepoints, the bank was fitted "
                                                   "on 96")):
        bank.transform(X[:, :50])
    with pytest.raises(ValueError, match=re.escape("X, y and groups have different lengths: 3, 3, 2")):
        DegradationBank(filter_length=5).fit(X, y, groups=g[:2])
