"""Forecast quality on the shipped series: LSTMRegressor against simple baselines.

Protocol (issue 7): on every series of ``sklstm.datasets``, the last 20% of
the values are the test period. Each method is fitted once on the values
before it and forecasts every test value one step ahead from the 10 values
just before it (rolling, without refitting; the training history is
prepended so that no test window is padded). Reported: RMSE and MAE over
the test period, mean and standard deviation over seeds for the LSTMs.

Methods: the last value; the value one season back (series with a season);
Ridge on the same 10 lags; LSTMRegressor with its default settings
(``window_lag=1``); LSTMRegressor with the recommended forecasting settings
(``RECIPE`` below).

The recipe was chosen with ``--split validation``, which runs the same
protocol inside the training part only (its last 20% as the test period),
so the test period never informed it. ``--panel`` runs the baselines and
the recipe on 11 other classic series that ship with statsmodels and
pmdarima (``pip install statsmodels pmdarima``), to check that the recipe
generalises beyond the two series it was chosen on. ``peers.py`` runs
neuralforecast's and darts' per-window-normalised LSTMs under this protocol.

Usage::

    python benchmarks/forecast.py                     # full run, 5 seeds
    python benchmarks/forecast.py --seeds 0 --split validation
    python benchmarks/forecast.py --out results.json --series co2
    python benchmarks/forecast.py --panel --out results/panel.json
"""

import argparse
import json
import math
import platform
import time
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.linear_model import Ridge

import sklstm
from sklstm import LSTMRegressor, rolling_forecast
from sklstm.datasets import load_co2, load_sunspots

WINDOW = 10
TEST_FRACTION = 0.2

# name: (loader, season length or None)
SERIES = {"sunspots": (load_sunspots, None), "co2": (load_co2, 12)}

# ``--panel``: other classic series (yearly, quarterly and monthly, 89 to 732
# values) that ship with statsmodels and pmdarima, to check that the recipe
# is not fitted to the two series above. Only the baselines and the recipe.
PMDARIMA_SERIES = [
    "airpassengers",
    "ausbeer",
    "austres",
    "heartrate",
    "lynx",
    "wineind",
    "woolyrnq",
]


def panel_series():
    """The ``--panel`` series, as name: (loader, season) like ``SERIES``."""
    import pmdarima.datasets as pm
    import statsmodels.api as sm

    def macrodata(column):
        return lambda: sm.datasets.macrodata.load_pandas().data[column]

    loaders = {name: getattr(pm, f"load_{name}") for name in PMDARIMA_SERIES}
    loaders.update(
        # One row of 12 monthly sea surface temperatures per year.
        elnino=lambda: sm.datasets.elnino.load_pandas().data.iloc[:, 1:].to_numpy(),
        nile=lambda: sm.datasets.nile.load_pandas().data["volume"],
        realgdp=macrodata("realgdp"),
        unemp=macrodata("unemp"),
    )
    return {name: (load, None) for name, load in loaders.items()}


# The recommended settings for one-step-ahead forecasting of a univariate
# series (X = the series, y = its values), the same for every series; the
# other parameters keep their defaults (hidden_size=50, num_layers=2,
# max_iter=100). All 100 epochs run on the whole training part: holding its
# last 20% out for early stopping was worse on the validation split, where
# the most recent values matter most.
RECIPE = {
    "window_lag": 1,
    "window_normalization": "last",
    "n_iter_no_change": np.inf,
}
# The same recipe with the estimator's other per-window normalisation, to
# show what centring on the last value (rather than the mean) brings.
RECIPE_STANDARD = {**RECIPE, "window_normalization": "standard"}


def split_point(n):
    """Index of the first test value: the last ``TEST_FRACTION`` are test."""
    return n - math.ceil(TEST_FRACTION * n)


def last_value(y, start, season=1):
    """Forecast of each value from ``start`` on: the value one season back."""
    return y[start - season : len(y) - season]


def ridge_on_lags(y, start):
    """Ridge on the previous ``WINDOW`` values, fitted on the training part."""
    lags = np.lib.stride_tricks.sliding_window_view(y[:-1], WINDOW)
    # lags[i] holds y[i : i + WINDOW], the window of target y[i + WINDOW].
    n_train = start - WINDOW
    model = Ridge().fit(lags[:n_train], y[WINDOW:start])
    return model.predict(lags[n_train:])


def lstm(y, start, seed, **params):
    """LSTMRegressor fitted on ``y[:start]``, rolling forecast of ``y[start:]``."""
    X = y.reshape(-1, 1)
    params = {"window_lag": 1, **params}
    reg = LSTMRegressor(WINDOW, random_state=seed, **params)
    tic = time.perf_counter()
    reg.fit(X[:start], y[:start])
    seconds = time.perf_counter() - tic
    return rolling_forecast(reg, X, start), {
        "fit_seconds": seconds,
        "n_iter": reg.n_iter_,
    }


