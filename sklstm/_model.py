"""The torch module: an LSTM and a linear head on its last time step."""

import math

import torch
from torch import nn

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

    The weights are drawn from ``generator`` (the distributions of
    ``nn.LSTM`` and ``nn.Linear``), and dropout masks from the generator
    passed to :meth:`forward`: torch's process-wide generator is never used,
    so fits running in concurrent threads stay reproducible.
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
        generator=None,
    ):
        super().__init__()
        # Built on the meta device, so that nn.LSTM's own initialisation
        # draws nothing from the global generator.
        self.lstm = nn.LSTM(
            n_features,
            hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            batch_first=True,
            device="meta",
        )
        n_directions = 2 if bidirectional else 1
        self.head = nn.Linear(hidden_size * n_directions, n_outputs, device="meta")
        # A linear map of the whole (normalised) window added to the head: an
        # autoregressive path that short series can fit where the LSTM alone
        # underfits. Zero at first, so an untrained model is the baseline.
        self.skip = (
            nn.Linear(sequence_length * n_features, n_outputs, device="meta")
            if linear_skip
            else None
        )
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
            "linear_skip": self.skip is not None,
            "sequence_length": (
                None if self.skip is None else self.skip.in_features // self.lstm.input_size
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
        if self.skip is not None:
            for weight in self.skip.parameters():
                weight.zero_()

    def forward(self, x, dropout_generator=None):
        if self.window_normalization is None:
            return self._output(x, dropout_generator)
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
        out = self._output(normalized, dropout_generator)
        k = self.target_feature
        return out * std[:, 0, k, None] + centre[:, 0, k, None]

    def _output(self, x, dropout_generator):
        out = self.head(self._last_step(x, dropout_generator))
        if self.skip is not None:
            out = out + self.skip(x.flatten(1))
        return out

    def _last_step(self, x, generator):
        """The LSTM's output at the last time step of each window."""
        if not (self.training and self.dropout > 0):
            return self.lstm(x)[0][:, -1]
        # nn.LSTM's inter-layer dropout draws from the global generator, so
        # with dropout the layers run one by one, masks drawn from ours.
        lstm = self.lstm
        n_directions = 2 if lstm.bidirectional else 1
        per_layer = len(lstm._flat_weights) // lstm.num_layers
        state = x.new_zeros((n_directions, len(x), lstm.hidden_size))
        out = x
        for layer in range(lstm.num_layers):
            if layer:
                keep = torch.empty_like(out).bernoulli_(
                    1 - self.dropout, generator=generator
                )
                out = out * keep / (1 - self.dropout)
            weights = lstm._flat_weights[layer * per_layer : (layer + 1) * per_layer]
            out = torch.lstm(
                out,
                (state, state),
                weights,
                lstm.bias,
                1,
                0.0,
                True,
                lstm.bidirectional,
                True,
            )[0]
        return out[:, -1]
