"""sklstm: a PyTorch LSTM as a first-class scikit-learn regressor."""

from ._regressor import LSTMRegressor
# plotting imports matplotlib inside its functions only: no pyplot here.
from .plotting import LossCurveDisplay, SeriesPredictionDisplay

__version__ = "0.1.0"

__all__ = [
    "LSTMRegressor",
    "LossCurveDisplay",
    "SeriesPredictionDisplay",
    "__version__",
]