def scores(y_true, y_pred):
    error = y_pred - y_true
    return {
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
    }


def series_values(loader, split="test"):
    """The series as floats; with ``split="validation"``, its training part."""
    y = np.asarray(loader(), dtype=float).ravel()
    # pmdarima's ausbeer ends with a missing quarter.
    y = y[: np.flatnonzero(np.isfinite(y))[-1] + 1]
    if split == "validation":
        y = y[: split_point(len(y))]
    return y


def over_seeds(runs):
    """Mean and standard deviation over the runs (one a seed) of each score."""
    summary = {}
    for score in ("rmse", "mae"):
        values = [run[score] for run in runs]
        summary[score] = float(np.mean(values))
        summary[f"{score}_std"] = float(np.std(values))
    return {**summary, "runs": runs}


def evaluate(name, loader, season, seeds, split, panel=False):
    y = series_values(loader, split)
    start = split_point(len(y))
    truth = y[start:]
    results = {"last value": scores(truth, last_value(y, start))}
    if season is not None:
        results[f"seasonal last value (m={season})"] = scores(
            truth, last_value(y, start, season)
        )
    results["Ridge, 10 lags"] = scores(truth, ridge_on_lags(y, start))
    lstms = [("LSTM recipe", RECIPE)]
    if not panel:
        lstms = [
            ("LSTM default", {}),
            *lstms,
            ("LSTM recipe, 'standard'", RECIPE_STANDARD),
        ]
    for label, params in lstms:
        runs = []
        for seed in seeds:
            pred, info = lstm(y, start, seed, **params)
            runs.append({"seed": seed, **scores(truth, pred), **info})
            print(
                f"  {name} {label} seed {seed}: rmse {runs[-1]['rmse']:.4g} "
                f"({info['n_iter']} epochs, {info['fit_seconds']:.0f} s)",
                flush=True,
            )
        results[label] = over_seeds(runs)
    return {"n_train": start, "n_test": len(truth), "methods": results}


def table(all_results):
    lines = [
        f"{'series':<10} {'method':<28} {'RMSE':>16} {'MAE':>16}",
        "-" * 73,
    ]
    for name, res in all_results.items():
        for method, s in res["methods"].items():
            rmse, mae = f"{s['rmse']:.3f}", f"{s['mae']:.3f}"
            if "rmse_std" in s:
                rmse += f" ± {s['rmse_std']:.3f}"
                mae += f" ± {s['mae_std']:.3f}"
            lines.append(f"{name:<10} {method:<28} {rmse:>16} {mae:>16}")
    return "\n".join(lines)


def summary(all_results):
    """How often, and by how much, the recipe beats each baseline."""
    lines = []
    for baseline in ("last value", "Ridge, 10 lags"):
        ratios = np.array(
            [
                res["methods"]["LSTM recipe"]["rmse"] / res["methods"][baseline]["rmse"]
                for res in all_results.values()
            ]
        )
        lines.append(
            f"LSTM recipe / {baseline}: RMSE lower on {(ratios < 1).sum()} of "
            f"{len(ratios)} series, geometric mean ratio "
            f"{np.exp(np.log(ratios).mean()):.3f}"
        )
    return "\n".join(lines)


def _jsonable(value):
    return "inf" if value == np.inf else value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument(
        "--series", nargs="+", choices=list(SERIES), default=list(SERIES)
    )
    parser.add_argument(
        "--split",
        choices=["test", "validation"],
        default="test",
        help="'validation' evaluates inside the training part only (for tuning)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "forecast.json"
    )
    parser.add_argument(
        "--panel",
        action="store_true",
        help="the other classic series of statsmodels and pmdarima instead "
        "(pip install statsmodels pmdarima)",
    )
    args = parser.parse_args(argv)

    series = panel_series() if args.panel else {n: SERIES[n] for n in args.series}
    all_results = {}
    for name, (loader, season) in series.items():
        print(f"{name}:", flush=True)
        all_results[name] = evaluate(
            name, loader, season, args.seeds, args.split, args.panel
        )
    print()
    print(table(all_results))
    print()
    print(summary(all_results))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "protocol": {
            "window": WINDOW,
            "test_fraction": TEST_FRACTION,
            "split": args.split,
            "seeds": args.seeds,
            "panel": args.panel,
            "recipe": {k: _jsonable(v) for k, v in RECIPE.items()},
        },
        "versions": {
            "sklstm": sklstm.__version__,
            "torch": torch.__version__,
            "sklearn": sklearn.__version__,
            "python": platform.python_version(),
        },
        "series": all_results,
    }
    args.out.write_text(json.dumps(payload, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
