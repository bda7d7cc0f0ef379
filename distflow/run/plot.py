"""The loss curves of a run as a PNG (matplotlib, imported only when a plot is drawn)."""


def plot_history(history, path, title="distflow training"):
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
    ax.plot(epochs, train, label="train loss (MSE)", color="#1f77b4")
    if test:
        ax.plot([e for e, _ in test], [v for _, v in test], label="test loss (MSE)", color="#d62728")
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
