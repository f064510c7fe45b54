"""Adam, computed as ``torch.optim.Adam`` computes it, without ``torch.optim``'s start-up cost.

``torch.optim``'s optimizers import ``torch._dynamo`` when the first one is made in a process
(about 1 s of CPU, paid by every fresh ``fm2s`` process) and wrap each step in dynamo's guards.
The training loops here need plain Adam only: this class is its arithmetic, operation for
operation the single-tensor path of ``torch.optim.Adam`` with no weight decay, no AMSGrad and
no maximising (the path ``torch.optim.Adam`` takes on the CPU by default), so the weights it
gives are the same, bit for bit, on the CPU (tested against ``torch.optim.Adam``).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


class Adam:
    """Adam (Kingma & Ba) over a fixed list of parameters.

    Parameters
    ----------
    params : iterable of torch.Tensor
        The parameters to optimise; those that do not require a gradient are left alone.
    lr : float
        Learning rate; may be changed between steps through the ``lr`` attribute.
    betas : tuple of float
        Decay rates of the first and second moment estimates.
    eps : float
        Added to the denominator for numerical stability.

    Examples
    --------
    >>> import torch
    >>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    >>> opt = Adam([w], lr=0.1)
    >>> (w ** 2).sum().backward()
    >>> opt.step()
    >>> w.detach()
    tensor([ 0.9000, -1.9000])
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        if not lr >= 0.0:
            raise ValueError(f"Adam: the learning rate must be >= 0, got {lr}")
        self.params = [p for p in params if p.requires_grad]
        self.lr = float(lr)
        self.beta1, self.beta2 = (float(b) for b in betas)
        self.eps = float(eps)
        self.exp_avgs = [torch.zeros_like(p, memory_format=torch.preserve_format)
                         for p in self.params]
        self.exp_avg_sqs = [torch.zeros_like(p, memory_format=torch.preserve_format)
                            for p in self.params]
        self.steps = [0] * len(self.params)

    def zero_grad(self) -> None:
        """Drop the parameters' gradients (set them to None, as ``set_to_none=True`` does)."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """Update every parameter that has a gradient."""
        beta1, beta2 = self.beta1, self.beta2
        for i, param in enumerate(self.params):
            grad = param.grad
            if grad is None:
                continue
            exp_avg, exp_avg_sq = self.exp_avgs[i], self.exp_avg_sqs[i]
            self.steps[i] += 1
            # torch.optim.Adam counts steps in a float32 tensor and reads it back as a Python
            # float: the same exact integer as here.
            step = float(self.steps[i])
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            step_size = self.lr / bias_correction1
            denom = (exp_avg_sq.sqrt() / bias_correction2**0.5).add_(self.eps)
            param.addcdiv_(exp_avg, denom, value=-step_size)
