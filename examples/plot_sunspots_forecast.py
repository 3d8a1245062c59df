"""
=======================================================
Forecasting sunspots one year ahead, against baselines
=======================================================

The yearly sunspot numbers (1700-2008, shipped as
:func:`sklstm.datasets.load_sunspots`) follow a cycle of about 11 years whose
amplitude varies. We forecast each year from the previous ``sequence_length``
years with :class:`~sklstm.LSTMRegressor` (``window_lag=1``) and compare it on
the last 20% of the years with two baselines that see the same history:

* the **last value** (next year equals this year), the baseline every
  forecast must beat;
* a :class:`~sklearn.linear_model.Ridge` regression on the same window of
  past years (a linear autoregression).
"""

# %%
# The data
# --------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import Ridge
from sklearn.metrics import root_mean_squared_error

from sklstm import (
    LossCurveDisplay,
    LSTMRegressor,
    SeriesPredictionDisplay,
    rolling_forecast,
)
from sklstm.datasets import load_sunspots

series = load_sunspots()
X = series.to_frame()  # the series is its own (only) feature ...
y = series.to_numpy()  # ... and the target
n_train = int(0.8 * len(series))

ax = series.plot(figsize=(8, 3), title="Yearly sunspot numbers")
ax.axvline(series.index[n_train], color="black", linestyle="--", label="test period")
ax.legend()

# %%
# The LSTM
# --------
# The forecasting recipe of the user guide. With ``window_lag=1`` the window
# of year ``t`` ends at year ``t - 1``: a one-step-ahead forecast.
# ``window_normalization="last"`` normalises each window by its last value and
# spread, so the network predicts the change from the last value. The model
# trains for all 100 epochs on the training years only: on so short a series,
# holding its most recent years out for early stopping costs more than it
# saves.
sequence_length = 10
reg = LSTMRegressor(
    sequence_length,
    window_lag=1,
    window_normalization="last",
    n_iter_no_change=np.inf,
    random_state=0,
)
reg.fit(X.iloc[:n_train], y[:n_train])
LossCurveDisplay.from_estimator(reg)

# %%
# :func:`~sklstm.rolling_forecast` predicts the test years from windows over
# the real years before them (no warm-up padding, no refit): each forecast
# uses only the years before it.
y_lstm = rolling_forecast(reg, X, start=n_train)

# %%
# The baselines
# -------------
# The last value, and a Ridge on the same ``sequence_length`` past years,
# fitted on the training years whose window is complete.
y_last = y[n_train - 1 : -1]

lags = np.column_stack(
    [y[sequence_length - k : len(y) - k] for k in range(1, sequence_length + 1)]
)  # row i holds years i + L - 1 down to i; its target is year i + L
targets = y[sequence_length:]
n_train_windows = n_train - sequence_length
ridge = Ridge(alpha=1.0).fit(lags[:n_train_windows], targets[:n_train_windows])
y_ridge = ridge.predict(lags[n_train_windows:])

# %%
# Scores on the test years
# ------------------------
y_test = y[n_train:]
rmse = {
    "LSTMRegressor": root_mean_squared_error(y_test, y_lstm),
    "last value": root_mean_squared_error(y_test, y_last),
    "Ridge on the same window": root_mean_squared_error(y_test, y_ridge),
}
for name, value in rmse.items():
    print(f"RMSE {name:<25s} {value:6.2f}")

# %%
# The forecasts
# -------------
display = SeriesPredictionDisplay.from_estimator(
    reg, X, y, rows=slice(n_train - 20, None)
)
display.ax_.plot(series.index[n_train:], y_ridge, label="Ridge", alpha=0.8)
display.ax_.plot(series.index[n_train:], y_last, label="last value", alpha=0.6)
display.ax_.axvline(series.index[n_train], color="black", linestyle="--")
display.ax_.set_title("One-year-ahead forecasts (test period right of the line)")
display.ax_.legend(loc="upper left", ncols=2, fontsize="small")
display.figure_.set_size_inches(8, 4)
plt.show()
