"""model.summary() in Keras 3's layout: a box-drawn table (Layer (type) | Output
Shape | Param # [| Connected to]) whose column widths follow Keras' positions
and rich's even shrinking of padded columns, then the parameter totals."""
import re
import shutil
import textwrap

import numpy as np

__all__ = ["print_summary", "readable_memory_size"]


def readable_memory_size(size_bytes):
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size_bytes / 1024 < 1:
            return f"{size_bytes:.2f} {unit}"
        size_bytes /= 1024
    return f"{size_bytes:.2f} PB"


def _count(weights):
    unique = {id(w): w for w in weights}.values()
    return int(sum(int(np.prod(w.shape)) for w in unique))


def _bytes(weights):
    """Memory of the variables at their own dtypes (an int64 counter is 8 bytes),
    as Keras' footer sizes them."""
    unique = {id(w): w for w in weights}.values()
    return int(sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in unique))


def _format_shape(layer):
    """The output shape of the layer's last symbolic call, else the shape computed
    from the input it was built on (Keras' two sources), else '?'."""
    if layer._inbound_nodes:
        shapes = [t.shape for t in layer._inbound_nodes[-1].flat_outputs]
    elif layer._build_shape is not None:
        from pykern.layers.layer import _is_shape
        try:
            out = layer.compute_output_shape(layer._build_shape)
        except (ValueError, TypeError):
            return "?"
        shapes = [out] if _is_shape(out) else list(
            out.values() if isinstance(out, dict) else out)
    else:
        return "?"
    texts = ["(" + ", ".join(str(d) for d in s) + ")" for s in shapes]
    return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"


def _params(layer):
    if not layer.built:
        return "0 (unbuilt)"
    return f"{layer.count_params():,}"


def _connections(layer, relevant):
    parts = []
    for node in layer._inbound_nodes:
        if relevant is not None and not any(node is r for r in relevant):
            continue
        for t in node.flat_inputs:
            inbound, node_index, tensor_index = t._keras_history
            parts.append(f"{inbound.name}[{node_index}][{tensor_index}]")
    return ", ".join(parts) or "-"


def _shrink(widths, available):
    """rich's ratio_reduce with equal ratios: the excess is taken evenly, rounding
    as Python's round() does, column by column."""
    excess = sum(widths) - available
    if excess <= 0:
        return widths
    out, remaining, ratio = [], excess, len(widths)
    for w in widths:
        take = min(w, round(remaining / ratio))
        out.append(w - take)
        remaining -= take
        ratio -= 1
    return out


def _wrap(text, width):
    """Word wrap as rich does it: at spaces; a word wider than the cell is cut
    with an ellipsis (rich's default overflow)."""
    lines = []
    for paragraph in str(text).split("\n"):
        wrapped = textwrap.wrap(paragraph, width, break_on_hyphens=False,
                                break_long_words=False) or [""]
        lines.extend(w if len(w) <= width else w[:width - 1] + "…" for w in wrapped)
    return lines


def _render_table(header, rows, widths, alignment):
    inner = [w - 2 for w in widths]

    def line(left, fill, mid, right):
        return left + mid.join(fill * w for w in widths) + right

    def cells(values, edge):
        wrapped = [_wrap(v, w) for v, w in zip(values, inner)]
        height = max(len(c) for c in wrapped)
        out = []
        for i in range(height):
            parts = []
            for c, w, a in zip(wrapped, inner, alignment):
                text = c[i] if i < len(c) else ""
                text = {"right": text.rjust, "center": text.center}.get(a, text.ljust)(w)
                parts.append(" " + text + " ")
            out.append(edge + edge.join(parts) + edge)
        return out

    out = [line("┏", "━", "┳", "┓")]
    out += cells(header, "┃")
    out.append(line("┡", "━", "╇", "┩"))
    for i, row in enumerate(rows):
        if i:
            out.append(line("├", "─", "┼", "┤"))
        out += cells(row, "│")
    out.append(line("└", "─", "┴", "┘"))
    return out


def _is_plain(model):
    """Sequential and subclassed models list `layers`; functional ones every operation."""
    from pykern.models.functional import Functional
    return not isinstance(model, Functional)


