"""RMSprop, Keras 3's form: v = rho*v + (1-rho)*g^2; centered: a = rho*a + (1-rho)*g
and denominator v - a^2 + eps, else v + eps (eps inside the sqrt);
step = lr*g/sqrt(denominator), through a momentum buffer when momentum > 0."""
from pykern.optimizers.base import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    _kind = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho = float(rho)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.centered = bool(centered)

    def _slot_names(self):
        names = ["velocity"]
        if self.momentum > 0:
            names.append("momentum")
        if self.centered:
            names.append("average_gradient")
        return names

    def _slot_groups(self):
        return [[name] for name in self._slot_names()]

    def _hyper(self):
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}
