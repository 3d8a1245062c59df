"""Many series, one model: the global LSTM recipe on real panels.

Protocol (that of ``forecast.py``, applied to every series of a panel): the
last 20% of each series is its test period; every method is fitted once on
the values before it and forecasts each test value one step ahead from the
values just before it (rolling, without refitting). With ``--split
validation`` the same protocol runs inside the training parts only (their
last 20% as the test periods), so that choices made on it never see a test
period.

Panels (``PANELS``), real data that ships inside installed packages:

- ``fertility`` (statsmodels): births per woman of the countries with all 52
  yearly values 1960-2011 (m=1);
- ``macrodata`` (statsmodels): the 12 quarterly US macro series 1959-2009, in
  their own units, from thousands of dollars to percentages (m=4);
- ``uschange`` (sktime): quarterly percentage changes of 5 US series,
  1970-2016 (m=4).

Methods, all with the panel's season length m:

- ``global LSTM``: one ``make_forecaster(m, series_column="id")`` fitted on
  the training parts of all series (scalers per series), predicting every
  test value from that series' preceding values;
- ``per-series LSTM``: the same recipe, ``make_forecaster(m)``, fitted on each
  series alone (``forecast.py``'s protocol);
- statsforecast's ``AutoETS`` and ``AutoARIMA`` per series (``forecast.py``'s
  ``statistical``: one fit, ``cross_validation(h=1, step_size=1,
  refit=False)``, test rows asserted), and the better of the two per series
  (an oracle choice on the test period, which favours them);
- ``global Ridge``: one Ridge on the recipe's window of every series,
  scaled per series as the LSTM's (MinMax on each training part);
- the last value.

Reported: RMSE per series and method; per panel the geometric mean over its
series of the RMSE ratios global LSTM / method, on how many series the
global LSTM is lower, and the fit seconds (the LSTMs' fit alone, the
statistical models' fit and test forecasts). ``--memory`` measures instead
the peak extra memory of one epoch of fit on 1,000,000 rows x 8 features as
one series and as a panel of 1,000 series, in child processes (as
``bench.py``).

``--variants`` adds the global model under each setting of ``VARIANTS``
(one pair of scalers for all series, other loss weights, fewer epochs, ...:
the settings compared when choosing the global recipe on the validation
split). Results go to ``results/panel_<split>.json``
(the statsforecast fits are cached in ``results/panel_baselines.json``); the
user guide's "Many series" section quotes them.

Usage::

    python benchmarks/panel.py                       # test split, seed 0
    python benchmarks/panel.py --split validation --variants
    python benchmarks/panel.py --memory
"""

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import Ridge
from sklearn.preprocessing import MinMaxScaler

import sklstm

sys.path.insert(0, str(Path(__file__).parent))
from forecast import (
    last_value,
    load_cache,
    lstm,
    make_recipe,
    scores,
    split_point,
    statistical,
    versions,
    write_results,
)

RESULTS = Path(__file__).parent / "results"
SEASONS = {"fertility": 1, "macrodata": 4, "uschange": 4}


def load_fertility():
    import statsmodels.api as sm

    data = sm.datasets.fertility.load_pandas().data.set_index("Country Code")
    values = data.loc[:, "1960":"2011"].astype(float).dropna()
    return {code: row.to_numpy() for code, row in values.iterrows()}


def load_macrodata():
    import statsmodels.api as sm

    data = sm.datasets.macrodata.load_pandas().data
    return {name: data[name].to_numpy(float) for name in data.columns[2:]}


def load_uschange():
    from sktime.datasets import load_uschange

    y, X = load_uschange()
    data = pd.concat([y, X], axis=1)
    return {name: data[name].to_numpy(float) for name in data.columns}


PANELS = {
    "fertility": load_fertility,
    "macrodata": load_macrodata,
    "uschange": load_uschange,
}

# Settings compared on the validation split (--variants); the global recipe
# is make_forecaster's with series_column, the first entry.
VARIANTS = {
    "global LSTM": {},
    "global LSTM, global scaling": {"series_scaling": "global"},
    "global LSTM, unweighted series": {"series_weighting": None},
    # 0.4.0's weights: each series' loss over its mean squared change.
    "global LSTM, naive weighting": {"series_weighting": "naive"},
    "global LSTM, 15 epochs": {"max_iter": 15},
    "global LSTM, learning rate 1e-3": {"learning_rate_init": 1e-3},
    # sklstm 0.3.0's global recipe, before the skip was fitted per series.
    "global LSTM, no skip, 15 epochs": {"linear_skip": False, "max_iter": 15},
    # The single-series recipe's window on these panels (m <= 4).
    "global LSTM, window 20": {"sequence_length": 20},
    "global LSTM, 3 seeds": {"n_estimators": 3},
    "global LSTM, 1 layer": {"num_layers": 1},
    "global LSTM, batch 64": {"batch_size": 64},
}


