"""Grid search on a real Dask cluster: same scores, and the thread policy holds.

Skipped unless the ``dask`` extra is installed (``pip install sklstm[dask]``).
"""

import logging
import os
from contextlib import contextmanager

import numpy as np
import pytest

pytest.importorskip("distributed")

import dask
import joblib
import torch
from distributed import Client, LocalCluster, get_task_stream
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

from sklstm import LSTMRegressor

# The settings the README and the user guide recommend for training on Dask.
RECOMMENDED_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
}


@contextmanager
def _client(n_workers, threads_per_worker):
    """A client of a local cluster of worker processes, configured as advised."""
    with (
        dask.config.set(RECOMMENDED_CONFIG),
        LocalCluster(
            n_workers=n_workers,
            processes=True,
            threads_per_worker=threads_per_worker,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def client():
    with _client(n_workers=2, threads_per_worker=1) as client:
        yield client


def _series(n_rows=160, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows)
    X = np.column_stack([np.sin(t / 6), rng.standard_normal(n_rows) * 0.1])
    y = np.sin((t + 1) / 6)
    return X, y


def _search():
    estimator = LSTMRegressor(
        sequence_length=5,
        hidden_size=8,
        num_layers=1,
        max_iter=5,
        n_iter_no_change=np.inf,
        random_state=0,
    )
    return GridSearchCV(
        estimator,
        {"learning_rate_init": [1e-3, 1e-2]},
        cv=TimeSeriesSplit(n_splits=2),
        refit=False,
    )


def test_grid_search_on_dask_equals_one_process(client):
    X, y = _series()
    local = _search().set_params(n_jobs=1).fit(X, y)
    with get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        remote = _search().set_params(n_jobs=-1).fit(X, y)

    # The fits ran as tasks on the cluster's workers, not in this process.
    workers = {task["worker"] for task in tasks.data}
    assert workers and workers <= set(client.scheduler_info()["workers"])
    for key in ("split0_test_score", "split1_test_score", "mean_test_score"):
        # Same seeds and one thread everywhere; a tolerance only for the
        # last bits that memory alignment can move in vectorised kernels.
        np.testing.assert_allclose(
            remote.cv_results_[key], local.cv_results_[key], rtol=1e-6, atol=1e-9
        )
    assert np.all(np.isfinite(remote.cv_results_["mean_test_score"]))


def test_fit_uses_one_thread_inside_a_dask_worker(client):
    # A Dask worker may run torch with several threads (it does not limit
    # them as joblib's loky workers do); set 2 there explicitly so the test
    # does not depend on the worker's environment.

    # Defined here, so that it is sent to the worker by value (modules and
    # LSTMRegressor by name) and this test module need not be importable there.
    def fit_in_worker(worker_threads):
        seen = []

        class Recording(LSTMRegressor):
            def _build_module(self, *args):
                module = super()._build_module(*args)
                module.register_forward_pre_hook(
                    lambda mod, args: seen.append(torch.get_num_threads())
                )
                return module

        previous = torch.get_num_threads()
        torch.set_num_threads(worker_threads)
        try:
            X = np.sin(np.arange(60) / 6).reshape(-1, 1)
            est = Recording(sequence_length=4, hidden_size=4, num_layers=1, max_iter=2)
            est.fit(X[:-1], X[1:, 0])
            est.predict(X)
            return sorted(set(seen)), torch.get_num_threads()
        finally:
            torch.set_num_threads(previous)

    during, after = client.submit(fit_in_worker, 2, pure=False).result()
    # fit and predict ran with one thread; the worker's 2 came back after.
    assert during == [1]
    assert after == 2


def test_recommended_config_reaches_the_workers(client):
    def worker_settings():
        return (
            os.environ.get("MALLOC_TRIM_THRESHOLD_"),
            dask.config.get("distributed.worker.profile.enabled"),
        )

    # Each worker keeps glibc's default trimming and runs no sampling profiler.
    for trim, profiling in client.run(worker_settings).values():
        assert trim is None
        assert profiling is False


def test_fits_in_a_two_thread_dask_worker_equal_serial_fits():
    # Two fits at a time in one worker process, in its two threads: each
    # draws from its own generator, so each equals the same fit run alone.
    X, y = _series()

    def fit_predict(seed):
        params = dict(sequence_length=5, hidden_size=8, num_layers=2, dropout=0.3)
        reg = LSTMRegressor(max_iter=4, random_state=seed, **params)
        return reg.fit(X, y).predict(X)

    serial = [fit_predict(seed) for seed in range(4)]
    with _client(n_workers=1, threads_per_worker=2) as client:
        futures = client.map(fit_predict, range(4), pure=False)
        threaded = client.gather(futures)
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(a, b)
