"""The plots of every workflow, one function per plot (PNG files, matplotlib's Agg backend)."""

import numpy as np

__all__ = ["CONFUSION_COLOUR", "class_relevance_figure", "confusion_matrix_figure", "plot_class_relevance",
           "plot_confusion_matrix", "plot_loss_curve", "plot_per_tag_auc", "relevance_caption"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_loss_curve(history, title, path):
    """Training (and validation, when recorded) loss per epoch from an estimator's ``history_``.

    Parameters
    ----------
    history : list of dict
        ``history_`` records with ``epoch``, ``train_loss`` and optionally ``valid_loss``.
    title : str
    path : path-like
        The PNG written.

    Raises
    ------
    ValueError
        ``history`` is empty (an estimator that was never fitted).
    """
    if not history:
        raise ValueError(f"plot_loss_curve({title!r}): the history is empty; pass the history_ of a "
                         "fitted estimator")
    plt = _pyplot()
    epochs = [r["epoch"] for r in history]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot(epochs, [r["train_loss"] for r in history], marker="o", label="train loss")
    valid = [r.get("valid_loss") for r in history]
    if any(v is not None and np.isfinite(v) for v in valid):
        ax.plot(epochs, [np.nan if v is None else v for v in valid], marker="o", label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


#: What the colour of a confusion-matrix cell encodes (its colorbar's label).
CONFUSION_COLOUR = "share of the true class's samples (row-normalised)"


def confusion_matrix_figure(cm, labels, title, xlabel="predicted", ylabel="true"):
    """The confusion-matrix figure: counts and row shares in the cells, colour by row share.

    Each cell shows its count and, below it, its share of the row (the true
    class); the colour encodes that share, as the colorbar's label says, so a
    rare class's cells are as dark as a common one's when it is as often
    confused. :func:`plot_confusion_matrix` writes it as a PNG.

    Parameters
    ----------
    cm : array-like of shape (n_labels, n_labels)
        Rows are true classes, columns predicted ones.
    labels : list
    title : str
    xlabel, ylabel : str

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        ``cm`` is not square with one row per label.
    """
    cm = np.asarray(cm)
    n = len(labels)
    if cm.shape != (n, n):
        raise ValueError(f"plot_confusion_matrix({title!r}): a confusion matrix of shape {cm.shape} for "
                         f"{n} labels {list(labels)}; it must be ({n}, {n}), rows and columns in the "
                         "order of labels")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(min(1.2 * n + 3.7, 9.2), min(1.1 * n + 2, 7)), dpi=100)
    row_sum = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, row_sum, out=np.zeros(cm.shape, float), where=row_sum > 0)
    image = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{cm[i, j]}\n{frac[i, j]:.0%}", ha="center", va="center",
                    fontsize=7 if n > 6 else 10, color="white" if frac[i, j] > 0.5 else "black")
    colorbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    colorbar.set_label(CONFUSION_COLOUR)
    colorbar.ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_xticks(range(n), [str(c) for c in labels])
    ax.set_yticks(range(n), [str(c) for c in labels])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(cm, labels, title, path, xlabel="predicted", ylabel="true"):
    """Confusion-matrix PNG (:func:`confusion_matrix_figure`): counts and row shares in the
    cells, colour by the row's share, with a colorbar that says so.

    Parameters
    ----------
    cm : array-like of shape (n_labels, n_labels)
        Rows are true classes, columns predicted ones.
    labels : list
    title : str
    path : path-like
    xlabel, ylabel : str

    Raises
    ------
    ValueError
        ``cm`` is not square with one row per label.
    """
    fig = confusion_matrix_figure(cm, labels, title, xlabel, ylabel)
    fig.savefig(path)
    _pyplot().close(fig)


def plot_per_tag_auc(aucs, title, path):
    """Bar chart of ROC-AUC per tag with the mean as a dashed line.

    Parameters
    ----------
    aucs : dict
        Tag -> ROC-AUC.
    title : str
    path : path-like

    Raises
    ------
    ValueError
        ``aucs`` is empty.
    """
    if not aucs:
        raise ValueError(f"plot_per_tag_auc({title!r}): no tag has a ROC-AUC (each tag needs positive "
                         "and negative test examples)")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    ax.bar(range(len(aucs)), list(aucs.values()), color="tab:blue")
    ax.set_xticks(range(len(aucs)), list(aucs), rotation=60, ha="right", fontsize=8)
    ax.set_ylim(0.5, 1.0)
    ax.axhline(float(np.mean(list(aucs.values()))), color="k", ls="--", lw=1, label="mean")
    ax.set_ylabel("ROC-AUC")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def relevance_caption(label, method="gradient*input", static=None):
    """What the colours of a relevance figure mean (its caption).

    ``static``: None (no static features), ``"zero"`` or ``"mean"`` (the
    reference their relevance is taken against: zero, or the training beats' mean).
    """
    what = "gradient \u00d7 input" if method == "gradient*input" else method
    text = (f"Colour on the beat and lower panel: mean {what} of the output (logit) of class {label} "
            f"at each sample.\nRed raises the score of {label}, blue lowers it, white: no effect. "
            "Grey band: \u00b11 SD of the beats.")
    if static == "mean":
        text += "\nBars: the same for the features beside the beat, against their mean over the training beats."
    elif static == "zero":
        text += "\nBars: the same for the features beside the beat."
    return text


