"""The per-window-normalised peers of issue 7, under ``forecast.py``'s protocol.

Issue 7 quotes single runs of neuralforecast's ``LSTM`` and darts'
``BlockRNNModel`` with reversible instance normalisation. This script runs
both on the shipped series under exactly the protocol of ``forecast.py``
(the last 20% as test period, fitted once on the values before it, rolling
one-step-ahead forecasts from the 10 values before each test value, no
refit), with several seeds, so that the LSTMRegressor recipe is compared
with them seed for seed rather than with one quoted number.

Settings: each library's defaults for its model, except the window (10
values), the horizon (1) and the options the issue names.

- neuralforecast ``LSTM(h=1, input_size=10)``: its defaults are a 2-layer
  LSTM (128 units) with an MLP decoder, per-window robust scaling, MAE loss,
  1000 steps of 128 windows.
- darts ``BlockRNNModel(input_chunk_length=10, output_chunk_length=1,
  model="LSTM", use_reversible_instance_norm=True)``: a 1-layer LSTM (25
  units), 100 epochs, MSE loss, on the series MinMax-scaled with darts'
  ``Scaler`` fitted on the training part, as darts' examples do.

Neither library is a dependency of sklstm; install them apart::

    pip install neuralforecast "u8darts[torch]"
    python benchmarks/peers.py                 # 5 seeds, about 4 minutes
    python benchmarks/peers.py --seeds 0 --series co2

Measured (5 seeds, RMSE mean and standard deviation; the LSTMRegressor
recipe from ``forecast.py`` in brackets): sunspots, neuralforecast
28.30 +- 2.55, darts 16.81 +- 0.30 (16.69 +- 0.28); CO2, neuralforecast
0.392 +- 0.036, darts 0.420 +- 0.027 (0.336 +- 0.011).
"""

import argparse
import json
import logging
import platform
import time
import warnings
from pathlib import Path

import numpy as np
from forecast import (
    SERIES,
    WINDOW,
    over_seeds,
    scores,
    series_values,
    split_point,
    table,
)

# Each peer returns the rows it forecast and its forecasts, so that the
# alignment with the test values is checked, not assumed.


def neuralforecast_lstm(y, start, seed):
    import pandas as pd
    from neuralforecast import NeuralForecast
    from neuralforecast.models import LSTM

    df = pd.DataFrame({"unique_id": "s", "ds": np.arange(len(y)), "y": y})
    model = LSTM(
        h=1,
        input_size=WINDOW,
        random_seed=seed,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    nf = NeuralForecast(models=[model], freq=1)
    # refit=False: one fit on the values before the first cutoff, then a
    # one-step forecast from every cutoff, as in forecast.py.
    cv = nf.cross_validation(df, n_windows=len(y) - start, step_size=1, refit=False)
    cv = cv.sort_values("ds")
    return cv["ds"].to_numpy(), cv["LSTM"].to_numpy()


def darts_block_rnn(y, start, seed):
    from darts import TimeSeries
    from darts.dataprocessing.transformers import Scaler
    from darts.models import BlockRNNModel

    series = TimeSeries.from_values(y.astype(np.float32))
    scaler = Scaler().fit(series[:start])
    scaled = scaler.transform(series)
    model = BlockRNNModel(
        input_chunk_length=WINDOW,
        output_chunk_length=1,
        model="LSTM",
        use_reversible_instance_norm=True,
        random_state=seed,
        pl_trainer_kwargs={
            "accelerator": "cpu",
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "logger": False,
        },
    )
    model.fit(scaled[:start])
    forecasts = model.historical_forecasts(
        scaled,
        start=start,
        forecast_horizon=1,
        stride=1,
        retrain=False,
        last_points_only=True,
        verbose=False,
    )
    forecasts = scaler.inverse_transform(forecasts)
    return np.asarray(forecasts.time_index), forecasts.values().ravel()


PEERS = {
    "neuralforecast LSTM": neuralforecast_lstm,
    "darts BlockRNN LSTM + RIN": darts_block_rnn,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument(
        "--series", nargs="+", choices=list(SERIES), default=list(SERIES)
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "peers.json"
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    # Lightning logs its device and seed at every fit.
    for logger in ("lightning.pytorch", "lightning_fabric", "pytorch_lightning"):
        logging.getLogger(logger).setLevel(logging.ERROR)

    results = {}
    for name in args.series:
        y = series_values(SERIES[name][0])
        start = split_point(len(y))
        methods = {}
        for label, peer in PEERS.items():
            runs = []
            for seed in args.seeds:
                tic = time.perf_counter()
                rows, pred = peer(y, start, seed)
                np.testing.assert_array_equal(rows, np.arange(start, len(y)))
                seconds = time.perf_counter() - tic
                runs.append(
                    {"seed": seed, **scores(y[start:], pred), "seconds": seconds}
                )
                print(f"  {name} {label} seed {seed}: rmse {runs[-1]['rmse']:.4g}")
            methods[label] = over_seeds(runs)
        results[name] = {"n_train": start, "n_test": len(y) - start, "methods": methods}
    print()
    print(table(results))

    import darts
    import neuralforecast
    import torch

    payload = {
        "protocol": {"window": WINDOW, "seeds": args.seeds},
        "versions": {
            "neuralforecast": neuralforecast.__version__,
            "darts": darts.__version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "series": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
