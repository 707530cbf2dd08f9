"""pipelines/_plots.py: one function per plot, each writing a PNG of its figure's size, and a
clear error for inputs that do not fit together."""

import re

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from pipelines._plots import (  # noqa: E402
    CONFUSION_COLOUR,
    class_relevance_figure,
    confusion_matrix_figure,
    plot_class_relevance,
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


def _entry(static=None, correct_only=True, unit="s", n=90):
    from pipelines._relevance import ClassRelevance

    t = np.arange(n) / 180 - 0.25
    beat = np.exp(-0.5 * (t / 0.01) ** 2)
    return ClassRelevance(beat=beat, beat_std=0.1 + 0 * t, relevance=np.sin(20 * t), n_beats=12, n_class=20,
                          n_correct=12 if correct_only else 0, correct_only=correct_only, time=t,
                          time_unit=unit, static=static or {},
                          static_reference={k: 0.8 for k in static} if static else {})


def test_class_relevance_colours_the_beat_by_its_relevance(tmp_path):
    import matplotlib.pyplot as plt

    e = _entry()
    fig = class_relevance_figure(e, "V", "mitdb:x")
    ax, axr, cax = fig.axes
    assert "class V" in fig._suptitle.get_text() and "mean of 12 correctly classified test beats (of 20)" \
        in fig._suptitle.get_text() and "gradient \u00d7 input" in fig._suptitle.get_text()
    caption = fig._supxlabel.get_text()
    assert "Red raises the score of V, blue lowers it" in caption and "Bars" not in caption
    assert axr.get_xlabel() == "time from the R peak (s)" and cax.get_ylabel() == "relevance for V (per sample)"
    line = ax.collections[-1]  # one segment per pair of samples, coloured by their mean relevance
    np.testing.assert_allclose(line.get_array(), 0.5 * (e.relevance[:-1] + e.relevance[1:]))
    assert line.norm.vmin == -line.norm.vmax == -np.max(np.abs(e.relevance))  # white is 0
    plt.close(fig)
    # no correct beat: the title says all beats are averaged; samples on the x axis
    fig = class_relevance_figure(_entry(correct_only=False, unit="sample"), "S", "t")
    assert "none classified correctly" in fig._suptitle.get_text()
    assert fig.axes[1].get_xlabel() == "sample"
    plt.close(fig)
    # static features: a panel of bars, and the caption says what they are taken against
    fig = class_relevance_figure(_entry(static={"pre_rr": 2.0, "post_rr": -1.0}), "S", "t")
    axs = fig.axes[-1]  # after the beat, its relevance and the colorbar
    assert [t.get_text() for t in axs.get_yticklabels()] == ["pre_rr", "post_rr"]
    assert [p.get_width() for p in axs.patches] == [2.0, -1.0]
    share = 3.0 / (3.0 + np.sum(np.abs(_entry().relevance)))
    assert f"{share:.0%} of the total |relevance|" in axs.get_title()
    assert "against their mean over the training beats" in fig._supxlabel.get_text()
    plt.close(fig)
    plot_class_relevance(e, "V", "t", tmp_path / "rel.png")
    assert _read_png(tmp_path / "rel.png").shape[:2] == (600, 800)  # figsize (8, 6) at 100 dpi
    plot_class_relevance(_entry(static={"a": 1.0}), "V", "t", tmp_path / "rel_static.png")
    assert _read_png(tmp_path / "rel_static.png").shape[:2] == (600, 1000)


def test_inputs_that_do_not_fit_are_refused_before_drawing(tmp_path):
    with pytest.raises(ValueError, match=r"confusion matrix of shape \(3, 3\) for 2 labels \['N', 'V'\]"):
        plot_confusion_matrix(np.eye(3, dtype=int), ["N", "V"], "t", tmp_path / "cm.png")
    with pytest.raises(ValueError, match=r"must be \(2, 2\)"):
        plot_confusion_matrix(np.array([1, 2]), ["N", "V"], "t", tmp_path / "cm.png")
    with pytest.raises(ValueError, match="history is empty"):
        plot_loss_curve([], "t", tmp_path / "loss.png")
    with pytest.raises(ValueError, match="no tag has a ROC-AUC"):
        plot_per_tag_auc({}, "t", tmp_path / "auc.png")
    from dataclasses import replace

    e = _entry()
    with pytest.raises(ValueError, match=re.escape(
            "plot_class_relevance('t'): the beat (90,), its relevance (89,) and the time axis (90,) "
            "must be 1-D of one length")):
        plot_class_relevance(replace(e, relevance=e.relevance[1:]), "V", "t", tmp_path / "r.png")
    with pytest.raises(ValueError, match=re.escape("plot_class_relevance('t'): no beat was averaged")):
        plot_class_relevance(replace(e, n_beats=0), "V", "t", tmp_path / "r.png")
    assert list(tmp_path.iterdir()) == []


def test_the_workflows_use_these_helpers():
    """One helper per plot: no workflow keeps its own copy."""
    import pipelines._report as report
    import pipelines.audio as audio

    assert report.plot_loss_curve is plot_loss_curve and report.plot_confusion_matrix is plot_confusion_matrix
    assert not hasattr(audio, "_plot_history")
