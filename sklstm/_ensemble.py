"""Members of an ensemble trained as one: a stack of independent LSTMs.

``n_estimators`` networks that read the same mini-batch but share no weight
are stacked along a leading member axis, so that every operation of a step
serves all of them. Autograd over a hand-written cell pays its per-operation
overhead on about twenty operations per time step, forward and backward, which
made a stack of five cost more than five fused ``nn.LSTM`` fits; the layer
below does a step in seven operations forward and five backward, saves the
gate activations instead of a graph, and leaves every weight gradient to one
batched product after the time loop, as cuDNN and oneDNN do.

Activations are laid out ``(time, member, feature, batch)``: the slice of a
time step is then contiguous, which the elementwise operations of the cell
need to run at full speed (strided slices were 3-6x slower, measured).
"""

import torch
from torch import nn


class _StackedLSTMLayer(torch.autograd.Function):
    """One LSTM layer of every member; gates in the order (o, i, f, g).

    ``x`` is ``(T, B, I)`` when all members read the same input (the first
    layer) or ``(T, K, I, B)``, a lower layer's output. The output is every
    step's hidden state, ``(T, K, H, B)``. Sigmoid gates come first so that
    one call activates them, and the three gates whose gradient is
    ``d(cell)`` times something are adjacent, so that one broadcast product
    gives all three.
    """

    @staticmethod
    def forward(ctx, x, weight_ih, weight_hh, bias):
        n_members, n_gates, hidden = weight_hh.shape
        shared = x.dim() == 3
        steps = x.shape[0]
        batch = x.shape[1] if shared else x.shape[3]
        if shared:
            flat = x.permute(2, 0, 1).reshape(-1, steps * batch)
            projected = torch.matmul(weight_ih, flat)
        else:
            flat = x.permute(1, 2, 0, 3).reshape(n_members, -1, steps * batch)
            projected = torch.bmm(weight_ih, flat)
        gates = x.new_empty((steps, n_members, n_gates, batch))
        torch.add(
            projected.view(n_members, n_gates, steps, batch).permute(2, 0, 1, 3),
            bias[None, :, :, None],
            out=gates,
        )
        h = x.new_empty((steps, n_members, hidden, batch))
        c = x.new_zeros((steps + 1, n_members, hidden, batch))
        tanh_c = x.new_empty((steps, n_members, hidden, batch))
        for t in range(steps):
            a = gates[t]
            if t:
                a.baddbmm_(weight_hh, h[t - 1])
            a[:, : 3 * hidden].sigmoid_()
            a[:, 3 * hidden :].tanh_()
            torch.mul(a[:, 2 * hidden : 3 * hidden], c[t], out=c[t + 1])
            c[t + 1].addcmul_(a[:, hidden : 2 * hidden], a[:, 3 * hidden :])
            torch.tanh(c[t + 1], out=tanh_c[t])
            torch.mul(a[:, :hidden], tanh_c[t], out=h[t])
        ctx.save_for_backward(x, weight_ih, weight_hh, gates, c, tanh_c, h)
        return h

    @staticmethod
    def backward(ctx, grad_h):
        x, weight_ih, weight_hh, gates, c, tanh_c, h = ctx.saved_tensors
        n_members, n_gates, hidden = weight_hh.shape
        steps, batch = h.shape[0], h.shape[3]
        by_gate = gates.view(steps, n_members, 4, hidden, batch)
        o, i, f, g = by_gate.unbind(2)
        # Every step's local derivatives at once, outside the time loop:
        # d(h)/d(c) and, per gate, d(c or h)/d(pre-activation).
        dh_dc = o * (1 - tanh_c * tanh_c)
        local = torch.empty_like(by_gate)
        torch.mul(tanh_c, o * (1 - o), out=local[:, :, 0])
        torch.mul(g, i * (1 - i), out=local[:, :, 1])
        torch.mul(c[:steps], f * (1 - f), out=local[:, :, 2])
        torch.mul(i, 1 - g * g, out=local[:, :, 3])
        grad_gates = torch.empty_like(by_gate)
        grad_c = torch.zeros_like(c[0])
        weight_hh_t = weight_hh.transpose(1, 2)
        dh = grad_h[steps - 1]
        for t in range(steps - 1, -1, -1):
            if t < steps - 1:
                later = grad_gates[t + 1].view(n_members, n_gates, batch)
                dh = torch.baddbmm(grad_h[t], weight_hh_t, later)
            grad_c.addcmul_(dh, dh_dc[t])
            torch.mul(local[t, :, 0], dh, out=grad_gates[t, :, 0])
            torch.mul(local[t, :, 1:], grad_c.unsqueeze(1), out=grad_gates[t, :, 1:])
            if t:
                grad_c.mul_(f[t])
        flat = grad_gates.view(steps, n_members, n_gates, batch)
        flat = flat.permute(1, 2, 0, 3).reshape(n_members, n_gates, steps * batch)
        earlier = h[: steps - 1].permute(1, 0, 3, 2)
        grad_weight_hh = torch.bmm(
            flat[:, :, batch:], earlier.reshape(n_members, -1, hidden)
        )
        grad_bias = flat.sum(2)
        grad_x = None
        if x.dim() == 3:
            grad_weight_ih = torch.matmul(flat, x.reshape(steps * batch, -1))
            if ctx.needs_input_grad[0]:
                grad_x = torch.matmul(weight_ih.transpose(1, 2), flat).sum(0)
                grad_x = grad_x.view(-1, steps, batch).permute(1, 2, 0)
        else:
            inputs = x.permute(1, 0, 3, 2).reshape(n_members, steps * batch, -1)
            grad_weight_ih = torch.bmm(flat, inputs)
            if ctx.needs_input_grad[0]:
                grad_x = torch.bmm(weight_ih.transpose(1, 2), flat)
                grad_x = grad_x.view(n_members, -1, steps, batch).permute(2, 0, 1, 3)
        return grad_x, grad_weight_ih, grad_weight_hh, grad_bias