def class_relevance_figure(entry, label, title):
    """The average beat of one class, coloured by where the network looks for that class.

    Top: the mean beat, its line coloured by the mean relevance (a diverging
    map centred on 0, with a colorbar) over a grey band of +-1 standard
    deviation of the beats. Below, on the same x axis: the mean relevance as a
    filled curve. With static features (the RR intervals), a panel on the
    right gives their mean relevance (red or blue by sign, on its own axis) and
    their share of the total absolute relevance. The caption under the figure
    says what the colours mean. :func:`plot_class_relevance` writes it as a PNG.

    Parameters
    ----------
    entry : pipelines._relevance.ClassRelevance
    label : class label
    title : str
        The first line of the title; the number of beats averaged and the
        method are added.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        The beat, its relevance and the time axis differ in length, or no beat was averaged.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize

    beat, rel, t = (np.asarray(a, dtype=float) for a in (entry.beat, entry.relevance, entry.time))
    if not (beat.shape == rel.shape == t.shape and beat.ndim == 1):
        raise ValueError(f"plot_class_relevance({title!r}): the beat {beat.shape}, its relevance "
                         f"{rel.shape} and the time axis {t.shape} must be 1-D of one length")
    if entry.n_beats < 1:
        raise ValueError(f"plot_class_relevance({title!r}): no beat was averaged (n_beats=0)")
    plt = _pyplot()
    static = dict(entry.static or {})
    vmax = float(np.max(np.abs(rel))) or 1.0
    norm, cmap = Normalize(-vmax, vmax), plt.get_cmap("RdBu_r")
    red, blue = cmap(0.85), cmap(0.15)

    fig = plt.figure(figsize=(10, 6) if static else (8, 6), dpi=100, layout="constrained")
    grid = fig.add_gridspec(2, 2 if static else 1, height_ratios=(3, 1.4),
                            width_ratios=(4, 1.2) if static else None)
    ax = fig.add_subplot(grid[0, 0])
    axr = fig.add_subplot(grid[1, 0], sharex=ax)
    sd = np.asarray(entry.beat_std, dtype=float)
    ax.fill_between(t, beat - sd, beat + sd, color="0.88", lw=0)
    ax.plot(t, beat, color="k", lw=5.5, solid_capstyle="round")  # outline: pale segments stay visible
    points = np.column_stack([t, beat])
    line = LineCollection(np.stack([points[:-1], points[1:]], axis=1), cmap=cmap, norm=norm, linewidths=4,
                          capstyle="round")
    line.set_array(0.5 * (rel[:-1] + rel[1:]))
    ax.add_collection(line)
    ax.set_xlim(t[0], t[-1])
    ax.set_ylabel("mean beat (preprocessed)")
    ax.tick_params(labelbottom=False)
    colorbar = fig.colorbar(line, ax=[ax, axr], fraction=0.05, pad=0.01)
    colorbar.set_label(f"relevance for {label} (per sample)")
    axr.fill_between(t, 0, rel, where=rel >= 0, color=red, interpolate=True)
    axr.fill_between(t, 0, rel, where=rel < 0, color=blue, interpolate=True)
    axr.axhline(0, color="k", lw=0.6)
    axr.set_ylabel("relevance")
    if entry.time_unit == "s":
        axr.set_xlabel("time from the R peak (s)")
        for a in (ax, axr):
            a.axvline(0, color="0.4", lw=0.8, ls="--")
        ax.text(0, 0.98, " R peak", transform=ax.get_xaxis_transform(), va="top", fontsize=8, color="0.3")
    else:
        axr.set_xlabel("sample")
    if static:
        axs = fig.add_subplot(grid[:, 1])
        names, values = list(static), np.array(list(static.values()), dtype=float)
        axs.barh(range(len(names)), values, color=[red if v >= 0 else blue for v in values])
        axs.set_yticks(range(len(names)), names, fontsize=8)
        axs.invert_yaxis()
        axs.axvline(0, color="k", lw=0.6)
        lim = 1.1 * (float(np.max(np.abs(values))) or 1.0)
        axs.set_xlim(-lim, lim)
        axs.set_xlabel("relevance (per feature)")
        total = np.sum(np.abs(rel)) + np.sum(np.abs(values))
        share = np.sum(np.abs(values)) / total if total > 0 else 0.0
        axs.set_title(f"features beside the beat:\n{share:.0%} of the total |relevance|", fontsize=9)
    what = "gradient \u00d7 input" if entry.method == "gradient*input" else entry.method
    if entry.correct_only:
        beats = f"mean of {entry.n_beats} correctly classified test beats (of {entry.n_class})"
    else:
        beats = f"mean of {entry.n_beats} test beats (of {entry.n_class}; none classified correctly)"
    fig.suptitle(f"{title}: class {label}\n{beats}; relevance: {what}", fontsize=11)
    kind = None if not static else "mean" if getattr(entry, "static_reference", None) else "zero"
    fig.supxlabel(relevance_caption(label, entry.method, kind), fontsize=8.5, color="0.25")
    return fig


def plot_class_relevance(entry, label, title, path):
    """PNG of :func:`class_relevance_figure`: one class's average beat and its relevance.

    Parameters
    ----------
    entry : pipelines._relevance.ClassRelevance
    label : class label
    title : str
    path : path-like

    Raises
    ------
    ValueError
        The beat, its relevance and the time axis differ in length, or no beat was averaged.
    """
    fig = class_relevance_figure(entry, label, title)
    fig.savefig(path)
    _pyplot().close(fig)
