"""The plots of every workflow, one function per plot (PNG files, matplotlib's Agg backend)."""

import numpy as np

__all__ = ["CONFUSION_COLOUR", "confusion_matrix_figure", "plot_confusion_matrix", "plot_loss_curve",
           "plot_per_tag_auc"]


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
