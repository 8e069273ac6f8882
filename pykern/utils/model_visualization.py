"""plot_model / model_to_dot: the model as a Graphviz graph, drawn as Keras 3 draws it.

One node per layer, labelled by an HTML-like table: a black title row
("name (Class)" in white, or the class alone), then optional rows for the
activation, the input/output shapes, the output dtype and a green/red
trainable cell. Edges are 2 pt wide, right-angled (splines="ortho") and merged
where parallel (concentrate). A Sequential model lists its layers without the
InputLayer and chains them; a functional model lists every operation and draws
an edge per call argument. With expand_nested, a nested functional or
Sequential model becomes a dashed cluster labelled with its name and the
edges go to the layers inside it; a subclassed model is one node.

pydot builds the graph and Graphviz's `dot` renders it; both are optional
(`pip install "pykern[viz]"`, `apt-get install graphviz`).
"""
import itertools
import os
import shutil

__all__ = ["model_to_dot", "plot_model"]

_MISSING_PYDOT = ("plot_model and model_to_dot need pydot: pip install \"pykern[viz]\" "
                  "(or pip install pydot)")
_MISSING_DOT = ("plot_model needs Graphviz's `dot` program on the PATH: apt-get install "
                "graphviz (or see https://graphviz.org/download/)")


def _pydot():
    try:
        import pydot
    except ImportError:
        raise ImportError(_MISSING_PYDOT) from None
    return pydot


def _kinds():
    from pykern.models.functional import Functional
    from pykern.models.sequential import Sequential
    return Functional, Sequential


def _class_name(layer):
    return getattr(layer, "_class_name", type(layer).__name__)


def _shape_text(tensors):
    """Keras' text for a layer's input/output: a shape tuple, or a list of them."""
    if tensors is None:
        return "?"
    if isinstance(tensors, (list, tuple)):
        return "[" + ", ".join(str(t.shape) for t in tensors) + "]"
    return str(tensors.shape)


def _node_tensors(layer, attr):
    try:
        return getattr(layer, attr)
    except (AttributeError, ValueError):
        return None


def _activation_name(layer):
    fn = layer.activation
    return getattr(fn, "name", None) or getattr(fn, "__name__", None) or str(fn)


def _cell(text, bgcolor="white", color=None, colspan=None):
    span = f' colspan="{colspan}"' if colspan else ""
    font_color = f' color="{color}"' if color else ""
    return (f'<td bgcolor="{bgcolor}"{span}><font point-size="14"{font_color}>{text}'
            f"</font></td>")


def _label(layer, show_shapes, show_dtype, show_layer_names, show_layer_activations,
           show_trainable):
    """The node's HTML-like table (Graphviz labels between < and >)."""
    kind = _class_name(layer)
    colspan = max(1, 2 * show_shapes + show_dtype + show_trainable)
    title = f"<b>{layer.name}</b> ({kind})" if show_layer_names else f"<b>{kind}</b>"
    rows = [(f'<td colspan="{colspan}" bgcolor="black"><font point-size="16" color="white">'
             f"{title}</font></td>")]
    if show_layer_activations and getattr(layer, "activation", None) is not None:
        rows.append(_cell(f"Activation: <b>{_activation_name(layer)}</b>", colspan=colspan))
    cols = []
    if show_shapes:
        if kind != "InputLayer":
            cols.append(_cell(f"Input shape: <b>{_shape_text(_node_tensors(layer, 'input'))}"
                              f"</b>"))
        cols.append(_cell(f"Output shape: <b>{_shape_text(_node_tensors(layer, 'output'))}"
                          f"</b>"))
    if show_dtype:
        out = _node_tensors(layer, "output")
        dtypes = None if out is None else (
            [t.dtype for t in out] if isinstance(out, (list, tuple)) else out.dtype)
        cols.append(_cell(f"Output dtype: <b>{dtypes or '?'}</b>"))
    if show_trainable and layer.weights:
        cols.append(_cell("<b>Trainable</b>", "forestgreen", "white") if layer.trainable else
                    _cell("<b>Non-trainable</b>", "firebrick", "white"))
    if cols:
        rows.append("".join(cols))
    body = "".join(f"<tr>{row}</tr>" for row in rows)
    return f'<<table border="0" cellborder="1" bgcolor="black" cellpadding="10">{body}</table>>'


def _add_edge(pydot, dot, src, dst):
    src_id, dst_id = str(id(src)), str(id(dst))
    if not dot.get_edge(src_id, dst_id):
        dot.add_edge(pydot.Edge(src_id, dst_id, penwidth="2"))


def _resolve_source(layer, tensor_index):
    """The drawn layer that produces output `tensor_index` of `layer` (inside nested
    models, which have no box of their own when expanded)."""
    Functional, Sequential = _kinds()
    while isinstance(layer, (Functional, Sequential)):
        layer, _, tensor_index = layer.outputs[tensor_index]._keras_history
    return layer


