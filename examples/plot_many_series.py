"""
=======================================================
Many series, one model: twelve US macro series at once
=======================================================

statsmodels ships the quarterly US macro data 1959-2009 (``macrodata``):
GDP, consumption, investment, prices, money, interest and unemployment
rates, population... Twelve related series, in units from thousands of
dollars to percentages. Instead of one model per series, we fit **one**
:class:`~sklstm.LSTMRegressor` on all of them (a global model, as darts,
neuralforecast or GluonTS train), with the series' name as a column of X
(``series_column``): every window stays inside one series, each series gets
its own scalers, and predictions come back in X's row order.

We forecast the last 20% of every series one quarter ahead, without
refitting, and compare with the last value and with one linear
autoregression (Ridge) on the same windows of every series.
"""

# %%
# The panel: one row per series and quarter
# ------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import statsmodels.api as sm
from sklearn.linear_model import Ridge
from sklearn.preprocessing import MinMaxScaler

from sklstm import SeriesPredictionDisplay, make_forecaster

macro = sm.datasets.macrodata.load_pandas().data
names = list(macro.columns[2:])
panel = macro.melt(value_vars=names, var_name="series", value_name="value")
panel["quarter"] = np.tile(np.arange(len(macro)), len(names))
# Interleaved by date, as a database query would return it: fine, the rows of
# each series only need to be in time order.
panel = panel.sort_values("quarter", kind="stable", ignore_index=True)
n_train = len(macro) - int(np.ceil(0.2 * len(macro)))
train = panel["quarter"] < n_train
X = panel[["series", "value"]]  # the id column and the series' own values
y = panel["value"]
panel.head()

# %%
# One model for all twelve series
# -------------------------------
# :func:`~sklstm.make_forecaster` with ``series_column`` gives the global
# recipe (per-series scalers, loss weights and linear autoregressions, a
# window of a season and one, seasonal centring). A smaller network keeps this example fast.
reg = make_forecaster(
    seasonal_period=4, series_column="series", hidden_size=16, random_state=0
)
reg.fit(X[train], y[train])
print(f"{len(reg.series_)} series, {reg.n_iter_} epochs")

# %%
# With ``window_lag=1`` every window ends before its target, so predicting
# the whole panel forecasts each test quarter from the quarters before it.
y_pred = reg.predict(X)
test = ~train


def rmse_per_series(pred):
    error = (pred - y)[test]
    return np.sqrt((error**2).groupby(panel["series"][test]).mean())


# %%
# Baselines on the same windows: the last value, and one Ridge over the
# windows of every series, each scaled by its own training range.
last = panel.groupby("series")["value"].shift(1)
window = reg.sequence_length
ridge_pred = pd.Series(np.nan, index=panel.index)
lags, targets, scalers = [], [], {}
for name, rows in panel.groupby("series").groups.items():
    values = panel.loc[rows, "value"].to_numpy()
    scalers[name] = MinMaxScaler().fit(values[:n_train, None])
    z = scalers[name].transform(values[:, None]).ravel()
    windows = np.lib.stride_tricks.sliding_window_view(z[:-1], window)
    lags.append(windows[: n_train - window])
    targets.append(z[window:n_train])
ridge = Ridge(alpha=1e-3).fit(np.concatenate(lags), np.concatenate(targets))
for name, rows in panel.groupby("series").groups.items():
    values = panel.loc[rows, "value"].to_numpy()
    z = scalers[name].transform(values[:, None]).ravel()
    windows = np.lib.stride_tricks.sliding_window_view(z[:-1], window)
    scaled = ridge.predict(windows[n_train - window :])[:, None]
    ridge_pred[rows[n_train:]] = scalers[name].inverse_transform(scaled).ravel()

scores = pd.DataFrame(
    {
        "global LSTM": rmse_per_series(y_pred),
        "global Ridge": rmse_per_series(ridge_pred),
        "last value": rmse_per_series(last),
    }
)
ratios = scores["global LSTM"].to_numpy()[:, None] / scores.to_numpy()
print(scores.round(3))
print("geometric mean of RMSE ratios, global LSTM / method:")
print(pd.Series(np.exp(np.log(ratios).mean(axis=0)), index=scores.columns).round(3))

# %%
# Chosen series
# -------------
# ``series=`` draws the rows of one series of the panel.
fig, axes = plt.subplots(3, 1, figsize=(8, 8))
for ax, name in zip(axes, ["realgdp", "unemp", "tbilrate"]):
    SeriesPredictionDisplay.from_estimator(
        reg,
        X,
        y,
        series=name,
        index=panel["quarter"],
        ax=ax,
        rows=slice(n_train - 20, None),
    )
    ax.axvline(n_train, color="black", linestyle="--")
    ax.set_title(name)
fig.tight_layout()
plt.show()
