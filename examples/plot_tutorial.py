"""
===================================================
The classic LSTM tutorial, and its window alignment
===================================================

The classic PyTorch LSTM tutorial fits ``make_regression`` data: 1,000
independent rows of one feature and a noisy linear target. It builds windows
that end one row *before* their target, so the network never sees the row
that explains the target. :class:`~sklstm.LSTMRegressor` reproduces it with
``window_lag=1``, and its default ``window_lag=0`` ends each window at its
target's row. We fit both and draw the tutorial's three figures: the data,
the training loss and actual vs predicted values. (The tutorial trains a
network of 50 hidden units for 100 epochs; we use 32 units and 20 epochs so
that the example runs in seconds. ``python -m sklstm.demo`` runs the full
configuration.)
"""

# %%
# The data
# --------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_regression
from sklearn.metrics import PredictionErrorDisplay, r2_score

from sklstm import LossCurveDisplay, LSTMRegressor, SeriesPredictionDisplay

X, y = make_regression(n_samples=1000, n_features=1, noise=1.0, random_state=42)
n_train = 800

fig, ax = plt.subplots(figsize=(8, 3))
ax.plot(X[:, 0], label="feature")
ax.plot(y, label="target", alpha=0.7)
ax.set(title="The data: independent rows", xlabel="row")
ax.legend()

# %%
# Both alignments
# ---------------
# ``n_iter_no_change=np.inf`` trains the fixed number of epochs, as the
# tutorial does.
models = {}
for window_lag in (1, 0):
    models[window_lag] = LSTMRegressor(
        sequence_length=10,
        window_lag=window_lag,
        hidden_size=32,
        max_iter=20,
        n_iter_no_change=np.inf,
        random_state=0,
    ).fit(X[:n_train], y[:n_train])
    y_pred = models[window_lag].predict(X)[n_train:]
    print(f"window_lag={window_lag}: test R^2 = {r2_score(y[n_train:], y_pred):.3f}")

# %%
# The training loss
# -----------------
# With ``window_lag=1`` the loss stays where predicting the mean puts it;
# with ``window_lag=0`` it falls towards the noise level.
fig, ax = plt.subplots(figsize=(8, 3))
for window_lag, reg in models.items():
    LossCurveDisplay.from_estimator(reg, ax=ax, name=f"window_lag={window_lag}")
ax.set_yscale("log")

# %%
# Actual vs predicted
# -------------------
# The test rows are predicted with the training rows in front of them, and
# the last 100 rows drawn.
fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
for ax, (window_lag, reg) in zip(axes, models.items()):
    SeriesPredictionDisplay.from_estimator(
        reg, X, y, rows=slice(-100, None), ax=ax, name=f"window_lag={window_lag}"
    )

# %%
# Residuals
# ---------
# scikit-learn's :class:`~sklearn.metrics.PredictionErrorDisplay` needs
# nothing specific to time series.
PredictionErrorDisplay.from_predictions(
    y[n_train:], models[0].predict(X)[n_train:], kind="residual_vs_predicted"
)
plt.show()