def panel_series(name, split):
    """``{id: values}``; with ``split="validation"``, each training part."""
    series = PANELS[name]()
    if split == "validation":
        series = {k: v[: split_point(len(v))] for k, v in series.items()}
    return series


def long_frame(series):
    """The panel as one frame (id, value), series stacked, and each row's
    position in its series."""
    frame = pd.concat(
        [pd.DataFrame({"id": str(k), "value": v}) for k, v in series.items()],
        ignore_index=True,
    )
    return frame, frame.groupby("id", sort=False).cumcount().to_numpy()


def global_lstm(series, season, seed, params):
    """One model on every series' training part: per-series test forecasts."""
    frame, position = long_frame(series)
    starts = frame["id"].map({str(k): split_point(len(v)) for k, v in series.items()})
    train = position < starts.to_numpy()
    reg = sklstm.make_forecaster(
        season, series_column="id", random_state=seed, **params
    )
    tic = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(frame[train], frame["value"][train])
    seconds = time.perf_counter() - tic
    # With window_lag=1 each window holds only rows before its target, so
    # predicting the whole panel is the rolling forecast of the test rows.
    pred = pd.Series(reg.predict(frame), index=frame.index)
    per_series = {}
    for key in series:
        rows = (frame["id"] == str(key)).to_numpy() & ~train
        per_series[key] = scores(frame["value"][rows].to_numpy(), pred[rows].to_numpy())
    return per_series, seconds


def global_ridge(series, season):
    """One Ridge on the global recipe's window of every series, scaled per series."""
    window = sklstm.make_forecaster(season, series_column="id").sequence_length
    lags, targets, tests = [], [], {}
    tic = time.perf_counter()
    for key, y in series.items():
        start = split_point(len(y))
        scaler = MinMaxScaler().fit(y[:start, None])
        z = scaler.transform(y[:, None]).ravel()
        windows = np.lib.stride_tricks.sliding_window_view(z[:-1], window)
        # windows[i] holds z[i : i + window], the window of target z[i + window].
        lags.append(windows[: start - window])
        targets.append(z[window:start])
        tests[key] = (windows[start - window :], scaler, y[start:])
    model = Ridge(alpha=1e-3).fit(np.concatenate(lags), np.concatenate(targets))
    per_series = {}
    for key, (windows, scaler, truth) in tests.items():
        pred = scaler.inverse_transform(model.predict(windows)[:, None]).ravel()
        per_series[key] = scores(truth, pred)
    return per_series, time.perf_counter() - tic


def per_series_methods(name, series, season, seed, cache, split):
    """Per-series LSTM recipe, statsforecast (cached) and the last value."""
    results = {key: {} for key in series}
    seconds = {"per-series LSTM": 0.0, "AutoETS": 0.0, "AutoARIMA": 0.0}
    for key, y in series.items():
        start = split_point(len(y))
        cache_key = f"{name}/{key}/{split}/{len(y)}/{season}"
        if cache_key not in cache:
            methods, _ = statistical(y, start, season)
            cache[cache_key] = methods
        for method in ("AutoETS", "AutoARIMA"):
            if method in cache[cache_key]:
                results[key][method] = cache[cache_key][method]
                seconds[method] += cache[cache_key][method]["fit_seconds"]
        better = min(
            (results[key][m]["rmse"], m)
            for m in ("AutoETS", "AutoARIMA")
            if m in results[key]
        )
        results[key]["better of AutoETS, AutoARIMA"] = {"rmse": better[0]}
        results[key]["last value"] = scores(y[start:], last_value(y, start))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pred, info = lstm(y, start, make_recipe(season, seed))
        results[key]["per-series LSTM"] = scores(y[start:], pred)
        seconds["per-series LSTM"] += info["fit_seconds"]
    return results, seconds


def evaluate(name, split, seed, variants, cache):
    series = panel_series(name, split)
    season = SEASONS[name]
    print(f"{name}: {len(series)} series, m={season}", flush=True)
    results, seconds = per_series_methods(name, series, season, seed, cache, split)
    ridge, seconds["global Ridge"] = global_ridge(series, season)
    for key in series:
        results[key]["global Ridge"] = ridge[key]
    for label in variants:
        per_series, seconds[label] = global_lstm(series, season, seed, VARIANTS[label])
        for key in series:
            results[key][label] = per_series[key]
        print(f"  {label}: {seconds[label]:.0f} s", flush=True)
    return {
        "season": season,
        "n_series": len(series),
        "lengths": sorted({len(v) for v in series.values()}),
        "fit_seconds": seconds,
        "series": {str(k): v for k, v in results.items()},
    }