class StackedLSTM(nn.Module):
    """``n_members`` independent multi-layer LSTMs over one batch of windows.

    The parameters are those of ``nn.LSTM`` (same names, same sizes, same
    initialisation bounds) with a leading member axis, gates ordered
    (o, i, f, g) instead of nn.LSTM's (i, f, g, o).
    """

    def __init__(
        self,
        n_members,
        input_size,
        hidden_size,
        num_layers,
        bidirectional,
        device=None,
    ):
        super().__init__()
        self.n_members = n_members
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        n_directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            n_inputs = input_size if layer == 0 else hidden_size * n_directions
            for suffix in ("", "_reverse")[:n_directions]:
                shapes = {
                    "weight_ih": (n_inputs,),
                    "weight_hh": (hidden_size,),
                    "bias_ih": (),
                    "bias_hh": (),
                }
                for name, tail in shapes.items():
                    shape = (n_members, 4 * hidden_size) + tail
                    self.register_parameter(
                        f"{name}_l{layer}{suffix}",
                        nn.Parameter(torch.empty(shape, device=device)),
                    )

    def forward(self, x, dropout=0.0, generator=None):
        """The last step's hidden state of every member, ``(K, B, H * dirs)``.

        ``x`` is a batch of windows ``(B, T, I)``; ``dropout`` masks the
        input of every layer but the first, drawn from ``generator``.
        """
        z = x.transpose(0, 1)
        for layer in range(self.num_layers):
            if layer and dropout:
                keep = torch.empty_like(z).bernoulli_(1 - dropout, generator=generator)
                z = z * keep / (1 - dropout)
            outputs = [self._run(z, f"l{layer}")]
            if self.bidirectional:
                reverse = self._run(z.flip(0), f"l{layer}_reverse").flip(0)
                outputs.append(reverse)
            z = torch.cat(outputs, dim=2) if self.bidirectional else outputs[0]
        return z[-1].transpose(1, 2)

    def _run(self, z, name):
        return _StackedLSTMLayer.apply(
            z,
            getattr(self, f"weight_ih_{name}"),
            getattr(self, f"weight_hh_{name}"),
            getattr(self, f"bias_ih_{name}") + getattr(self, f"bias_hh_{name}"),
        )


class StackedLinear(nn.Module):
    """One linear layer per member: ``(K, B, in) -> (K, B, out)``."""

    def __init__(self, n_members, in_features, out_features, device=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = nn.Parameter(
            torch.empty((n_members, out_features, in_features), device=device)
        )
        self.bias = nn.Parameter(torch.empty((n_members, out_features), device=device))

    def forward(self, h):
        return torch.baddbmm(self.bias[:, None], h, self.weight.transpose(1, 2))


def clip_grad_norm_per_member(parameters, max_norm):
    """Clip the gradient of each member (leading axis) to ``max_norm``.

    A member whose gradient explodes is scaled on its own, as it would be
    if it were trained alone; the others keep their steps.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    squares = torch.stack([g.flatten(1).square().sum(1) for g in grads]).sum(0)
    scale = (max_norm / (squares.sqrt() + 1e-6)).clamp(max=1.0)
    for grad in grads:
        grad.mul_(scale.view((-1,) + (1,) * (grad.dim() - 1)))
