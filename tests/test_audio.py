"""Audio: sample-level presets, FSDD loader and mixtures, amplitude and log-mel transformers."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from sk1dcnn import CNN1DClassifier
from sk1dcnn.audio import FSDD_FS, fit_length, load_fsdd, make_fsdd_mixtures
from sk1dcnn.nn.blocks import BatchNormalization, ReSEBlock, ResidualBlock
from sk1dcnn.nn.network import Sequential, make_layer
from sk1dcnn.presets import PRESETS, get_preset, sample_level, sample_level_filters
from sk1dcnn.preprocessing import (
    AmplitudeNormalizer,
    LogMelSpectrogram,
    hz_to_mel,
    mel_filterbank,
    mel_to_hz,
)


# ---------------------------------------------------------------- presets
def _net(specs, input_shape):
    net = Sequential([make_layer(s) for s in specs])
    net.build(input_shape, np.random.RandomState(0), np.float64)
    return net


def test_sample_level_filters_double_at_block_2_and_last():
    assert sample_level_filters(9, 128) == [128, 128, 256, 256, 256, 256, 256, 256, 512]  # the paper
    assert sample_level_filters(7, 32) == [32, 32, 64, 64, 64, 64, 128]


def test_sample_level_shapes_and_parameter_counts():
    # 81 = 3**4 samples: strided conv -> 27, three blocks -> 9, 3, 1; filters 4, 4, 8
    # (block 2 is both "block 2" and the last: doubled once, as in the paper's code).
    net = _net(sample_level(n_blocks=3, filters=4), (81, 1))
    shapes = [layer.output_shape for layer in net.layers]
    assert shapes == [(27, 4), (27, 4), (27, 4),              # conv k3/s3, BN, ReLU
                      (27, 4), (27, 4), (27, 4), (9, 4),      # block 0
                      (9, 4), (9, 4), (9, 4), (3, 4),         # block 1
                      (3, 8), (3, 8), (3, 8), (1, 8),         # block 2
                      (8,), (8,), (8,), (8,), (8,)]      # global max, dense, BN, ReLU, dropout
    counts = [layer.n_params for layer in net.layers]
    by_hand = [3 * 1 * 4, 2 * 4, 0,            # conv without bias, gamma + beta
               3 * 4 * 4, 2 * 4, 0, 0,
               3 * 4 * 4, 2 * 4, 0, 0,
               3 * 4 * 8, 2 * 8, 0, 0,
               0, 8 * 8, 2 * 8, 0, 0]          # dense without bias
    assert counts == by_hand
    assert net.n_params == 12 + 8 + 56 + 56 + 112 + 64 + 16 == 324


def test_sample_level_res_and_rese_parameter_counts():
    # 81 samples, n_blocks=2, filters=4: widths 4, 8; the second block projects 4 -> 8.
    res = _net(sample_level(n_blocks=2, filters=4, block="res"), (27, 1))
    assert [type(x).__name__ for x in res.layers[3:7]] == [
        "ResidualBlock", "MaxPooling1D", "ResidualBlock", "MaxPooling1D"]
    assert res.layers[-1].output_shape == (8,)
    block0 = 3 * 4 * 4 + 3 * 4 * 4 + 4 * 4                 # two convs + two BNs
    block1 = 3 * 4 * 8 + 3 * 8 * 8 + 4 * 8 + 4 * 8 + 2 * 8  # + 1x1 projection and its BN
    head = 8 * 8 + 2 * 8
    assert [x.n_params for x in res.layers if isinstance(x, ResidualBlock)] == [block0, block1]
    assert res.n_params == 12 + 8 + block0 + block1 + head
    rese = _net(sample_level(n_blocks=2, filters=4, block="rese", se_ratio=2), (27, 1))
    se0 = 2 * 4 * 2 + 2 + 4   # 4 -> 2 -> 4 with biases
    se1 = 2 * 8 * 4 + 4 + 8
    assert [x.n_params for x in rese.layers if isinstance(x, ReSEBlock)] == [block0 + se0, block1 + se1]
    assert rese.n_params == res.n_params + se0 + se1


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_estimator_presets_summary_and_fit(name):
    est = CNN1DClassifier(architecture=name)
    text = est.summary(input_shape=(1, 6561), n_outputs=10)
    assert "(None, 1, 6561)" in text and "(None, 128, 1)" in text and "(None, 10)" in text
    n_blocks = {"sample_level": 0, "sample_level_res": 7, "sample_level_rese": 7}[name]
    assert text.count("Block(") == n_blocks
    with pytest.raises(ValueError, match="too short"):
        est.summary(input_shape=(1, 3000))
    # the name survives clone / get_params and trains on the shipped clips
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 6561)).astype(np.float32), np.arange(12) % 3
    fitted = clone(est).set_params(max_iter=1, batch_size=6, random_state=0).fit(X, y)
    assert fitted.get_params()["architecture"] == name
    assert fitted.predict_proba(X).shape == (12, 3)
    bns = [x for x in fitted.network_.layers if isinstance(x, BatchNormalization)]
    assert bns and not np.all(bns[0].moving_mean == 0)  # running statistics were updated


def test_unknown_preset_is_rejected():
    with pytest.raises(InvalidParameterError, match="architecture"):
        CNN1DClassifier(architecture="sample_levle").fit(np.zeros((4, 81)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="available presets"):
        get_preset("nope")


# ------------------------------------------------------------------ loader
def test_load_fsdd_fixture_official_split():
    d = load_fsdd("shipped", length=4000)
    assert d.fs == FSDD_FS == 8000
    assert d.X_train.shape == (60, 4000) and d.X_test.shape == (30, 4000)
    assert d.X_train.dtype == np.float32 and np.abs(d.X_train).max() <= 1.0
    assert set(d.take_test) == {0} and set(d.take_train) == {5, 6}  # takes 0-4 are test
    assert np.bincount(d.y_test).tolist() == [3] * 10
    assert sorted(set(d.speaker_train)) == ["jackson", "nicolas", "theo"]
    # variable-length clips when no length is given, matching the fixed ones
    raw = load_fsdd("shipped", speakers=["theo"], digits=[7])
    assert raw.X_train.dtype == object and len(raw.X_train) == 2 and len(raw.X_test) == 1
    clip = raw.X_test[0]
    assert raw.file_test[0] == "7_theo_0.wav"
    i = list(d.file_test).index("7_theo_0.wav")
    np.testing.assert_array_equal(d.X_test[i], fit_length(clip, 4000))


def test_load_fsdd_leave_one_speaker_out():
    d = load_fsdd("shipped", split="speaker", test_speaker="nicolas", length=2000)
    assert set(d.speaker_test) == {"nicolas"} and "nicolas" not in set(d.speaker_train)
    assert len(d.y_test) == 30 and len(d.y_train) == 60
    with pytest.raises(ValueError, match="test_speaker"):
        load_fsdd("shipped", split="speaker")
    with pytest.raises(FileNotFoundError):
        load_fsdd("/nonexistent/fsdd")


def test_fit_length():
    x = np.arange(10.0)
    np.testing.assert_array_equal(fit_length(x, 4), [3, 4, 5, 6])
    np.testing.assert_array_equal(fit_length(x, 4, "left"), [0, 1, 2, 3])
    np.testing.assert_array_equal(fit_length(x[:2], 5), [0, 0, 1, 0, 0])
    w = fit_length(x, 4, "random", rng=np.random.default_rng(0))
    assert np.array_equal(w, np.arange(w[0], w[0] + 4))


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


# --------------------------------------------------------------- transformers
@parametrize_with_checks([AmplitudeNormalizer(), LogMelSpectrogram(n_fft=4, hop_length=2, n_mels=2,
                                                                   fmin=0.0)])
def test_sklearn_compatible_transformer(estimator, check):
    check(estimator)


def test_amplitude_normalizer():
    X = np.random.default_rng(0).standard_normal((3, 2, 100)) * [[[2.0], [0.1]]]
    P = AmplitudeNormalizer("peak").fit_transform(X)
    np.testing.assert_allclose(np.abs(P).max(axis=-1), 1.0)
    R = AmplitudeNormalizer("rms").fit_transform(X)
    np.testing.assert_allclose(np.sqrt((R ** 2).mean(axis=-1)), 1.0)
    Z = AmplitudeNormalizer("rms").fit_transform(np.zeros((2, 10)))
    assert np.all(Z == 0)


def test_mel_scale_roundtrip_and_filterbank_peaks():
    f = np.array([0.0, 700.0, 1000.0, 4000.0])
    np.testing.assert_allclose(hz_to_mel(700.0), 2595 * np.log10(2))
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(f)), f, atol=1e-9)
    fs, n_fft, n_mels = 8000, 2048, 20
    W = mel_filterbank(fs, n_fft, n_mels, fmin=50.0, fmax=3900.0)
    assert W.shape == (n_mels, n_fft // 2 + 1)
    centres = mel_to_hz(np.linspace(hz_to_mel(50.0), hz_to_mel(3900.0), n_mels + 2))[1:-1]
    bin_hz = fs / n_fft
    peaks = W.argmax(axis=1) * bin_hz
    assert np.all(np.abs(peaks - centres) < bin_hz)   # peak at the bin next to the centre
    assert np.all(W.max(axis=1) > 1 - bin_hz / np.diff(centres).min())
    assert W.max() <= 1.0 and W.min() >= 0.0
    # centres are equally spaced in mel, not in Hz
    np.testing.assert_allclose(np.diff(hz_to_mel(centres)), np.diff(hz_to_mel(centres))[0])
    # neighbouring triangles cross at 0.5 when sampled at their crossing; together they cover the band
    freqs = np.arange(n_fft // 2 + 1) * bin_hz
    inside = (freqs > centres[0]) & (freqs < centres[-1])
    np.testing.assert_allclose(W[:, inside].sum(axis=0), 1.0, atol=1e-9)
    S = mel_filterbank(fs, n_fft, n_mels, fmin=50.0, fmax=3900.0, norm="slaney")
    np.testing.assert_allclose((S * bin_hz).sum(axis=1), 1.0, rtol=0.02)  # unit area
    with pytest.raises(ValueError, match="fmax"):
        mel_filterbank(fs, n_fft, fmax=5000.0)


@pytest.mark.parametrize("center", [True, False])
def test_log_mel_matches_direct_computation(center):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 1000))
    tr = LogMelSpectrogram(fs=8000, n_fft=200, hop_length=80, n_mels=24, fmin=20.0, center=center)
    out = tr.fit_transform(x)
    # direct: frame by frame, periodic Hann window, |rfft|**2, filterbank, log
    xp = np.pad(x, [(0, 0), (100, 100)]) if center else x
    n_frames = 1 + (xp.shape[1] - 200) // 80
    assert out.shape == (2, 24, n_frames)
    assert n_frames == (1 + 1000 // 80 if center else 1 + (1000 - 200) // 80)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(200) / 200)
    W = mel_filterbank(8000, 200, 24, fmin=20.0)
    direct = np.empty_like(out)
    for i in range(2):
        for t in range(n_frames):
            frame = xp[i, t * 80: t * 80 + 200]
            power = np.abs(np.fft.rfft(w * frame)) ** 2
            direct[i, :, t] = np.log(W @ power + 1e-6)
    np.testing.assert_allclose(out, direct, rtol=1e-9, atol=1e-9)


def test_log_mel_shapes_and_pure_tone():
    fs = 8000
    t = np.arange(4000) / fs
    X = np.stack([np.sin(2 * np.pi * 1000 * t), np.sin(2 * np.pi * 300 * t)])[:, None, :]
    tr = LogMelSpectrogram(fs=fs, n_mels=32)
    out = tr.fit_transform(X.astype(np.float32))
    assert out.shape == (2, 32, 1 + 4000 // 80) and out.dtype == np.float32
    centres = mel_to_hz(np.linspace(hz_to_mel(20.0), hz_to_mel(4000.0), 34))[1:-1]
    for i, f0 in enumerate((1000, 300)):
        band = out[i, :, 10:-10].mean(axis=1).argmax()
        assert abs(centres[band] - f0) < 100
    two = LogMelSpectrogram(fs=fs, n_mels=8).fit_transform(np.concatenate([X, X], axis=1))
    assert two.shape == (2, 16, 51)
    np.testing.assert_allclose(two[:, :8], two[:, 8:])
    with pytest.raises(ValueError, match="too short"):
        LogMelSpectrogram(n_fft=256, center=False).fit(np.zeros((2, 100)))


def test_waveform_and_spectrogram_front_ends_feed_the_same_cnn():
    d = load_fsdd("shipped", length=6561, digits=[0, 1])
    mel = LogMelSpectrogram(fs=8000, n_mels=20).fit_transform(d.X_train)
    assert mel.shape == (12, 20, 83)
    clf = CNN1DClassifier(filters=(8,), kernel_size=3, hidden_layer_sizes=(8,), max_iter=2,
                          random_state=0).fit(mel, d.y_train)
    assert clf.n_channels_in_ == 20 and clf.n_timepoints_in_ == 83


# ------------------------------------------------------------- the workflow
@pytest.fixture(scope="module")
def quick_audio(tmp_path_factory):
    """``python -m pipelines audio --quick`` and the tagging run in a fresh directory and store."""
    pytest.importorskip("mlflow")
    pytest.importorskip("yaml")
    import contextlib
    import io
    import os

    from pipelines.__main__ import main
    from pipelines.audio import run_audio_tagging
    from pipelines.config import DEFAULT_CONFIG

    tmp = tmp_path_factory.mktemp("audio_quick")
    stdout = io.StringIO()
    cwd = os.getcwd()
    os.chdir(tmp)  # tracking_uri null -> sqlite:///<cwd>/mlflow.db; artifacts in <cwd>/mlartifacts
    try:
        with contextlib.redirect_stdout(stdout):
            rc = main(["audio", "--quick", "--config", str(DEFAULT_CONFIG),
                       "--experiment-name", "test-audio"])
            tagging = run_audio_tagging(str(DEFAULT_CONFIG), quick=True, overrides={
                "experiment_name": "test-audio", "log_model": False, "front_ends": ["mel"],
                "tagging": {"n_train": 60, "n_test": 40, "gain_db": 6.0}})
    finally:
        os.chdir(cwd)
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("test-audio")
    runs = client.search_runs([exp.experiment_id])
    return {"rc": rc, "out": stdout.getvalue(), "tagging": tagging, "client": client, "uri": uri,
            "parents": {r.data.tags["sk1dcnn.workflow"]: r for r in runs
                        if "mlflow.parentRunId" not in r.data.tags},
            "children": [r for r in runs if "mlflow.parentRunId" in r.data.tags]}


def test_quick_audio_run_is_tracked(quick_audio):
    assert quick_audio["rc"] == 0
    assert "official test accuracy" in quick_audio["out"]
    parent = quick_audio["parents"]["audio"]
    m = parent.data.metrics
    for key in ("test_accuracy", "loso_mean_accuracy", "loso_accuracy_theo", "best_cv_accuracy",
                "epoch_time_s", "wall_time_s"):
        assert key in m, key
    assert 0.0 <= m["test_accuracy"] <= 1.0
    assert parent.data.params["best_front_end"] in ("raw", "mel")
    assert parent.data.tags["sk1dcnn.quick"] == "true"
    # one child run per front end of the grid
    kids = [r for r in quick_audio["children"] if r.data.tags["mlflow.parentRunId"] == parent.info.run_id]
    assert len(kids) == 2 and all("cv_mean_score" in r.data.metrics for r in kids)
    client = quick_audio["client"]
    assert len(client.get_metric_history(parent.info.run_id, "train_loss")) == 3  # per epoch
    names = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"loss_curve.png", "confusion_matrix.png", "classification_report.txt",
            "model_summary.txt"} <= names


def test_quick_audio_model_loads_with_pyfunc(quick_audio):
    import mlflow

    parent = quick_audio["parents"]["audio"]
    mlflow.set_tracking_uri(quick_audio["uri"])
    model = mlflow.pyfunc.load_model(parent.data.tags["sk1dcnn.model_uri"])
    X = load_fsdd("shipped", length=6561, digits=[3]).X_test
    assert model.predict(X).shape == (3, 10)


def test_quick_audio_tagging_run(quick_audio):
    res = quick_audio["tagging"]
    parent = quick_audio["parents"]["audio-tagging"]
    assert parent.info.run_id == res["run_id"]
    m = parent.data.metrics
    assert 0.0 <= m["test_mean_roc_auc"] <= 1.0
    assert "test_roc_auc_digit_0" in m and "test_roc_auc_speaker_theo" in m
    names = {a.path for a in quick_audio["client"].list_artifacts(parent.info.run_id)}
    assert "per_tag_auc.png" in names


def test_audio_config_rejects_unknown_settings():
    pytest.importorskip("yaml")
    from pipelines.audio import audio_config

    with pytest.raises(ValueError, match="unknown audio settings"):
        audio_config(quick=True, overrides={"lenght": 100})
    with pytest.raises(ValueError, match="front_ends"):
        audio_config(quick=True, overrides={"front_ends": ["cqt"]})
