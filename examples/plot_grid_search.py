"""
==================================================
Choosing the window with GridSearchCV on CO2 data
==================================================

:class:`~sklstm.LSTMRegressor` is a scikit-learn regressor, so
:class:`~sklearn.model_selection.GridSearchCV` tunes it like any other. For a
time series the folds must come from
:class:`~sklearn.model_selection.TimeSeriesSplit`: each fold trains on a
contiguous past and tests on the block that follows it. A shuffled
:class:`~sklearn.model_selection.KFold` would train on the future of its
test rows and cut holes in the series the windows are built from.

The monthly CO2 concentration at Mauna Loa
(:func:`sklstm.datasets.load_co2`) rises steadily with a yearly cycle. We
forecast each month from the previous ones (``window_lag=1``) and search over
the window length and ``window_normalization``, which lets the network
follow a trend beyond the range of its training data.
"""

# %%
# The search
# ----------
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

from sklstm import LSTMRegressor, SeriesPredictionDisplay
from sklstm.datasets import load_co2

co2 = load_co2()
X, y = co2.to_frame(), co2.to_numpy()
n_test = 60
X_train, y_train = X.iloc[:-n_test], y[:-n_test]

search = GridSearchCV(
    LSTMRegressor(
        window_lag=1,
        hidden_size=16,
        num_layers=1,
        max_iter=25,
        n_iter_no_change=np.inf,  # a fixed budget of epochs for every candidate
        random_state=0,
    ),
    param_grid={
        "sequence_length": [6, 12],
        "window_normalization": [None, "standard"],
    },
    cv=TimeSeriesSplit(n_splits=3),
    scoring="neg_root_mean_squared_error",
)
search.fit(X_train, y_train)
print("best parameters:", search.best_params_)

results = pd.DataFrame(search.cv_results_)
results["RMSE (ppmv)"] = -results["mean_test_score"]
results["param_window_normalization"] = results["param_window_normalization"].astype(
    str
)
print(
    results[["param_sequence_length", "param_window_normalization", "RMSE (ppmv)"]]
    .sort_values("RMSE (ppmv)")
    .to_string(index=False)
)

# %%
# Each fold's test block lies after its training rows, so a model without
# ``window_normalization`` must predict values above everything it saw in
# training, which a MinMax-scaled network cannot do.
fig, ax = plt.subplots(figsize=(8, 3))
for norm, group in results.groupby("param_window_normalization"):
    group = group.sort_values("param_sequence_length")
    ax.plot(group["param_sequence_length"], group["RMSE (ppmv)"], "o-", label=norm)
ax.set(
    xlabel="sequence_length",
    ylabel="cross-validated RMSE (ppmv)",
    title="TimeSeriesSplit scores",
    yscale="log",
)
ax.legend(title="window_normalization")

# %%
# The refitted best model on the held-out last five years
# -------------------------------------------------------
# ``GridSearchCV`` refits the best candidate on all the training rows. The
# test months are predicted with their history in front of them.
display = SeriesPredictionDisplay.from_estimator(
    search.best_estimator_, X, y, rows=slice(-n_test - 24, None)
)
display.ax_.axvline(co2.index[-n_test], color="black", linestyle="--")
display.ax_.set_title("One-month-ahead forecasts (test period right of the line)")
plt.show()
