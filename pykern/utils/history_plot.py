"""plot_history: training curves from fit's History, one panel per metric."""
import math
import os

import numpy as np

__all__ = ["plot_history"]

_MISSING = ("plot_history needs matplotlib: pip install \"pykern[viz]\" (or pip install "
            "matplotlib)")


def _logs(history):
    """(epochs, {key: values}) from a History or a plain dict of lists."""
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict) or not logs:
        raise ValueError(f"plot_history: expected a History (from fit) or a dict of "
                         f"per-epoch lists, got {history!r}")
    n = max(len(v) for v in logs.values())
    epochs = list(getattr(history, "epoch", None) or range(n))
    if len(epochs) != n:
        epochs = list(range(n))
    return [e + 1 for e in epochs], logs


def _metric_names(logs, metrics):
    logs = {k: v for k, v in logs.items() if all(np.ndim(x) == 0 for x in v)}  # curves only
    names = [k for k in logs if not k.startswith("val_")]
    names += [k[4:] for k in logs if k.startswith("val_") and k[4:] not in logs]
    if metrics is None:
        return sorted(names, key=lambda k: (k != "loss", names.index(k)))
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    unknown = [m for m in metrics if m not in names]
    if unknown:
        raise ValueError(f"plot_history: no curves for {unknown}; the history has "
                         f"{sorted(logs)}")
    return metrics


def plot_history(history, to_file=None, metrics=None):
    """Draws loss and metric curves against the (1-based) epoch: one panel per
    metric (`metrics`, default every logged name with 'loss' first), the training
    curve and, where logged, the validation one (val_<name>).

    Drawn on a matplotlib Figure with the Agg canvas (no pyplot state, no
    display needed). Returns the Figure; with `to_file`, also writes it (format
    from the extension, png by default) to a temporary file renamed over the
    target, so a reader never sees a half-written image.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise ImportError(_MISSING) from None
    epochs, logs = _logs(history)
    names = _metric_names(logs, metrics)
    cols = min(len(names), 3)
    rows = math.ceil(len(names) / cols)
    fig = Figure(figsize=(4.8 * cols, 3.6 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, name in zip(axes, names):
        for key, label, style in ((name, "train", "-o"), (f"val_{name}", "validation", "--s")):
            values = logs.get(key)
            if values is not None:
                ax.plot(epochs[:len(values)], [float(v) for v in values], style, label=label,
                        markersize=3)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.legend()
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    for ax in axes[len(names):]:
        ax.set_visible(False)
    if to_file is not None:
        _save(fig, os.fspath(to_file))
    return fig


def _save(fig, path):
    from pykern.saving.atomic import atomic_path
    extension = os.path.splitext(path)[1][1:].lower() or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=extension, dpi=100)
