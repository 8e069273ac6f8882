"""Accumulator optimizers, Keras 3's forms (eps inside the square roots):
Adagrad   acc += g^2 (acc starts at 0.1);  w -= lr*g/sqrt(acc + eps)
Adadelta  Ag = rho*Ag + (1-rho)*g^2;  d = -sqrt(Ad + eps)*g/sqrt(Ag + eps);
          Ad = rho*Ad + (1-rho)*d^2;  w += lr*d   (default lr 0.001, rho 0.95)."""
from pykern.optimizers.base import Optimizer

__all__ = ["Adagrad", "Adadelta"]


class Adagrad(Optimizer):
    _kind = "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def _slot_names(self):
        return ["accumulator"]

    def _slot_init(self, slot_name):
        return self.initial_accumulator_value

    def _hyper(self):
        return {"epsilon": self.epsilon}

    def get_config(self):
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class Adadelta(Optimizer):
    _kind = "adadelta"

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, name=None,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho = float(rho)
        self.epsilon = float(epsilon)

    def _slot_names(self):
        return ["accumulated_grad", "accumulated_delta_var"]

    def _hyper(self):
        return {"rho": self.rho, "epsilon": self.epsilon}

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
