"""The sample-level presets (sk1dcnn.presets) and the audio workflow (pipelines.audio).

The tests of the sk1dcnn.audio package are in tests/audio/.
"""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from sk1dcnn import CNN1DClassifier
from sk1dcnn.audio import load_fsdd
from sk1dcnn.nn.blocks import BatchNormalization, ReSEBlock, ResidualBlock
from sk1dcnn.nn.network import Sequential, make_layer
from sk1dcnn.presets import PRESETS, get_preset, sample_level, sample_level_filters


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