def summary(res, reference):
    """Per method: geometric mean of the RMSE ratios reference / method and
    on how many series the reference is lower."""
    methods = next(iter(res["series"].values())).keys()
    rows = {}
    for method in methods:
        ratios = np.array(
            [s[reference]["rmse"] / s[method]["rmse"] for s in res["series"].values()]
        )
        rows[method] = {
            "geomean_ratio": float(np.exp(np.mean(np.log(ratios)))),
            "reference_lower": int((ratios < 1).sum()),
            "n_series": len(ratios),
            "fit_seconds": res["fit_seconds"].get(method),
        }
    return rows


def print_summary(name, res, reference):
    print(
        f"\n{name} ({res['n_series']} series, m={res['season']}, "
        f"lengths {res['lengths']}): {reference} / method"
    )
    print(f"  {'method':<32} {'geo-mean RMSE ratio':>20} {'lower on':>10} {'fit s':>8}")
    for method, row in summary(res, reference).items():
        secs = "" if row["fit_seconds"] is None else f"{row['fit_seconds']:.1f}"
        print(
            f"  {method:<32} {row['geomean_ratio']:>20.3f} "
            f"{row['reference_lower']:>4} of {row['n_series']:<3} {secs:>8}"
        )


# --------------------------------------------------------------------------
# Memory: one epoch of fit on one long series against a panel of 1,000


def memory_child(layout, n_rows):
    from bench import MEMORY_PARAMS, _reset_peak, _status_kb, estimator, long_data

    torch.set_num_threads(1)
    X, y = long_data(n_rows, 8)
    params = {**MEMORY_PARAMS, "batch_size": 512}
    extra = {}
    if layout == "panel":
        ids = np.repeat(np.arange(1000), n_rows // 1000).astype(float)
        X = np.column_stack([ids, X])
        extra = {"series_column": 0}
    estimator({**params, "batch_size": 16}, 1, **extra).fit(X[:2000], y[:2000])
    reset = _reset_peak()
    before = _status_kb("VmRSS") if reset else _status_kb("VmHWM")
    estimator(params, 1, **extra).fit(X, y)
    peak = _status_kb("VmHWM")
    print(json.dumps({"extra_bytes": (peak - before) * 1024, "peak_reset": reset}))


def bench_memory(n_rows=1_000_000):
    out = {"rows": n_rows, "features": 8, "raw_float32_bytes": n_rows * 8 * 4}
    for layout in ("series", "panel"):
        result = subprocess.run(
            [sys.executable, __file__, "--memory-child", layout, str(n_rows)],
            capture_output=True,
            text=True,
            check=True,
        )
        measured = json.loads(result.stdout.strip().splitlines()[-1])
        out[f"{layout}_fit_one_epoch_extra_bytes"] = measured["extra_bytes"]
        out[f"{layout}_ratio"] = measured["extra_bytes"] / out["raw_float32_bytes"]
    print(
        f"memory, one epoch of fit on {n_rows}x8 float32 "
        f"({out['raw_float32_bytes'] / 1e6:.0f} MB): one series "
        f"+{out['series_fit_one_epoch_extra_bytes'] / 1e6:.0f} MB "
        f"({out['series_ratio']:.2f} x raw), 1,000 series "
        f"+{out['panel_fit_one_epoch_extra_bytes'] / 1e6:.0f} MB "
        f"({out['panel_ratio']:.2f} x raw)"
    )
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--panels", nargs="+", choices=list(PANELS), default=list(PANELS)
    )
    parser.add_argument("--split", choices=["test", "validation"], default="test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", action="store_true", help="all of VARIANTS")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child[0], int(args.memory_child[1]))
        return
    if args.memory:
        out = args.out or RESULTS / "panel_memory.json"
        payload = bench_memory()
    else:
        variants = list(VARIANTS) if args.variants else ["global LSTM"]
        cache_path = RESULTS / "panel_baselines.json"
        cache = load_cache(cache_path)
        tic = time.perf_counter()
        panels = {}
        for name in args.panels:
            panels[name] = evaluate(name, args.split, args.seed, variants, cache)
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            cache_path.write_text(json.dumps(cache, indent=2))
            print_summary(name, panels[name], "global LSTM")
        summaries = {name: summary(res, "global LSTM") for name, res in panels.items()}
        print(f"\n{time.perf_counter() - tic:.0f} s in all")
        out = args.out or RESULTS / f"panel_{args.split}.json"
        payload = {
            "protocol": {"test_fraction": 0.2, "split": args.split, "seed": args.seed},
            "versions": versions(),
            "summary": summaries,
            "panels": panels,
        }
    write_results(out, payload)


if __name__ == "__main__":
    main()
