"""The torch module: an LSTM and a linear head on its last time step."""

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
    the last value.
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
    ):
        super().__init__()
        self.lstm = nn.LSTM(
            n_features,
            hidden_size,
            num_layers=num_layers,
            dropout=dropout if num_layers > 1 else 0.0,
            bidirectional=bidirectional,
            batch_first=True,
        )
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), n_outputs)
        self.window_normalization = window_normalization
        self.target_feature = target_feature

    def forward(self, x):
        if self.window_normalization is None:
            out, _ = self.lstm(x)
            return self.head(out[:, -1])
        std = x.std(dim=1, keepdim=True, correction=0).clamp_min(_MIN_WINDOW_STD)
        if self.window_normalization == "last":
            centre = x[:, -1:]
        else:
            centre = x.mean(dim=1, keepdim=True)
        out, _ = self.lstm((x - centre) / std)
        k = self.target_feature
        return self.head(out[:, -1]) * std[:, 0, k, None] + centre[:, 0, k, None]
