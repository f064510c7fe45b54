"""Adam, computed as ``torch.optim.Adam`` computes it, without ``torch.optim``'s start-up cost.

``torch.optim``'s optimizers import ``torch._dynamo`` when the first one is made in a process
(about 1 s of CPU, paid by every fresh ``fm2s`` process) and wrap each step in dynamo's guards.
The training loops here need plain Adam only: this class is its arithmetic, operation for
operation the multi-tensor ("foreach") path of ``torch.optim.Adam`` with no weight decay, no
AMSGrad and no maximising: torch's default on GPUs, a handful of kernel launches per step
whatever the number of parameters. On the CPU the weights it gives are the same, bit for bit,
as those of both of ``torch.optim.Adam``'s paths (tested), the single-tensor one being
torch's CPU default.
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
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        params = [self.params[i] for i in live]
        grads = [p.grad for p in params]
        exp_avgs = [self.exp_avgs[i] for i in live]
        exp_avg_sqs = [self.exp_avg_sqs[i] for i in live]
        beta1, beta2 = self.beta1, self.beta2
        for i in live:
            self.steps[i] += 1
        # torch.optim.Adam counts steps in float32 tensors and reads them back as Python
        # floats: the same exact integers as here.
        steps = [float(self.steps[i]) for i in live]
        # The operations of torch.optim.Adam's multi-tensor path (its default on GPUs); on
        # the CPU each foreach operation runs the single-tensor operation of its default
        # path on every tensor, so the weights are the same there too.
        torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2)
        step_sizes = [(self.lr / (1 - beta1**n)) * -1 for n in steps]
        bias_correction2_sqrt = [(1 - beta2**n) ** 0.5 for n in steps]
        denoms = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_div_(denoms, bias_correction2_sqrt)
        torch._foreach_add_(denoms, self.eps)
        torch._foreach_addcdiv_(params, exp_avgs, denoms, step_sizes)
