"""sk1dcnn.audio.mixtures: the multi-label tagging task built from FSDD."""

import numpy as np

from sk1dcnn.audio.fsdd import load_fsdd
from sk1dcnn.audio.mixtures import make_fsdd_mixtures


def test_make_fsdd_mixtures_tags():
    d = load_fsdd("shipped", length=4000)
    X, Y, tags = make_fsdd_mixtures(d.X_train, d.y_train, d.speaker_train, n_mixtures=40,
                                    random_state=0)
    assert X.shape == (40, 4000) and X.dtype == np.float32
    assert tags[:10] == [f"digit_{i}" for i in range(10)]
    assert tags[10:] == ["speaker_jackson", "speaker_nicolas", "speaker_theo"]
    assert (Y[:, :10].sum(axis=1) == 2).all() and (Y[:, 10:].sum(axis=1) == 2).all()
    np.testing.assert_allclose(np.abs(X).max(axis=1), 0.9, rtol=1e-6)
    X2, Y2, _ = make_fsdd_mixtures(d.X_train, d.y_train, d.speaker_train, n_mixtures=40,
                                   random_state=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(Y, Y2)
    # a mixture is the sum of its two scaled clips: the digit tags are real
    _, Yd, tags_d = make_fsdd_mixtures(d.X_train, d.y_train, d.speaker_train, n_mixtures=5,
                                       speaker_tags=False, random_state=1)
    assert Yd.shape == (5, 10) and len(tags_d) == 10


def test_mixtures_place_shorter_clips_inside_a_longer_mixture():
    d = load_fsdd("shipped", length=2000, digits=[1, 2, 3])
    X, Y, _ = make_fsdd_mixtures(d.X_train, d.y_train, d.speaker_train, n_mixtures=10, length=5000,
                                 speaker_tags=False, random_state=0)
    assert X.shape == (10, 5000)
    # two clips of 2000 samples inside 5000: at least 1000 samples stay silent
    assert ((X == 0).sum(axis=1) >= 1000).all()
    np.testing.assert_allclose(np.abs(X).max(axis=1), 0.9, rtol=1e-6)
    assert (Y.sum(axis=1) == 2).all()
