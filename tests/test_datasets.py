"""The shipped series load offline, with a regular DatetimeIndex and no gaps."""

import sys

import numpy as np
import pandas as pd
import pytest

from sklstm import LSTMRegressor
from sklstm.datasets import load_co2, load_sunspots

CASES = [
    (load_sunspots, "sunspots", 309, "1700-01-01", "2008-01-01", "YS-JAN"),
    (load_co2, "co2", 526, "1958-03-01", "2001-12-01", "MS"),
]


@pytest.mark.parametrize("loader, name, n, first, last, freq", CASES)
def test_series_shape_index_and_values(loader, name, n, first, last, freq):
    y = loader()
    assert isinstance(y, pd.Series)
    assert y.name == name
    assert y.shape == (n,)
    assert y.dtype == np.float64
    assert isinstance(y.index, pd.DatetimeIndex)
    assert y.index[0] == pd.Timestamp(first)
    assert y.index[-1] == pd.Timestamp(last)
    # A regular calendar without gaps: the index equals its own date_range.
    expected = pd.date_range(first, last, freq=freq, name="date")
    pd.testing.assert_index_equal(y.index, expected, exact=True)
    assert np.isfinite(y.to_numpy()).all()


@pytest.mark.parametrize("loader, name, n, first, last, freq", CASES)
def test_as_frame_returns_one_column_frame(loader, name, n, first, last, freq):
    frame = loader(as_frame=True)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == [name]
    pd.testing.assert_series_equal(frame[name], loader())


def test_known_values():
    sunspots = load_sunspots()
    assert sunspots["1700-01-01"] == 5.0
    assert sunspots["2008-01-01"] == pytest.approx(2.9)
    assert sunspots.max() == pytest.approx(190.2)
    co2 = load_co2()
    assert co2["1958-03-01"] == pytest.approx(316.1)
    # The monthly series trends up: each year's mean exceeds the previous one.
    yearly = co2.groupby(co2.index.year).mean()
    assert (np.diff(yearly.to_numpy()) > 0).all()


def test_loaders_return_fresh_objects():
    a = load_co2()
    a.iloc[0] = -1.0
    assert load_co2().iloc[0] == pytest.approx(316.1)


def test_frame_fits_the_estimator_with_its_feature_name():
    X = load_co2(as_frame=True).iloc[:60]
    reg = LSTMRegressor(
        sequence_length=5, window_lag=1, hidden_size=8, max_iter=2, random_state=0
    ).fit(X, X["co2"])
    assert list(reg.feature_names_in_) == ["co2"]
    assert reg.predict(X).shape == (60,)


def test_loaders_name_the_missing_dependency(monkeypatch):
    # sys.modules[name] = None makes `import pandas` raise ImportError.
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        load_sunspots()
