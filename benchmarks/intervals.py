"""90% prediction intervals on the shipped series: quantile LSTMs against MAPIE.

Protocol: each series is cut in time order into a fitting part (the first
60%), a calibration part (the next 20%) and a test part (the last 20%). The
forecasts are one step ahead, from a lag table (``window="columns"``, each
row its own window, so that MAPIE may predict any subset of rows), with
``make_forecaster``'s recipe for the series' season. Compared, on the test
part, by coverage (the share of values inside the interval; 0.90 is the
target) and mean width:

- ``quantile pair``: two ``loss="quantile"`` models (0.05 and 0.95) fitted on
  the fitting and calibration parts together (no calibration needed);
- ``MAPIE split conformal``: MAPIE's ``SplitConformalRegressor`` around the
  recipe fitted on the fitting part, calibrated on the calibration part
  (absolute residuals: a constant width);
- ``MAPIE CQR``: MAPIE's ``ConformalizedQuantileRegressor`` around the
  quantile pair (and a median model) fitted on the fitting part, calibrated
  on the calibration part.

Needs the benchmark extra (MAPIE). Usage::

    python benchmarks/intervals.py [--seeds 0 1 2]
"""

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

import sklstm
from sklstm.datasets import load_co2, load_sunspots

SERIES = {"sunspots": (load_sunspots, 1), "co2": (load_co2, 12)}
CONFIDENCE = 0.9
RESULTS = Path(__file__).parent / "results"


def lag_table(y, n_lags):
    """Rows ``[y[t-1], ..., y[t-n_lags]]`` (most recent first) and targets y[t]."""
    X = np.column_stack([y[n_lags - k : len(y) - k] for k in range(1, n_lags + 1)])
    return X, y[n_lags:]


def forecaster(season, seed, **params):
    # A lag table: no window_lag, and window normalisation reads the lags
    # best without per-column scalers (see the user guide).
    return sklstm.make_forecaster(
        season,
        random_state=seed,
        window="columns",
        window_lag=0,
        x_scaler=None,
        y_scaler=None,
        **params,
    )


def quantile_models(season, seed, X, y):
    alpha = (1 - CONFIDENCE) / 2
    return [
        forecaster(season, seed, loss="quantile", quantile=q).fit(X, y)
        for q in (alpha, 1 - alpha, 0.5)
    ]


def interval_scores(y, lower, upper):
    return {
        "coverage": float(np.mean((lower <= y) & (y <= upper))),
        "mean_width": float(np.mean(upper - lower)),
    }


def evaluate(name, seed):
    from mapie.regression import (
        ConformalizedQuantileRegressor,
        SplitConformalRegressor,
    )

    loader, season = SERIES[name]
    series = np.asarray(loader(), dtype=float).ravel()
    n_lags = sklstm.make_forecaster(season).sequence_length
    X, y = lag_table(series, n_lags)
    fit_end, cal_end = int(0.6 * len(y)), int(0.8 * len(y))
    X_fit, y_fit = X[:fit_end], y[:fit_end]
    X_cal, y_cal = X[fit_end:cal_end], y[fit_end:cal_end]
    X_test, y_test = X[cal_end:], y[cal_end:]
    out = {}

    low, high, _ = quantile_models(season, seed, X[:cal_end], y[:cal_end])
    out["quantile pair"] = interval_scores(
        y_test, low.predict(X_test), high.predict(X_test)
    )

    split = SplitConformalRegressor(
        forecaster(season, seed).fit(X_fit, y_fit),
        confidence_level=CONFIDENCE,
        prefit=True,
    )
    split.conformalize(X_cal, y_cal)
    _, bounds = split.predict_interval(X_test)
    out["MAPIE split conformal"] = interval_scores(
        y_test, bounds[:, 0, 0], bounds[:, 1, 0]
    )

    cqr = ConformalizedQuantileRegressor(
        quantile_models(season, seed, X_fit, y_fit),
        confidence_level=CONFIDENCE,
        prefit=True,
    )
    cqr.conformalize(X_cal, y_cal)
    _, bounds = cqr.predict_interval(X_test)
    out["MAPIE CQR"] = interval_scores(y_test, bounds[:, 0, 0], bounds[:, 1, 0])
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=RESULTS / "intervals.json")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", module="sklearn")
    results = {
        name: {seed: evaluate(name, seed) for seed in args.seeds} for name in SERIES
    }
    print(f"{'series':10} {'method':24} {'coverage':>17} {'mean width':>12}")
    for name, by_seed in results.items():
        for method in next(iter(by_seed.values())):
            cover = [r[method]["coverage"] for r in by_seed.values()]
            width = [r[method]["mean_width"] for r in by_seed.values()]
            print(
                f"{name:10} {method:24} {np.mean(cover):.3f} "
                f"({min(cover):.2f}-{max(cover):.2f}) {np.mean(width):12.4g}"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
