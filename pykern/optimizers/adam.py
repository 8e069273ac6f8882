"""The Adam family with Keras 3's formulas (m, v as exponential averages):
Adam/AdamW  w -= lr*sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)   (the eps-hat form)
Adamax      u = max(b2*u, |g|);  w -= lr/(1-b1^t) * m / (u + eps)
Nadam       momentum-cache products u_t = b1*(1 - 0.5*0.96^t), Keras' m_hat, v_hat.
AdamW is Adam with decoupled weight decay (default 0.004)."""
import math

import numpy as np

from pykern.backend import devices

from pykern.backend.tensor import Variable
from pykern.optimizers.base import Optimizer

__all__ = ["Adam", "AdamW", "Adamax", "Nadam"]


class _AdamBase(Optimizer):
    def __init__(self, learning_rate, beta_1, beta_2, epsilon, name, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)

    def _hyper(self):
        return {"beta1": self.beta_1, "beta2": self.beta_2, "epsilon": self.epsilon}

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class Adam(_AdamBase):
    _kind = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, name=None, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, name, **kwargs)
        self.amsgrad = bool(amsgrad)

    def _slot_names(self):
        return ["momentum", "velocity"] + (["velocity_hat"] if self.amsgrad else [])

    def _slot_groups(self):
        return [["momentum", "velocity"]] + ([["velocity_hat"]] if self.amsgrad else [])

    def _hyper(self):
        return {**super()._hyper(), "amsgrad": self.amsgrad}

    def _step_scalars(self, lr, t):
        return lr * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t), 0.0, 0.0

    def get_config(self):
        return {**super().get_config(), "amsgrad": self.amsgrad}


class AdamW(Adam):
    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, name=None, **kwargs):
        if weight_decay is None:
            raise ValueError("AdamW: weight_decay cannot be None (it is the decoupled decay "
                             "that makes AdamW)")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad, name=name,
                         weight_decay=weight_decay, **kwargs)


class Adamax(_AdamBase):
    _kind = "adamax"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 name=None, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, name, **kwargs)

    def _slot_names(self):
        return ["m", "u"]

    def _step_scalars(self, lr, t):
        return lr / (1 - self.beta_1 ** t), 0.0, 0.0


class Nadam(_AdamBase):
    _kind = "nadam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 name=None, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, name, **kwargs)
        self._u_product = None

    def build(self, var_list):
        super().build(var_list)
        # the running product of the momentum cache, a variable as in Keras (saved with
        # the optimizer); the arithmetic uses it in double
        self._u_product = Variable(np.float32(1.0), trainable=False, name="u_product",
                                   path=f"{self.name}/u_product", device=devices.CPU)

    def _extra_variables(self):
        return [] if self._u_product is None else [self._u_product]

    def _slot_names(self):
        return ["momentum", "velocity"]

    def _step_scalars(self, lr, t):
        b1 = self.beta_1
        u_t = b1 * (1.0 - 0.5 * 0.96 ** t)
        u_t1 = b1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        prod = float(self._u_product.numpy()) * u_t
        self._u_product.assign(np.float32(prod))
        prod_t1 = prod * u_t1
        return u_t1 / (1 - prod_t1), (1 - u_t) / (1 - prod), 1 / (1 - self.beta_2 ** t)
