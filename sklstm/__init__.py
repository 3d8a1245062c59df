"""sklstm: a PyTorch LSTM as a first-class scikit-learn regressor."""

from ._persistence import ModelFileError, load, save
from ._regressor import LSTMRegressor

__version__ = "0.1.0"

__all__ = ["LSTMRegressor", "ModelFileError", "load", "save", "__version__"]
