"""Models: Model (functional and subclassed) and Sequential."""
from pykern.models.functional import Functional
from pykern.models.model import Model
from pykern.models.sequential import Sequential
from pykern.saving import load_model, model_from_json, save_model

__all__ = ["Model", "Sequential", "Functional", "load_model", "model_from_json", "save_model"]
