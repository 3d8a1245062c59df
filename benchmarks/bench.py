"""Time LSTMRegressor against a hand-written PyTorch loop, and more.

Run from the repository root::

    python benchmarks/bench.py            # the full run, 5-10 minutes
    python benchmarks/bench.py --quick    # a smoke run, 1-2 minutes

It measures, in one process and side by side (contenders interleaved round
by round, medians over the rounds):

- ``fit``: ``LSTMRegressor.fit`` against a hand-written loop with the same
  semantics (same LSTM and linear head, fused Adam, batch size, number of
  steps, shuffled), on the tutorial workload and on a larger one;
- ``memory``: the peak extra memory of windowing and of one epoch of fit on
  a long series, in a child process, against the raw float32 array, and
  what a fit on twice the rows adds (the memory each further row costs);
- ``predict``: windows per second of ``predict`` against a bare
  ``module(x)`` loop over the same batches under ``inference_mode``;
- ``grid``: ``GridSearchCV`` with ``n_jobs=1`` against ``n_jobs=2``, and
  against a 2-worker Dask ``LocalCluster`` when ``distributed`` is installed;
- ``threads``: the default model's fit with 1 against 2 torch threads;
- ``seeding``: the hand loop seeded through torch's global generator (the
  estimator's scheme before it owned its generators) against the same loop
  drawing weights, shuffles and dropout masks from a generator of its own,
  as ``fit`` now does, with and without dropout;
- ``ensemble``: ``fit`` with ``n_estimators=5`` against ``n_estimators=1``
  on the tutorial and the large workload (five separate fits cost 5.0).

It prints a table and writes the medians and ratios as JSON (``--out``).
Timings are only meaningful on an otherwise idle machine.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import make_regression
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.preprocessing import MinMaxScaler
from torch import nn
from torch.nn import functional as F

from sklstm import LSTMRegressor
from sklstm._model import LSTMNet
from sklstm._training import _dropout_generator

RAW_FEATURES = 8  # the memory workload's width
MB = 1e6

# --------------------------------------------------------------------------
# Workloads


def tutorial_data():
    """800 rows x 1 feature, as in the classic LSTM regression tutorial."""
    X, y = make_regression(n_samples=800, n_features=1, noise=10.0, random_state=0)
    return X.astype(np.float32), y.astype(np.float32)


def long_data(n_rows, n_features, seed=0):
    """A random-walk series and a target that depends on its recent rows."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, n_features), dtype=np.float32).cumsum(axis=0)
    y = X[:, 0] + 0.5 * np.roll(X[:, -1], 3)
    return X, y.astype(np.float32)


FIT_WORKLOADS = {
    "tutorial": {
        "data": tutorial_data,
        "params": {
            "sequence_length": 10,
            "hidden_size": 50,
            "num_layers": 2,
            "batch_size": 16,
        },
        "epochs": 10,
        "repeats": 7,
    },
    "large": {
        "data": lambda: long_data(100_000, 8),
        "params": {
            "sequence_length": 64,
            "hidden_size": 64,
            "num_layers": 2,
            "batch_size": 256,
        },
        "epochs": 1,
        "repeats": 3,
    },
}


def quick_workloads():
    """Tiny versions of every workload, for a smoke run."""
    return {
        "tutorial": {**FIT_WORKLOADS["tutorial"], "epochs": 2, "repeats": 3},
        "large": {
            **FIT_WORKLOADS["large"],
            "data": lambda: long_data(3_000, 8),
            "repeats": 2,
        },
    }


# --------------------------------------------------------------------------
# The hand-written reference


class HandLSTM(nn.Module):
    """What a user writes by hand: an LSTM and a linear head on the last step."""

    def __init__(self, n_features, hidden_size, num_layers, dropout=0.0):
        super().__init__()
        self.lstm = nn.LSTM(
            n_features, hidden_size, num_layers, batch_first=True, dropout=dropout
        )
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def materialised_windows(X, y, sequence_length):
    """Scaled windows of every row, copied once, edge-padded as the estimator does."""
    Xs = MinMaxScaler().fit_transform(X).astype(np.float32)
    ys = MinMaxScaler().fit_transform(y.reshape(-1, 1)).astype(np.float32)
    return torch.from_numpy(edge_windows(Xs, sequence_length)), torch.from_numpy(ys)


