"""A model's serving signature: its inputs, named after its InputLayers, and its
outputs, named output_0, output_1, ... (as Keras' own ONNX and SavedModel
exports name them), each with its shape (the batch dim always None, other
unknown dims None) and dtype. The ONNX and SavedModel exports and pykern.serve
all use it, so a client sees the same names whichever of them serves the model."""
import collections

__all__ = ["TensorSpec", "input_specs", "output_specs"]

TensorSpec = collections.namedtuple("TensorSpec", "name shape dtype")


def _require_built(model):
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built; call it on data or build it "
                         f"with an input shape first")


def input_specs(model):
    """One TensorSpec per model input, in the order the model takes them."""
    _require_built(model)
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise NotImplementedError(f"subclassed model {model.name!r} ({type(model).__name__}) "
                                  f"has no symbolic inputs: build it as a Sequential or "
                                  f"functional model")
    return [TensorSpec(t._keras_history[0].name, (None, *t.shape[1:]), str(t.dtype))
            for t in inputs]


def output_specs(model):
    """One TensorSpec per model output: output_0, output_1, ..."""
    _require_built(model)
    return [TensorSpec(f"output_{i}", (None, *t.shape[1:]), str(t.dtype))
            for i, t in enumerate(model.outputs)]
