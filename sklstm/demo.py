"""The classic LSTM tutorial, end to end through sklstm's public API.

Run ``python -m sklstm.demo [--output-dir DIR] [--max-iter N]``. It generates
regression data, fits :class:`~sklstm.LSTMRegressor` with the tutorial's
configuration under both window alignments, prints the loss every 10 epochs,
reports the test R^2 and RMSE in original units, and saves the tutorial's three
figures (the data, the training loss, actual vs predicted) as PNG files.
"""

import argparse
from pathlib import Path

import numpy as np
from sklearn.datasets import make_regression
from sklearn.metrics import mean_squared_error, r2_score

from sklstm import LossCurveDisplay, LSTMRegressor, SeriesPredictionDisplay

ALIGNMENTS = {
    "tutorial (window ends one row before its target, window_lag=1)": 1,
    "default (window ends at its target's row, window_lag=0)": 0,
}


def make_data(n_samples=1000, random_state=42):
    """The tutorial's data: independent rows from ``make_regression``."""
    return make_regression(
        n_samples=n_samples, n_features=1, noise=1.0, random_state=random_state
    )


def run(output_dir, max_iter=100, random_state=0):
    """Fit both alignments, print their scores, save the figures; return the scores."""
    X, y = make_data()
    n_train = int(0.8 * len(X))
    X_train, X_test = X[:n_train], X[n_train:]
    y_train, y_test = y[:n_train], y[n_train:]

    scores, fitted = {}, {}
    for name, lag in ALIGNMENTS.items():
        print(f"\n{name}")
        reg = LSTMRegressor(
            window_lag=lag,
            max_iter=max_iter,
            n_iter_no_change=np.inf,  # the tutorial trains a fixed number of epochs
            random_state=random_state,
        ).fit(X_train, y_train)
        for epoch in range(9, reg.n_iter_, 10):
            print(f"  epoch {epoch + 1:3d}  loss {reg.loss_curve_[epoch]:.6f}")
        y_pred = reg.predict(X_test)
        r2 = r2_score(y_test, y_pred)
        rmse = mean_squared_error(y_test, y_pred) ** 0.5
        print(f"  test R^2 = {r2:.4f}   test RMSE = {rmse:.3f} (original units)")
        scores[lag] = {"r2": r2, "rmse": rmse}
        fitted[lag] = (reg, y_pred)

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)

    fig, ax = _figure()
    ax.plot(X[:, 0], label="feature")
    ax.plot(y, label="target", alpha=0.7)
    ax.set(title="Original data", xlabel="row", ylabel="value")
    ax.legend()
    _save(fig, output_dir / "original_data.png")

    fig, ax = _figure()
    for lag, (reg, _) in fitted.items():
        LossCurveDisplay.from_estimator(reg, ax=ax, name=f"window_lag={lag}")
    ax.set(title="Training loss", ylabel="MSE (scaled units)")
    ax.set_yscale("log")
    _save(fig, output_dir / "training_loss.png")

    fig, ax = _figure()
    SeriesPredictionDisplay.from_predictions(
        y_test, fitted[0][1], ax=ax, name="window_lag=0"
    )
    ax.plot(fitted[1][1], label="predicted (window_lag=1)", alpha=0.6)
    ax.set(title="Actual vs predicted (test rows)", xlabel="test row")
    ax.legend()
    _save(fig, output_dir / "actual_vs_predicted.png")
    print(f"\nFigures written to {output_dir}/")
    return scores


def _figure():
    # A bare Figure needs no backend: running the demo from a notebook or an
    # IDE leaves the session's matplotlib backend alone.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4))
    return fig, fig.subplots()


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"  wrote {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sklstm.demo", description=__doc__)
    parser.add_argument("--output-dir", default="sklstm-demo-output")
    parser.add_argument("--max-iter", type=int, default=100, help="epochs per fit")
    args = parser.parse_args(argv)
    return run(args.output_dir, max_iter=args.max_iter)


if __name__ == "__main__":
    main()