def edge_windows(X, sequence_length):
    """A copy of every window of X, the first row repeated in front (window_lag=0)."""
    padded = np.concatenate([np.repeat(X[:1], sequence_length - 1, axis=0), X])
    windows = np.lib.stride_tricks.sliding_window_view(padded, sequence_length, axis=0)
    # sliding_window_view puts the window axis last: (n, n_features, L).
    return np.ascontiguousarray(windows.transpose(0, 2, 1))


def hand_fit(
    windows,
    y,
    params,
    epochs,
    seed=0,
    dropout=0.0,
    own_generator=False,
    sklstm_module=False,
):
    """A tight training loop: shuffled mini-batches, fused Adam, one sync per epoch.

    By default the module a user writes, seeded and shuffled through torch's
    global generator. ``sklstm_module`` runs sklstm's LSTMNet instead, and
    ``own_generator`` draws its weights, shuffles and dropout masks from a
    generator of its own, as ``LSTMRegressor.fit`` does.
    """
    n_features, hidden, layers = (
        windows.shape[2],
        params["hidden_size"],
        params["num_layers"],
    )
    generator = torch.Generator().manual_seed(seed) if own_generator else None
    if not own_generator:
        torch.manual_seed(seed)
    if sklstm_module:
        model = LSTMNet(
            n_features, 1, hidden, layers, dropout, False, generator=generator
        )
    else:
        model = HandLSTM(n_features, hidden, layers, dropout=dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    n, batch_size = len(windows), params["batch_size"]
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        # sklstm's masks; None (nn.LSTM's global draws) for the plain module.
        masks = _dropout_generator(model, generator, "cpu") if own_generator else None
        total = torch.zeros(())
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            x = windows[idx]
            loss = F.mse_loss(model(x, masks) if sklstm_module else model(x), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(idx)
        epoch_loss = total.item() / n
    return model, epoch_loss


def estimator(params, epochs, **extra):
    return LSTMRegressor(
        **params,
        max_iter=epochs,
        n_iter_no_change=np.inf,  # a fixed number of epochs
        random_state=0,
        **extra,
    )


# --------------------------------------------------------------------------
# Timing


def interleaved(contenders, repeats, warmup=None):
    """Median seconds of each callable, run in alternating order round by round.

    ``warmup`` (a dict of callables, by default ``contenders``) runs once,
    untimed, first: it loads kernels and starts worker pools.
    """
    names = list(contenders)
    for name in names:
        (warmup or contenders)[name]()
    times = {name: [] for name in names}
    for round_ in range(repeats):
        order = names if round_ % 2 == 0 else names[::-1]
        for name in order:
            started = time.perf_counter()
            contenders[name]()
            times[name].append(time.perf_counter() - started)
    return {
        name: {"median_s": statistics.median(t), "runs_s": t}
        for name, t in times.items()
    }


def bench_fit(workloads):
    return {name: _time_fit(**w) for name, w in workloads.items()}


def _time_fit(data, params, epochs, repeats):
    """Estimator and hand loop on one workload, interleaved."""
    X, y = data()
    windows, ys = materialised_windows(X, y, params["sequence_length"])
    n_warm = 4 * params["batch_size"]
    timed = interleaved(
        {
            "estimator": lambda: estimator(params, epochs).fit(X, y),
            "hand_loop": lambda: hand_fit(windows, ys, params, epochs),
        },
        repeats,
        warmup={
            "estimator": lambda: estimator(params, 1).fit(X[:n_warm], y[:n_warm]),
            "hand_loop": lambda: hand_fit(windows[:n_warm], ys[:n_warm], params, 1),
        },
    )
    steps = epochs * -(-len(X) // params["batch_size"])
    return {
        "rows": len(X),
        "features": X.shape[1],
        **params,
        "epochs": epochs,
        "adam_steps": steps,
        **timed,
        "ms_per_step_estimator": 1e3 * timed["estimator"]["median_s"] / steps,
        "ms_per_step_hand_loop": 1e3 * timed["hand_loop"]["median_s"] / steps,
        "ratio": timed["estimator"]["median_s"] / timed["hand_loop"]["median_s"],
    }


def bench_threads(quick):
    """The default model on the tutorial workload with 1 and 2 torch threads."""
    X, y = tutorial_data()
    params = FIT_WORKLOADS["tutorial"]["params"]
    epochs = 2 if quick else 10
    timed = interleaved(
        {
            f"{k}_thread": (
                lambda k=k: estimator(params, epochs, n_threads=k).fit(X, y)
            )
            for k in (1, 2)
        },
        3 if quick else 5,
    )
    ratio = timed["2_thread"]["median_s"] / timed["1_thread"]["median_s"]
    return {**timed, "ratio_2_over_1": ratio}


def bench_seeding(quick):
    """Cost of owning the generators, on the tutorial workload (hand loops)."""
    X, y = tutorial_data()
    params = FIT_WORKLOADS["tutorial"]["params"]
    windows, ys = materialised_windows(X, y, params["sequence_length"])
    epochs = 2 if quick else 10
    contenders = {
        f"{scheme}{'_dropout' if dropout else ''}": (
            lambda own=scheme == "own", p=dropout: hand_fit(
                windows,
                ys,
                params,
                epochs,
                dropout=p,
                own_generator=own,
                # With dropout, 0.1's path: nn.LSTM's fused dropout.
                sklstm_module=own or not p,
            )
        )
        for dropout in (0.0, 0.2)
        for scheme in ("global", "own")
    }
    timed = interleaved(contenders, 3 if quick else 7)
    return {
        **timed,
        "ratio_own_over_global": timed["own"]["median_s"] / timed["global"]["median_s"],
        "ratio_own_over_global_dropout": (
            timed["own_dropout"]["median_s"] / timed["global_dropout"]["median_s"]
        ),
    }


def bench_ensemble(workloads):
    """Fit time of a five-member ensemble over one network, interleaved."""
    out = {}
    for name, w in workloads.items():
        X, y = w["data"]()
        n_warm = 4 * w["params"]["batch_size"]
        contenders = {
            f"n_estimators_{k}": (
                lambda k=k: estimator(w["params"], w["epochs"], n_estimators=k).fit(
                    X, y
                )
            )
            for k in (1, 5)
        }
        warmup = {
            f"n_estimators_{k}": (
                lambda k=k: estimator(w["params"], 1, n_estimators=k).fit(
                    X[:n_warm], y[:n_warm]
                )
            )
            for k in (1, 5)
        }
        timed = interleaved(contenders, w["repeats"], warmup=warmup)
        ratios = [
            five / one
            for five, one in zip(
                timed["n_estimators_5"]["runs_s"], timed["n_estimators_1"]["runs_s"]
            )
        ]
        out[name] = {
            **timed,
            "ratio": timed["n_estimators_5"]["median_s"]
            / timed["n_estimators_1"]["median_s"],
            "ratio_range": [min(ratios), max(ratios)],
        }
    return out


def bench_predict(quick):
    """Windows per second of predict and of a bare module loop, same batches."""
    from sklstm._training import _PREDICT_BATCH_SIZE

    X_fit, y_fit = tutorial_data()
    params = FIT_WORKLOADS["tutorial"]["params"]
    est = estimator(params, 1).fit(X_fit, y_fit)
    n_rows = 20_000 if quick else 200_000
    X = np.random.default_rng(1).standard_normal((n_rows, 1)).astype(np.float32)
    scaled_X = est.x_scaler_.transform(X).astype(np.float32)
    windows = torch.from_numpy(edge_windows(scaled_X, params["sequence_length"]))
    batches = torch.split(windows, _PREDICT_BATCH_SIZE)
    module = est.module_

    def bare_loop():
        with torch.inference_mode():
            module.eval()
            return [module(batch) for batch in batches]

    timed = interleaved(
        {"predict": lambda: est.predict(X), "bare_loop": bare_loop}, 3 if quick else 7
    )
    out = {"rows": n_rows, "batch_size": _PREDICT_BATCH_SIZE, **timed}
    for name in ("predict", "bare_loop"):
        out[f"windows_per_s_{name}"] = n_rows / timed[name]["median_s"]
    out["ratio"] = out["windows_per_s_predict"] / out["windows_per_s_bare_loop"]
    return out


def _grid_search(epochs):
    est = estimator(FIT_WORKLOADS["tutorial"]["params"], epochs)
    # 2 candidates x 4 splits = 8 fits; no refit, so only the fits are timed.
    return GridSearchCV(
        est,
        {"learning_rate_init": [1e-3, 3e-3]},
        cv=TimeSeriesSplit(n_splits=4),
        refit=False,
    )


def _time_grid_on_dask(epochs, repeats, X, y):
    import logging

    import dask
    import joblib
    from distributed import Client, LocalCluster

    def on_dask():
        with joblib.parallel_backend("dask"):
            _grid_search(epochs).set_params(n_jobs=-1).fit(X, y)

    # Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, which
    # also freezes glibc's mmap threshold: a training loop that allocates and
    # frees tensors then pays page faults all the time (each fit ran 30-60%
    # slower). Unset it, as the README recommends. The sampling profiler walks
    # every worker thread's stack each 10 ms, holding the GIL: off too.
    dask.config.set(
        {
            "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
            "distributed.worker.profile.enabled": False,
        }
    )
    cluster = LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    try:
        with Client(cluster):
            # The warm-up imports torch in the workers, untimed.
            return interleaved({"dask_2_workers": on_dask}, repeats)
    finally:
        cluster.close()


def bench_grid(quick):
    X, y = tutorial_data()
    # Fits of about a second, so that the parallel speed-up measures the
    # search, not joblib's per-task dispatch.
    epochs = 2 if quick else 40
    repeats = 2 if quick else 3
    # The warm-up round starts the loky workers, so their start-up is not timed.
    timed = interleaved(
        {
            "n_jobs_1": lambda: _grid_search(epochs).set_params(n_jobs=1).fit(X, y),
            "n_jobs_2": lambda: _grid_search(epochs).set_params(n_jobs=2).fit(X, y),
        },
        repeats,
    )
    # A live Dask cluster costs CPU (scheduler, nannies, heartbeats) even when
    # idle, so it is only started once the loky runs are done.
    try:
        import distributed  # noqa: F401
    except ImportError:
        dask_note = "distributed not installed: pip install 'sklstm[dask]'"
    else:
        dask_note = "LocalCluster(n_workers=2, processes=True, threads_per_worker=1)"
        timed.update(_time_grid_on_dask(epochs, repeats, X, y))
    out = {"fits": 8, "epochs": epochs, "dask": dask_note, **timed}
    out["speedup_n_jobs_2"] = (
        timed["n_jobs_1"]["median_s"] / timed["n_jobs_2"]["median_s"]
    )
    if "dask_2_workers" in timed:
        out["ratio_dask_over_n_jobs_2"] = (
            timed["dask_2_workers"]["median_s"] / timed["n_jobs_2"]["median_s"]
        )
    return out


# --------------------------------------------------------------------------
# Memory, measured in a fresh child process per stage


def _status_kb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak():
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


MEMORY_PARAMS = {
    "sequence_length": 64,
    "hidden_size": 8,
    "num_layers": 2,
}
# One batch's activations grow with the batch, not with the series: measured
# at two large batch sizes to show both parts.
MEMORY_BATCH_SIZES = (512, 4096)


def memory_child(stage, n_rows, batch):
    """Peak RSS growth (bytes) of one stage; printed as JSON for the parent.

    Stages: ``windowing`` (scale X into the padded float32 series, gather one
    batch), ``train_step`` (one forward, backward and Adam step of the bare
    model on one batch of pre-made windows: what any training loop needs for
    a batch of this size, whatever the length of the series) and
    ``fit_one_epoch`` (``LSTMRegressor.fit`` with ``max_iter=1``).
    """
    from sklstm._windowing import gather, padded_series, series_windows

    torch.set_num_threads(1)
    X, y = long_data(n_rows, RAW_FEATURES)
    params, length = {**MEMORY_PARAMS, "batch_size": batch}, 64
    if stage == "train_step":
        windows = torch.from_numpy(edge_windows(X[: batch + length], length)[-batch:])
        targets = torch.from_numpy(y[:batch, None].copy())
    # Load torch's kernels on a tiny fit first: a fixed cost, not the data's.
    # It stays small so that it leaves no freed memory for the stage to reuse.
    estimator({**params, "batch_size": 16}, 1).fit(X[:80], y[:80])
    reset = _reset_peak()
    before = _status_kb("VmRSS") if reset else _status_kb("VmHWM")
    if stage == "windowing":
        scaler = MinMaxScaler().fit(X)
        windows = series_windows(padded_series(X, length, scaler.transform), length, 0)
        gather(windows, torch.randperm(len(windows))[:batch])
    elif stage == "train_step":
        hand_fit(windows, targets, params, 1)
    else:
        estimator(params, 1).fit(X, y)
    peak = _status_kb("VmHWM")
    print(json.dumps({"extra_bytes": (peak - before) * 1024, "peak_reset": reset}))


def bench_memory(quick):
    return [_memory_at(quick, batch) for batch in MEMORY_BATCH_SIZES]


def _memory_at(quick, batch):
    n_rows = 100_000 if quick else 1_000_000
    raw = n_rows * RAW_FEATURES * 4
    out = {
        "rows": n_rows,
        "features": RAW_FEATURES,
        **MEMORY_PARAMS,
        "batch_size": batch,
        "raw_float32_bytes": raw,
        "materialised_windows_bytes": raw * MEMORY_PARAMS["sequence_length"],
    }
    for stage in ("windowing", "train_step", "fit_one_epoch"):
        measured = _memory_child(stage, n_rows, batch)
        out[f"{stage}_extra_bytes"] = measured["extra_bytes"]
        out[f"{stage}_ratio"] = measured["extra_bytes"] / raw
        out["peak_reset"] = measured["peak_reset"]
    # What the fit needs for each further row: a fit on twice the rows.
    doubled = _memory_child("fit_one_epoch", 2 * n_rows, batch)["extra_bytes"]
    out["fit_one_epoch_2x_rows_extra_bytes"] = doubled
    out["fit_marginal_ratio"] = (doubled - out["fit_one_epoch_extra_bytes"]) / raw
    # What the fit adds beyond the batch that any loop must hold.
    beyond = out["fit_one_epoch_extra_bytes"] - out["train_step_extra_bytes"]
    out["fit_beyond_train_step_ratio"] = beyond / raw
    return out


def _memory_child(stage, n_rows, batch):
    result = subprocess.run(
        [sys.executable, __file__, "--memory-child", stage, str(n_rows), str(batch)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------
# Report


def _fit_rows(fit):
    for name, r in fit.items():
        yield (
            (
                f"fit {name} ({r['rows']}x{r['features']}, L={r['sequence_length']}, "
                f"hidden {r['hidden_size']}, {r['adam_steps']} steps)"
            ),
            f"{r['estimator']['median_s']:.3f} s vs {r['hand_loop']['median_s']:.3f} s",
            f"estimator / hand loop = {r['ratio']:.3f}",
        )


def _memory_rows(results):
    for m in results:
        yield _memory_row(m)


def _memory_row(m):
    raw = m["raw_float32_bytes"]
    return (
        (
            f"memory ({m['rows']}x{m['features']} float32 = {raw / MB:.0f} MB, "
            f"L={m['sequence_length']}, batch {m['batch_size']})"
        ),
        (
            f"windowing +{m['windowing_extra_bytes'] / MB:.0f} MB, "
            f"one step +{m['train_step_extra_bytes'] / MB:.0f} MB, "
            f"fit +{m['fit_one_epoch_extra_bytes'] / MB:.0f} MB"
        ),
        (
            f"windowing / raw = {m['windowing_ratio']:.2f}, "
            f"fit / raw = {m['fit_one_epoch_ratio']:.2f}, "
            f"(fit - step) / raw = {m['fit_beyond_train_step_ratio']:.2f}, "
            f"each further row / raw row = {m['fit_marginal_ratio']:.2f} "
            f"(a window copy: {m['materialised_windows_bytes'] / raw:.0f})"
        ),
    )


def _predict_rows(p):
    yield (
        f"predict ({p['rows']} windows, batch {p['batch_size']})",
        f"{p['windows_per_s_predict']:.0f} vs {p['windows_per_s_bare_loop']:.0f} windows/s",
        f"predict / bare loop = {p['ratio']:.3f}",
    )


def _grid_rows(g):
    times = f"{g['n_jobs_1']['median_s']:.2f} s vs {g['n_jobs_2']['median_s']:.2f} s"
    ratios = f"n_jobs=2 speed-up = {g['speedup_n_jobs_2']:.2f}"
    if "ratio_dask_over_n_jobs_2" in g:
        times += f" vs Dask {g['dask_2_workers']['median_s']:.2f} s"
        ratios += f", Dask / n_jobs=2 = {g['ratio_dask_over_n_jobs_2']:.2f}"
    yield (f"GridSearchCV ({g['fits']} fits, n_jobs 1 vs 2)", times, ratios)


def _threads_rows(t):
    yield (
        "threads (tutorial fit, 1 vs 2)",
        f"{t['1_thread']['median_s']:.3f} s vs {t['2_thread']['median_s']:.3f} s",
        f"2 threads / 1 thread = {t['ratio_2_over_1']:.2f}",
    )


def _seeding_rows(s):
    yield (
        "seeding (tutorial hand loop, global vs own generator)",
        (
            f"{s['global']['median_s']:.3f} s vs {s['own']['median_s']:.3f} s; "
            f"dropout 0.2: {s['global_dropout']['median_s']:.3f} s vs "
            f"{s['own_dropout']['median_s']:.3f} s"
        ),
        (
            f"own / global = {s['ratio_own_over_global']:.3f}, with dropout "
            f"{s['ratio_own_over_global_dropout']:.3f}"
        ),
    )


def _ensemble_rows(e):
    for name, r in e.items():
        low, high = r["ratio_range"]
        yield (
            f"ensemble ({name} fit, 5 members vs 1)",
            f"{r['n_estimators_5']['median_s']:.3f} s vs "
            f"{r['n_estimators_1']['median_s']:.3f} s",
            f"5 / 1 = {r['ratio']:.2f} (rounds {low:.2f}-{high:.2f}; 5 fits: 5.00)",
        )


def print_table(results):
    formatters = {
        "fit": _fit_rows,
        "memory": _memory_rows,
        "predict": _predict_rows,
        "grid": _grid_rows,
        "threads": _threads_rows,
        "seeding": _seeding_rows,
        "ensemble": _ensemble_rows,
    }
    rows = [
        row
        for name, rows_of in formatters.items()
        if name in results
        for row in rows_of(results[name])
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


SECTIONS = ("fit", "memory", "predict", "grid", "threads", "seeding", "ensemble")


def environment():
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).parent / "results" / "bench.json",
        help="where to write the JSON results",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=SECTIONS,
        default=SECTIONS,
        help="run only these sections (default: all)",
    )
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        stage, n_rows, batch = args.memory_child
        memory_child(stage, int(n_rows), int(batch))
        return

    # The hand loop runs with the estimator's default of one torch thread.
    torch.set_num_threads(1)
    workloads = quick_workloads() if args.quick else FIT_WORKLOADS
    started = time.perf_counter()
    results = {"quick": args.quick, "environment": environment()}
    sections = {
        "fit": lambda: bench_fit(workloads),
        "memory": lambda: bench_memory(args.quick),
        "predict": lambda: bench_predict(args.quick),
        "grid": lambda: bench_grid(args.quick),
        "threads": lambda: bench_threads(args.quick),
        "seeding": lambda: bench_seeding(args.quick),
        "ensemble": lambda: bench_ensemble(workloads),
    }
    results["section_s"] = {}
    for name in args.only:
        run = sections[name]
        print(f"running {name} ...", flush=True)
        section_started = time.perf_counter()
        results[name] = run()
        results["section_s"][name] = time.perf_counter() - section_started
    results["total_s"] = time.perf_counter() - started
    results["environment"]["load_average_end"] = os.getloadavg()

    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
