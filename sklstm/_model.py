"""The torch module: an LSTM, a linear head on its last step, a linear skip."""

import math

import torch
from torch import nn
from torch.nn import functional as F

from ._autoregression import combined, flat_with_one, least_squares
from ._ensemble import StackedLinear, StackedLSTM, dropped, fused_layer

# Floor for a window's standard deviation, so that a flat window does not
# divide by zero (inputs are already scaled to about unit range).
_MIN_WINDOW_STD = 1e-5


class LSTMNet(nn.Module):
    """LSTM over a window, a linear layer on the output of its last step.

    With ``window_normalization="standard"`` every window is standardised by
    its own per-feature mean and standard deviation before the LSTM, and the
    head's output is mapped back with the statistics of feature
    ``target_feature``: the network then learns the shape of the next values
    relative to the recent level, which lets it follow trends and level
    shifts beyond the range seen in training. ``"last"`` centres each window
    on its last row instead of its mean, so the head predicts the change from
    the last value; ``"seasonal"`` centres it on row ``centre_step`` (counted
    from the end, -1 being the last), the value one season before the target,
    so the head predicts the change from the seasonal naive forecast. The last
    ``n_exog`` features (exogenous values repeated along the window, constant
    within it) are passed through unnormalised, since centring a constant
    would erase it.

    With ``linear_skip``, a linear autoregression on the whole window (as
    given, not normalised) is added to the output; :meth:`fit_skip` fits it
    and it stays fixed (buffers, not parameters).

    With ``n_members > 1`` the LSTM and the head are a stack of that many
    independent networks (:mod:`~sklstm._ensemble`), which read the same
    normalised window; the output is then ``(n_members, batch, n_outputs)``
    and the skip, fitted once, is shared by all members.

    The weights are drawn from ``generator`` (the distributions of
    ``nn.LSTM`` and ``nn.Linear``), and dropout masks from the generator
    passed to :meth:`forward` (the estimator always passes one): torch's
    process-wide generator is not used, so fits running in concurrent
    threads stay reproducible.
    """

    def __init__(
        self,
        n_features,
        n_outputs,
        hidden_size,
        num_layers,
        dropout,
        bidirectional,
        window_normalization=None,
        target_feature=0,
        centre_step=-1,
        linear_skip=False,
        sequence_length=None,
        n_exog=0,
        n_members=1,
        generator=None,
    ):
        super().__init__()
        n_directions = 2 if bidirectional else 1
        # Built on the meta device, so that nn.LSTM's own initialisation
        # draws nothing from the global generator.
        if n_members == 1:
            self.lstm = nn.LSTM(
                n_features,
                hidden_size,
                num_layers=num_layers,
                bidirectional=bidirectional,
                batch_first=True,
                device="meta",
            )
            self.head = nn.Linear(hidden_size * n_directions, n_outputs, device="meta")
        else:
            self.lstm = StackedLSTM(
                n_members, n_features, hidden_size, num_layers, bidirectional, "meta"
            )
            self.head = StackedLinear(
                n_members, hidden_size * n_directions, n_outputs, device="meta"
            )
        self.n_members = n_members
        # A linear autoregression on the whole window, fitted in closed form
        # (fit_skip) and then held fixed: buffers, not parameters, so that
        # training only teaches the LSTM what the linear model misses.
        self.linear_skip = linear_skip
        if linear_skip:
            n_inputs = sequence_length * n_features
            self.register_buffer(
                "skip_weight", torch.zeros((n_outputs, n_inputs), device="meta")
            )
            self.register_buffer("skip_bias", torch.zeros(n_outputs, device="meta"))
        # The default device: "meta" again inside a `torch.device("meta")`
        # block, where only the shapes are wanted.
        device = torch.empty(0).device
        self.to_empty(device=device)
        self.dropout = dropout if num_layers > 1 else 0.0
        self.window_normalization = window_normalization
        self.target_feature = target_feature
        self.centre_step = centre_step
        self.n_exog = n_exog
        if device.type != "meta":
            if generator is None:
                generator = torch.Generator(device=device)
            self.reset_parameters(generator)

    def architecture(self):
        """The constructor's arguments (but the generator) that rebuild this net."""
        return {
            "n_features": self.lstm.input_size,
            "n_outputs": self.head.out_features,
            "hidden_size": self.lstm.hidden_size,
            "num_layers": self.lstm.num_layers,
            "dropout": self.dropout,
            "bidirectional": self.lstm.bidirectional,
            "window_normalization": self.window_normalization,
            "target_feature": self.target_feature,
            "centre_step": self.centre_step,
            "n_exog": self.n_exog,
            "linear_skip": self.linear_skip,
            "n_members": self.n_members,
            "sequence_length": (
                self.skip_weight.shape[1] // self.lstm.input_size
                if self.linear_skip
                else None
            ),
        }

    @torch.no_grad()
    def reset_parameters(self, generator):
        """Draw every weight from ``generator``, as nn.LSTM and nn.Linear do."""
        bound = 1 / math.sqrt(self.lstm.hidden_size)
        for weight in self.lstm.parameters():
            weight.uniform_(-bound, bound, generator=generator)
        bound = 1 / math.sqrt(self.head.in_features)
        for weight in self.head.parameters():
            weight.uniform_(-bound, bound, generator=generator)
        if self.linear_skip:
            self.skip_weight.zero_()
            self.skip_bias.zero_()

    def forward(self, x, dropout_generator=None):
        if self.window_normalization is None:
            out = self.head(self._last_step(x, dropout_generator))
        else:
            normalized, scale, centre = self._normalize(x)
            out = self.head(self._last_step(normalized, dropout_generator))
            out = out * scale + centre
        if self.linear_skip:
            # On the window as given (x-scaled, not normalised): a linear
            # autoregression keeps the series' level, which per-window
            # normalisation removes and which mean-reverting series need.
            out = out + F.linear(x.flatten(1), self.skip_weight, self.skip_bias)
        return out

    def _normalize(self, x):
        """The window as the LSTM reads it, and the ``scale`` and ``centre``
        (per window, broadcast over the outputs) that map its output back."""
        n_lagged = x.shape[-1] - self.n_exog
        lagged = x[..., :n_lagged]
        std = lagged.std(dim=1, keepdim=True, correction=0).clamp_min(_MIN_WINDOW_STD)
        if self.window_normalization == "standard":
            centre = lagged.mean(dim=1, keepdim=True)
        else:
            step = self.centre_step
            centre = lagged[:, step : step + 1 or None]
        normalized = (lagged - centre) / std
        if self.n_exog:
            normalized = torch.cat([normalized, x[..., n_lagged:]], dim=-1)
        k = self.target_feature
        return normalized, std[:, 0, k, None], centre[:, 0, k, None]

    @torch.no_grad()
    def fit_skip(self, sums, lengths=None, alpha=1e-5, differences=0, holdout=None):
        """Fit the linear skip in closed form, from the training windows'
        :class:`~sklstm._autoregression.WindowSums`.

        With the head at zero, the network's output is then the skip's plus
        the window's centre (the last value, with ``"last"``), so the skip
        is fitted to what the centre leaves of the target: training starts
        from a linear autoregression, and the LSTM learns what it misses.
        See :meth:`skip_solution` for ``lengths``, ``alpha``,
        ``differences`` and ``holdout``, and for the solution returned.
        """
        solution = self.skip_solution(sums, lengths, alpha, differences, holdout)
        self.skip_weight.copy_(solution[:-1].T)
        self.skip_bias.copy_(solution[-1])
        self.head.weight.zero_()
        self.head.bias.zero_()
        return solution

    def skip_solution(
        self, sums, lengths=None, alpha=1e-5, differences=0, holdout=None
    ):
        """The skip's weights over a flattened window and a trailing one, of
        shape ``(n_inputs + 1, n_outputs)``, in float64.

        Without ``lengths``, the least-squares regression on the whole
        window; with them, the mean of the autoregressions over the last
        ``lengths`` rows (:func:`~sklstm._autoregression.combined`; only
        those on second differences where ``differences`` is 2), weighted
        by their errors on the later windows of ``holdout`` where it is
        given. Each regression is fitted on the windows that hold the rows
        it reads, where they are enough. ``alpha``, a tiny ridge penalty in
        scaled units, only keeps the solves well posed.
        """
        centre = self._centre_weights(self.skip_weight.shape[1])
        if lengths is None:
            sequence_length = self.skip_weight.shape[1] // self.lstm.input_size
            return least_squares(sums, sequence_length, centre, alpha)
        n_features = self.lstm.input_size
        return combined(
            sums,
            centre,
            lengths,
            n_features,
            self.target_feature,
            alpha,
            differences,
            holdout,
        )

    def linear_forecast(self, x):
        """What the network forecasts for windows ``x`` with its head at
        zero: the window's centre plus the linear skip, a linear map of the
        window computed without running the LSTM."""
        centre = self._centre_weights(self.skip_weight.shape[1]).to(x)
        weights = torch.cat([self.skip_weight, self.skip_bias[:, None]], dim=1)
        return flat_with_one(x) @ (weights.T + centre[:, None])

    def _centre_weights(self, n_inputs):
        """The window's centre (``_normalize``) as weights over the flattened
        window and a trailing one: zero without normalisation."""
        centre = torch.zeros(n_inputs + 1, dtype=torch.float64)
        if self.window_normalization is None:
            return centre
        n_features = self.lstm.input_size
        per_step = centre[:-1].view(-1, n_features)[:, self.target_feature]
        if self.window_normalization == "standard":
            per_step.fill_(1.0 / len(per_step))
        else:
            per_step[self.centre_step] = 1.0
        return centre

    def _last_step(self, x, generator):
        """The LSTM's output at the last time step of each window."""
        dropout = self.dropout if self.training else 0.0
        if self.n_members > 1:
            return self.lstm(x, dropout, generator)
        if not dropout:
            return self.lstm(x)[0][:, -1]
        # nn.LSTM's inter-layer dropout draws from the global generator, so
        # with dropout the layers run one by one, masks drawn from ours.
        lstm = self.lstm
        per_layer = len(lstm._flat_weights) // lstm.num_layers
        out = x
        for layer in range(lstm.num_layers):
            out = dropped(out, layer and dropout, generator)
            weights = lstm._flat_weights[layer * per_layer : (layer + 1) * per_layer]
            out = fused_layer(out, weights, lstm.hidden_size, lstm.bidirectional, True)
        return out[:, -1]
