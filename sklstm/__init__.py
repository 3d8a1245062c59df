"""sklstm: a PyTorch LSTM as a first-class scikit-learn regressor."""

from ._onnx import to_onnx
from ._persistence import ModelFileError, load, save
from ._regressor import LSTMRegressor
from .forecasting import (
    make_direct_targets,
    make_forecaster,
    rolling_forecast,
    seasonal_period_of,
)
from .model_selection import SeriesTimeSplit

# plotting imports matplotlib inside its functions only: no pyplot here.
from .plotting import LossCurveDisplay, SeriesPredictionDisplay

__version__ = "0.6.0"

__all__ = [
    "LSTMRegressor",
    "LossCurveDisplay",
    "ModelFileError",
    "SeriesPredictionDisplay",
    "SeriesTimeSplit",
    "__version__",
    "load",
    "make_direct_targets",
    "make_forecaster",
    "rolling_forecast",
    "save",
    "seasonal_period_of",
    "to_onnx",
]