def _is_sequential_like(model):
    from pykern.models.functional import Functional
    if not isinstance(model, Functional):
        return True
    nodes = []
    for depth_nodes in model._nodes_by_depth.values():
        if len(depth_nodes) > 1 or (depth_nodes and len(depth_nodes[0].flat_inputs) > 1):
            return False
        nodes += depth_nodes
    for layer in model.layers:
        if sum(any(n is m for m in nodes) for n in layer._inbound_nodes) > 1:
            return False
    return True


def _layer_bounds(layers, layer_range):
    """Keras' layer_range: (first, last) name patterns (re.match) -> slice bounds."""
    if layer_range is None:
        return 0, len(layers)
    if len(layer_range) != 2 or not all(isinstance(p, str) for p in layer_range):
        raise ValueError(f"layer_range must be a pair of layer-name patterns, got "
                         f"{layer_range!r}")
    lower = [i for i, layer in enumerate(layers) if re.match(layer_range[0], layer.name)]
    upper = [i for i, layer in enumerate(layers) if re.match(layer_range[1], layer.name)]
    if not lower or not upper:
        raise ValueError(f"layer_range {layer_range!r} matches no layer names; the model's "
                         f"layers are {[layer.name for layer in layers]}")
    if min(lower) > max(upper):
        return min(upper), max(lower) + 1
    return min(lower), max(upper) + 1


def print_summary(model, line_length=None, positions=None, print_fn=None,
                  show_trainable=False, expand_nested=False, layer_range=None):
    sequential_like = _is_sequential_like(model)
    relevant = None
    if sequential_like:
        default_length = 88
        positions = positions or [0.45, 0.80, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #"]
        alignment = ["left", "left", "right"]
    else:
        default_length = 108
        positions = positions or [0.3, 0.56, 0.74, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        alignment = ["left", "left", "right", "left"]
        relevant = [n for nodes in model._nodes_by_depth.values() for n in nodes]
    if show_trainable:
        default_length += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        header.append("Trainable")
        alignment.append("center")
    default_length = min(default_length, shutil.get_terminal_size().columns - 4)
    line_length = line_length or default_length
    widths, current = [], 0
    for pos in positions:
        width = int(pos * line_length) - current
        if width < 4:
            raise ValueError(f"summary: line_length {line_length} is too small for the "
                             f"columns at positions {positions}")
        widths.append(width)
        current += width
    widths = _shrink([w + 2 for w in widths], line_length - len(widths) - 1)

    def layer_rows(layer, level):
        kind = getattr(layer, "_class_name", type(layer).__name__)
        prefix = "   " * level + "└ " if level else ""
        row = [f"{prefix}{layer.name} ({kind})", _format_shape(layer), _params(layer)]
        if not sequential_like:
            row.append(_connections(layer, relevant))
        if show_trainable:
            row.append(("Y" if layer.trainable else "N") if layer.weights else "-")
        rows = [row]
        if expand_nested and getattr(layer, "layers", None):
            for inner in layer.layers:
                rows += layer_rows(inner, level + 1)
        return rows

    listed = getattr(model, "_operations", None) if not _is_plain(model) else None
    listed = listed or model.layers
    first, last = _layer_bounds(listed, layer_range)
    rows = [row for layer in listed[first:last] for row in layer_rows(layer, 0)]

    trainable = _count(model.trainable_weights)
    non_trainable = _count(model.non_trainable_weights)
    optimizer = getattr(model, "optimizer", None)
    opt_vars = list(getattr(optimizer, "variables", []) or []) if getattr(
        optimizer, "built", False) else []
    opt_count = _count(opt_vars)
    opt_bytes = _bytes(opt_vars)
    trainable_bytes = _bytes(model.trainable_weights)
    non_trainable_bytes = _bytes(model.non_trainable_weights)
    lines = [f'Model: "{model.name}"']
    lines += _render_table(header, rows, widths, alignment)
    total_bytes = trainable_bytes + non_trainable_bytes + opt_bytes
    lines.append(f" Total params: {trainable + non_trainable + opt_count:,} "
                 f"({readable_memory_size(total_bytes)})")
    lines.append(f" Trainable params: {trainable:,} ({readable_memory_size(trainable_bytes)})")
    lines.append(f" Non-trainable params: {non_trainable:,} "
                 f"({readable_memory_size(non_trainable_bytes)})")
    if opt_vars:
        lines.append(f" Optimizer params: {opt_count:,} ({readable_memory_size(opt_bytes)})")
    text = "\n".join(lines)
    (print_fn or print)(text)
