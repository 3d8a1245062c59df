"""Loaders for the series stored as CSV files in ``sklstm/datasets/data``."""

from importlib import resources


def _import_pandas(loader):
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(
            f"{loader} returns pandas objects; install pandas with "
            "`pip install pandas` (or `pip install sklstm[pandas]`)."
        ) from exc
    return pd


def _load(filename, loader, date_column, date_format, freq, name, as_frame):
    pd = _import_pandas(loader)
    with resources.files(__package__).joinpath("data", filename).open("r") as f:
        frame = pd.read_csv(f, dtype={date_column: str})
    index = pd.DatetimeIndex(
        pd.to_datetime(frame[date_column], format=date_format), freq=freq, name="date"
    )
    series = pd.Series(frame[name].to_numpy(dtype=float), index=index, name=name)
    return series.to_frame() if as_frame else series


def load_sunspots(*, as_frame=False):
    """Load the yearly sunspot numbers, 1700 to 2008.

    The yearly mean number of sunspots, 309 values. The series is
    quasi-periodic (a cycle of about 11 years whose amplitude varies),
    without trend: a classic benchmark for nonlinear autoregression.

    Read more in the statsmodels documentation of
    ``statsmodels.datasets.sunspots``, where this copy comes from.

    Parameters
    ----------
    as_frame : bool, default=False
        If True, return a one-column DataFrame (column ``"sunspots"``),
        ready to be passed as the 2D ``X`` of
        :class:`~sklstm.LSTMRegressor`; otherwise a Series.

    Returns
    -------
    sunspots : pandas.Series or pandas.DataFrame of shape (309,) or (309, 1)
        Float values indexed by a yearly :class:`pandas.DatetimeIndex`
        (``freq="YS-JAN"``, dates 1700-01-01 to 2008-01-01) named ``"date"``.

    Notes
    -----
    Source: National Geophysical Data Center (NOAA),
    http://www.ngdc.noaa.gov/stp/solar/solarda3.html, as distributed with
    statsmodels (``statsmodels.datasets.sunspots``, file ``sunspots.csv``),
    unchanged except for the column names. Licence: public domain (a work of
    the U.S. government).

    Examples
    --------
    >>> from sklstm.datasets import load_sunspots
    >>> y = load_sunspots()
    >>> y.shape
    (309,)
    >>> y.head(3)
    date
    1700-01-01     5.0
    1701-01-01    11.0
    1702-01-01    16.0
    Freq: YS-JAN, Name: sunspots, dtype: float64
    """
    return _load(
        "sunspots.csv", "load_sunspots", "year", "%Y", "YS-JAN", "sunspots", as_frame
    )


def load_co2(*, as_frame=False):
    """Load the monthly mean atmospheric CO2 at Mauna Loa, March 1958 to December 2001.

    CO2 concentration in parts per million (ppmv), 526 monthly values: a
    steady upward trend with a yearly seasonal cycle (season length 12),
    the classic case where a model must extrapolate beyond the range it
    was trained on.

    Parameters
    ----------
    as_frame : bool, default=False
        If True, return a one-column DataFrame (column ``"co2"``), ready to
        be passed as the 2D ``X`` of :class:`~sklstm.LSTMRegressor`;
        otherwise a Series.

    Returns
    -------
    co2 : pandas.Series or pandas.DataFrame of shape (526,) or (526, 1)
        Float values indexed by a monthly :class:`pandas.DatetimeIndex`
        (``freq="MS"``, month starts 1958-03-01 to 2001-12-01) named
        ``"date"``.

    Notes
    -----
    Source: weekly averages of continuous air samples at Mauna Loa
    Observatory, Hawaii (Keeling, C.D. and T.P. Whorf, 2004, "Atmospheric CO2
    concentrations derived from flask air samples at sites in the SIO
    network", in Trends: A Compendium of Data on Global Change, CDIAC, Oak
    Ridge National Laboratory, U.S. Department of Energy), as distributed
    with statsmodels (``statsmodels.datasets.co2``). Licence: public domain.

    Derived here: the 2,284 weekly values (59 of them missing) were averaged
    into calendar-month means over the available weeks, and the 5 months
    without any weekly value (1958-06, 1958-10, 1964-02 to 1964-04) were
    filled by linear interpolation in time; values are rounded to 0.01 ppmv.

    Examples
    --------
    >>> from sklstm.datasets import load_co2
    >>> y = load_co2()
    >>> y.shape
    (526,)
    >>> y.head(3)
    date
    1958-03-01    316.10
    1958-04-01    317.20
    1958-05-01    317.43
    Freq: MS, Name: co2, dtype: float64
    """
    return _load("co2.csv", "load_co2", "month", "%Y-%m", "MS", "co2", as_frame)
