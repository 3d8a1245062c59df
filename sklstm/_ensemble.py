"""Members of an ensemble trained as one: a stack of independent LSTMs.

``n_estimators`` networks that read the same mini-batch but share no weight
are stacked along a leading member axis, so that every operation of a step
serves all of them. Autograd over a hand-written cell pays its per-operation
overhead on about twenty operations per time step, forward and backward (a
stack of five cost 5.1x one fused ``nn.LSTM`` step, measured at tutorial
sizes); the layer below does a step in ten in-place operations forward and
five backward, saves the gate activations instead of a graph, and leaves
every weight gradient to one batched product after the time loop, as cuDNN
and oneDNN do (3.7x). Five members' arithmetic alone is 1.2x one fused step
on this CPU, so no stack gets near one network's cost here.

Activations are laid out ``(time, member, feature, batch)``: the slice of a
time step is then contiguous, which the elementwise operations of the cell
need to run at full speed (strided slices were 3-6x slower, measured).
"""

import torch
from torch import nn


class _StackedLSTMLayer(torch.autograd.Function):
    """One LSTM layer of every member; gates (i, f, g, o) as in nn.LSTM.

    ``x`` is ``(T, B, I)`` when all members read the same input (the first
    layer) or ``(T, K, I, B)``, a lower layer's output. The output is every
    step's hidden state, ``(T, K, H, B)``. The three gates whose gradient is
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
        minus_one = x.new_full((), -1.0)
        for t in range(steps):
            a = gates[t]
            if t:
                a.baddbmm_(weight_hh, h[t - 1])
            # tanh(z) = 2 sigmoid(2z) - 1: torch's tanh was 3-5x slower than
            # its sigmoid on this machine (AVX-512), so the g gate joins the
            # one sigmoid of the whole block.
            i, f, g, o = a.view(n_members, 4, hidden, batch).unbind(1)
            g.mul_(2)
            a.sigmoid_()
            torch.add(minus_one, g, alpha=2, out=g)
            torch.mul(f, c[t], out=c[t + 1])
            c[t + 1].addcmul_(i, g)
            torch.mul(c[t + 1], 2, out=tanh_c[t]).sigmoid_()
            torch.add(minus_one, tanh_c[t], alpha=2, out=tanh_c[t])
            torch.mul(o, tanh_c[t], out=h[t])
        ctx.save_for_backward(x, weight_ih, weight_hh, gates, c, tanh_c, h)
        return h

    @staticmethod
    def backward(ctx, grad_h):
        x, weight_ih, weight_hh, gates, c, tanh_c, h = ctx.saved_tensors
        n_members, n_gates, hidden = weight_hh.shape
        steps, batch = h.shape[0], h.shape[3]
        by_gate = gates.view(steps, n_members, 4, hidden, batch)
        i, f, g, o = by_gate.unbind(2)
        # Every step's local derivatives at once, outside the time loop:
        # d(h)/d(c) and, per gate, d(c or h)/d(pre-activation); s - s * s is
        # a sigmoid's derivative, 1 - g * g a tanh's.
        one = gates.new_ones(())
        dh_dc = torch.addcmul(one, tanh_c, tanh_c, value=-1).mul_(o)
        local = torch.addcmul(by_gate, by_gate, by_gate, value=-1)
        torch.addcmul(one, g, g, value=-1, out=local[:, :, 2])
        local[:, :, 0].mul_(g)
        local[:, :, 1].mul_(c[:steps])
        local[:, :, 2].mul_(i)
        local[:, :, 3].mul_(tanh_c)
        grad_gates = torch.empty_like(by_gate)
        grad_c = torch.zeros_like(c[0])
        weight_hh_t = weight_hh.transpose(1, 2)
        dh = grad_h[steps - 1]
        for t in range(steps - 1, -1, -1):
            if t < steps - 1:
                later = grad_gates[t + 1].view(n_members, n_gates, batch)
                dh = torch.baddbmm(grad_h[t], weight_hh_t, later)
            grad_c.addcmul_(dh, dh_dc[t])
            torch.mul(local[t, :, 3], dh, out=grad_gates[t, :, 3])
            torch.mul(local[t, :, :3], grad_c.unsqueeze(1), out=grad_gates[t, :, :3])
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

    The parameters are those of ``nn.LSTM`` (same names, gate order, sizes
    and initialisation bounds) with a leading member axis, so member ``k``'s
    weights are plain views ``weight[k]``.

    Two ways to run it, the same arithmetic and dropout masks: the stacked
    layer above, or torch's fused LSTM once per member on those views. The
    stack wins while the per-operation overhead dominates; from
    ``_FUSED_FROM_HIDDEN`` units the fused kernels' arithmetic wins (stack
    time over fused members, 5 members, 1 thread: hidden 50 with batches of
    16, 32, 64, 128: 0.85, 0.88, 0.97, 0.81; hidden 128, batch 16: 0.94;
    hidden 64, batch 64 and 20 steps: 1.16; batch 256 and 64 steps: 1.6).
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
        self._directions = ("", "_reverse") if bidirectional else ("",)
        for layer in range(num_layers):
            n_inputs = input_size if layer == 0 else hidden_size * len(self._directions)
            for suffix in self._directions:
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
        if self.hidden_size >= _FUSED_FROM_HIDDEN:
            return self._fused_members(x, dropout, generator)
        z = x.transpose(0, 1)
        for layer in range(self.num_layers):
            z = dropped(z, layer and dropout, generator)
            outputs = [
                _StackedLSTMLayer.apply(
                    z.flip(0) if suffix else z,
                    getattr(self, f"weight_ih_l{layer}{suffix}"),
                    getattr(self, f"weight_hh_l{layer}{suffix}"),
                    getattr(self, f"bias_ih_l{layer}{suffix}")
                    + getattr(self, f"bias_hh_l{layer}{suffix}"),
                )
                for suffix in self._directions
            ]
            if self.bidirectional:
                outputs[1] = outputs[1].flip(0)
            z = torch.cat(outputs, dim=2) if self.bidirectional else outputs[0]
        return z[-1].transpose(1, 2)

    def _fused_members(self, x, dropout, generator):
        """``forward`` with torch's fused LSTM, member by member, layer by
        layer, with the dropout masks the stack would draw."""
        weights = {name: p.unbind(0) for name, p in self.named_parameters()}
        members = [x] * self.n_members
        for layer in range(self.num_layers):
            if layer and dropout:
                # The stack's (T, K, features, B) mask, each member's part
                # read as (B, T, features).
                shape = (x.shape[1], self.n_members, members[0].shape[2], len(x))
                keep = x.new_empty(shape).bernoulli_(1 - dropout, generator=generator)
                members = [
                    z * keep[:, k].permute(2, 0, 1) / (1 - dropout)
                    for k, z in enumerate(members)
                ]
            for k, z in enumerate(members):
                layer_weights = [
                    weights[f"{name}_l{layer}{suffix}"][k]
                    for suffix in self._directions
                    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                ]
                members[k] = fused_layer(
                    z,
                    layer_weights,
                    self.hidden_size,
                    self.bidirectional,
                    self.training,
                )
        return torch.stack([z[:, -1] for z in members])


# The hidden size from which the members run fused (see StackedLSTM).
_FUSED_FROM_HIDDEN = 64


def dropped(z, dropout, generator):
    """``z`` with inverted dropout, the mask drawn from ``generator``."""
    if not dropout:
        return z
    keep = torch.empty_like(z).bernoulli_(1 - dropout, generator=generator)
    return z * keep / (1 - dropout)


def fused_layer(z, weights, hidden_size, bidirectional, training):
    """One layer of torch's fused LSTM over batch-first ``z``, from a zero
    state; ``weights`` in nn.LSTM's order for one layer."""
    state = z.new_zeros((2 if bidirectional else 1, len(z), hidden_size))
    return torch.lstm(
        z, (state, state), weights, True, 1, 0.0, training, bidirectional, True
    )[0]


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
