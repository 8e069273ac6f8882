"""Models: Model (functional and subclassed) and Sequential."""
from pykern.models.functional import Functional
from pykern.models.model import Model
from pykern.models.sequential import Sequential

__all__ = ["Model", "Sequential", "Functional"]
