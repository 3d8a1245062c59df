"""sklstm: a PyTorch LSTM as a first-class scikit-learn regressor."""

from ._regressor import LSTMRegressor

__version__ = "0.1.0"

__all__ = ["LSTMRegressor", "__version__"]
