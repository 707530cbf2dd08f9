"""pipelines/_plots.py: one function per plot, each writing a PNG of its figure's size, and a
clear error for inputs that do not fit together."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from pipelines._plots import (  # noqa: E402
    CONFUSION_COLOUR,
    confusion_matrix_figure,
    plot_confusion_matrix,
    plot_loss_curve,
    plot_per_tag_auc,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _read_png(path):
    """The image as (height, width, channels), after checking the file is a non-empty PNG."""
    from matplotlib.image import imread

    data = path.read_bytes()
    assert len(data) > 1000 and data[:8] == PNG_SIGNATURE
    return imread(path)


def test_loss_curve(tmp_path):
    history = [{"epoch": 1, "train_loss": 1.0, "valid_loss": None},
               {"epoch": 2, "train_loss": 0.5, "valid_loss": 0.7}]
    plot_loss_curve(history, "t", tmp_path / "loss.png")
    img = _read_png(tmp_path / "loss.png")
    assert img.shape[:2] == (400, 600)  # figsize (6, 4) at 100 dpi
    # not a blank canvas: the curves and labels are drawn
    assert img[..., :3].std() > 0.05


def test_confusion_matrix(tmp_path):
    plot_confusion_matrix(np.array([[3, 1], [0, 2]]), ["N", "V"], "t", tmp_path / "cm.png")
    img = _read_png(tmp_path / "cm.png")
    assert img.shape[:2] == (420, 610)  # figsize (1.2 * 2 + 3.7, 1.1 * 2 + 2) at 100 dpi
    # ten classes: the figure grows, up to its cap
    cm = np.arange(100).reshape(10, 10)
    plot_confusion_matrix(cm, list(range(10)), "t", tmp_path / "cm10.png", xlabel="p", ylabel="t")
    assert _read_png(tmp_path / "cm10.png").shape[:2] == (700, 920)


def test_confusion_matrix_cells_show_counts_and_the_colorbar_says_what_colour_means():
    import matplotlib.pyplot as plt

    # 812 N->N of 1000 N beats is a lighter share (81%) than 220 S->N of 250 S beats (88%)
    cm = np.array([[812, 188], [220, 30]])
    fig = confusion_matrix_figure(cm, ["N", "S"], "t")
    ax, cax = fig.axes
    assert sorted(t.get_text() for t in ax.texts) == sorted(["812\n81%", "188\n19%", "220\n88%",
                                                               "30\n12%"])
    assert cax.get_ylabel() == CONFUSION_COLOUR == "share of the true class's samples (row-normalised)"
    colours = ax.images[0].get_array()
    assert colours[1, 0] > colours[0, 0]  # the colour follows the share, not the count
    np.testing.assert_allclose(colours, cm / cm.sum(axis=1, keepdims=True))
    plt.close(fig)


def test_per_tag_auc(tmp_path):
    plot_per_tag_auc({"digit_0": 0.9, "speaker_theo": 0.8}, "t", tmp_path / "auc.png")
    assert _read_png(tmp_path / "auc.png").shape[:2] == (400, 800)


def test_inputs_that_do_not_fit_are_refused_before_drawing(tmp_path):
    with pytest.raises(ValueError, match=r"confusion matrix of shape \(3, 3\) for 2 labels \['N', 'V'\]"):
        plot_confusion_matrix(np.eye(3, dtype=int), ["N", "V"], "t", tmp_path / "cm.png")
    with pytest.raises(ValueError, match=r"must be \(2, 2\)"):
        plot_confusion_matrix(np.array([1, 2]), ["N", "V"], "t", tmp_path / "cm.png")
    with pytest.raises(ValueError, match="history is empty"):
        plot_loss_curve([], "t", tmp_path / "loss.png")
    with pytest.raises(ValueError, match="no tag has a ROC-AUC"):
        plot_per_tag_auc({}, "t", tmp_path / "auc.png")
    assert list(tmp_path.iterdir()) == []


def test_the_workflows_use_these_helpers():
    """One helper per plot: no workflow keeps its own copy."""
    import pipelines._report as report
    import pipelines.audio as audio

    assert report.plot_loss_curve is plot_loss_curve and report.plot_confusion_matrix is plot_confusion_matrix
    assert not hasattr(audio, "_plot_history")
