"""The loss curves of a run as a PNG (matplotlib, imported only when a plot is drawn)."""


def plot_history(history, path, title="distflow training", loss_name="MSE"):
    """Draws train and test loss per epoch from metrics.jsonl records; returns the path."""
    # A Figure with its own Agg canvas, not pyplot: the caller's backend and open figures stay
    # as they were (a notebook calling distflow.run.train keeps drawing inline).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    epochs = [r["epoch"] for r in history if "train_loss" in r]
    train = [r["train_loss"] for r in history if "train_loss" in r]
    test = [(r["epoch"], r["test_loss"]) for r in history if r.get("test_loss") is not None]
    fig = Figure(figsize=(7, 4.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(epochs, train, label="train loss (%s)" % loss_name, color="#1f77b4")
    if test:
        ax.plot([e for e, _ in test], [v for _, v in test], label="test loss (%s)" % loss_name, color="#d62728")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if train and min(train) > 0 and max(train) / max(min(train), 1e-12) > 50:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_confusion(matrix, path, title="distflow: confusion matrix", class_names=None):
    """Draws a confusion matrix (rows: true class, columns: predicted class) with its counts;
    returns the path. A Figure of its own with the Agg canvas: no pyplot, no global backend, so
    the caller's matplotlib setup is left as it was."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts = np.asarray(matrix, dtype=np.int64)
    k = counts.shape[0]
    names = [str(c) for c in (class_names or range(k))]
    fig = Figure(figsize=(1.2 + 0.5 * k, 1.0 + 0.5 * k), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(counts, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels(names)
    ax.set_yticklabels(names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title, fontsize=8)
    dark = counts.max() / 2.0 if counts.size else 0
    for i in range(k):
        for j in range(k):
            if counts[i, j]:
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if counts[i, j] > dark else "black")
    fig.tight_layout()
    fig.savefig(path)
    return path
