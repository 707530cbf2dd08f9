"""pipelines/_report.py and pipelines/_plots.py: the printed tables and the plot files."""

from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("matplotlib")


def test_one_plot_helper_per_plot(tmp_path):
    from pipelines._plots import plot_confusion_matrix, plot_loss_curve, plot_per_tag_auc

    history = [{"epoch": 1, "train_loss": 1.0, "valid_loss": None},
               {"epoch": 2, "train_loss": 0.5, "valid_loss": 0.7}]
    plot_loss_curve(history, "t", tmp_path / "loss.png")
    plot_confusion_matrix(np.array([[3, 1], [0, 2]]), ["N", "V"], "t", tmp_path / "cm.png")
    plot_per_tag_auc({"digit_0": 0.9, "speaker_theo": 0.8}, "t", tmp_path / "auc.png")
    for name in ("loss.png", "cm.png", "auc.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the workflows use these helpers, not their own copies
    import pipelines._report as report
    import pipelines.audio as audio

    assert report.plot_loss_curve is plot_loss_curve and report.plot_confusion_matrix is plot_confusion_matrix
    assert not hasattr(audio, "_plot_history")


def test_refit_params_are_json_or_repr():
    from sklearn.pipeline import Pipeline

    from pipelines._report import refit_params
    from sk1dcnn import CNN1DClassifier
    from sk1dcnn.preprocessing import SeriesStandardScaler

    inner = Pipeline([("standardize", SeriesStandardScaler())])
    pipe = Pipeline([("frontend", inner), ("cnn", CNN1DClassifier(filters=(4, 8)))])
    params = refit_params(pipe)
    assert params["cnn__filters"] == (4, 8)
    assert isinstance(params["frontend__steps"], str)  # not JSON: its repr


def test_result_table_names_where_things_went():
    from pipelines._report import Logged, result_table

    m = {"accuracy": 0.9, "balanced_accuracy": 0.8, "f1_macro": 0.7, "se_N": 0.95, "ppv_N": 0.9,
         "support_N": 10}
    result = SimpleNamespace(
        metrics=m, labels=["N"], seed_rows=[(0, m)], seed_summary={},
        cv_results={"rank_test_score": np.array([1]), "mean_test_score": np.array([0.8]),
                    "std_test_score": np.array([0.01]), "params": [{"cnn__kernel_size": 5}]},
        data=SimpleNamespace(name="ucr:ECG200"))
    cfg = {"tracking": {"experiment": "sk1dcnn-ecg"}}
    logged = Logged("r1", "1", "sqlite:///x/mlflow.db", "models:/m-1", wall_time_s=3.0)
    text = result_table(cfg, result, logged, "/x/model.skops")
    assert "accuracy 0.900" in text and "kernel_size=5" in text
    assert "MLflow: run r1 (experiment 'sk1dcnn-ecg', id 1)" in text
    assert "models:/m-1" in text and "/x/model.skops" in text and "sk1dcnn.persistence.load" in text
    assert "mlflow ui --backend-store-uri sqlite:///x/mlflow.db" in text