def _resolve_destination(layer, input_index):
    Functional, Sequential = _kinds()
    while isinstance(layer, (Functional, Sequential)):
        if isinstance(layer, Functional):
            layer = layer.inputs[input_index]._keras_history[0]
        else:
            layer = layer.layers[0]
    return layer


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True,
                 rankdir="TB", expand_nested=False, dpi=200, subgraph=False,
                 show_layer_activations=False, show_trainable=False, splines="ortho",
                 **kwargs):
    """The model as a `pydot.Dot` (or a dashed `pydot.Cluster` when subgraph=True).

    Arguments as Keras 3's keras.utils.model_to_dot: rankdir "TB" (vertical) or
    "LR"; expand_nested draws nested functional/Sequential models as clusters;
    splines is Graphviz's edge routing ("ortho", "polyline", "curved", ...).
    """
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("model_to_dot: the argument `layer_range` is no longer supported "
                         "(as in Keras 3)")
    if kwargs:
        raise ValueError(f"model_to_dot: unrecognized keyword arguments {sorted(kwargs)}")
    if not model.built:
        raise ValueError(f"Model {model.name!r} has not yet been built. Build it first by "
                         f"calling `build()` or by calling it on a batch of data.")
    pydot = _pydot()
    Functional, Sequential = _kinds()
    if subgraph:
        dot = pydot.Cluster(graph_name=model.name, style="dashed", label=model.name,
                            labeljust="l")
    else:
        dot = pydot.Dot(rankdir=rankdir, concentrate=True, dpi=dpi, splines=splines)
        dot.set_node_defaults(shape="record")
    options = dict(show_shapes=show_shapes, show_dtype=show_dtype,
                   show_layer_names=show_layer_names,
                   show_layer_activations=show_layer_activations,
                   show_trainable=show_trainable)

    def add_node(layer):
        dot.add_node(pydot.Node(str(id(layer)), label=_label(layer, **options),
                                fontname="Helvetica", border="0", margin="0"))

    if not isinstance(model, (Functional, Sequential)):
        add_node(model)  # a subclassed model: its graph is its call's code
        return dot
    layers = model.layers if isinstance(model, Sequential) else model._operations
    for layer in layers:
        if expand_nested and isinstance(layer, (Functional, Sequential)):
            dot.add_subgraph(model_to_dot(layer, rankdir=rankdir, expand_nested=True,
                                          subgraph=True, **options))
        else:
            add_node(layer)
    if isinstance(model, Sequential):
        for src, dst in itertools.pairwise(layers):
            _add_edge(pydot, dot, _resolve_source(src, 0) if expand_nested else src,
                      _resolve_destination(dst, 0) if expand_nested else dst)
        return dot
    relevant = {id(n) for nodes in model._nodes_by_depth.values() for n in nodes}
    for layer in layers:
        for node in layer._inbound_nodes:
            if id(node) not in relevant:
                continue  # a call of this layer in another model
            for input_index, tensor in enumerate(node.flat_inputs):
                source, _, tensor_index = tensor._keras_history
                if expand_nested:
                    _add_edge(pydot, dot, _resolve_source(source, tensor_index),
                              _resolve_destination(layer, input_index))
                else:
                    _add_edge(pydot, dot, source, layer)
    return dot


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=False, rankdir="TB", expand_nested=False, dpi=200,
               show_layer_activations=False, show_trainable=False, splines="ortho",
               **kwargs):
    """Draws the model with Graphviz and writes the image to `to_file`.

    The format follows the extension (png when there is none; pdf, svg, jpg ...
    as Graphviz knows them). The file is written atomically: Graphviz renders to
    memory, the bytes go to a temporary file beside the target, which is then
    renamed. show_layer_names defaults to False as in Keras 3 (model_to_dot's
    to True). Returns an IPython Image of the file when IPython is installed
    and the format is one it embeds (png, jpg, gif), for notebooks; else None.

    Raises ImportError naming what to install when pydot or Graphviz's `dot`
    program is missing.
    """
    from pykern.saving.atomic import write_bytes_atomic
    if not model.built:
        raise ValueError(f"Model {model.name!r} has not yet been built. Build it first by "
                         f"calling `build()` or by calling it on a batch of data.")
    _pydot()
    if shutil.which("dot") is None:
        raise ImportError(_MISSING_DOT)
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype,
                       show_layer_names=show_layer_names, rankdir=rankdir,
                       expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations,
                       show_trainable=show_trainable, splines=splines, **kwargs)
    to_file = os.fspath(to_file)
    extension = os.path.splitext(to_file)[1][1:] or "png"
    write_bytes_atomic(to_file, dot.create(prog="dot", format=extension))
    if extension.lower() not in ("png", "jpg", "jpeg", "gif"):
        return None  # IPython embeds only these (Keras tries svg too, and fails)
    try:
        from IPython import display
    except ImportError:
        return None
    return display.Image(filename=to_file)
