"""The seasonal period: checked against the window, and read off a date index.

Nothing here knows about torch; the estimator turns the period into the
window row that ``window_normalization="seasonal"`` centres on.
"""

# Seasonal period by the leading letters of a pandas frequency's rule code:
# the cycle a practitioner would give statsforecast (a year of months,
# quarters or weeks; a week of days; a day of hours or minutes).
_PERIODS = (
    ("Y", 1),
    ("A", 1),
    ("Q", 4),
    ("M", 12),
    ("SM", 24),
    ("W", 52),
    ("BY", 1),
    ("BA", 1),
    ("BQ", 4),
    ("BM", 12),
    ("CBM", 12),
    ("B", 5),
    ("C", 5),
    ("D", 7),
    ("h", 24),
    ("H", 24),
    ("min", 1440),
    ("T", 1440),
)
# Longest codes first, so that "BM" is not read as "B".
_PERIODS = sorted(_PERIODS, key=lambda period: -len(period[0]))


def centre_step(seasonal_period, sequence_length, window_lag, n_rows=None):
    """Index, from the end of a window, of the value one season before its target.

    The window of target row ``t`` ends at row ``t - window_lag``, so row
    ``t - seasonal_period`` is ``seasonal_period - window_lag`` rows before
    its end. Raises a ``ValueError`` that says what to change when the window
    cannot hold that row, or when the period does not fit the ``n_rows`` of
    a training series.
    """
    if seasonal_period is None:
        raise ValueError(
            "window_normalization='seasonal' needs seasonal_period, the number "
            "of rows in one season (12 for monthly data with a yearly cycle)."
        )
    if seasonal_period < window_lag:
        raise ValueError(
            f"seasonal_period={seasonal_period} is shorter than window_lag="
            f"{window_lag}: the value one season before the target lies after the "
            "end of its window. Use window_normalization='last' or a longer "
            "seasonal_period."
        )
    back = seasonal_period - window_lag
    if back >= sequence_length:
        raise ValueError(
            f"sequence_length={sequence_length} cannot hold the value one season "
            f"before the target (seasonal_period={seasonal_period}, window_lag="
            f"{window_lag}): set sequence_length >= {back + 1}."
        )
    if n_rows is not None and seasonal_period >= n_rows:
        raise ValueError(
            f"seasonal_period={seasonal_period} is not shorter than the training "
            f"series ({n_rows} rows): no season repeats in it. Pass a longer "
            "series or the right seasonal_period."
        )
    return -(back + 1)


def seasonal_period_of(index):
    """The usual seasonal period of a pandas ``DatetimeIndex``'s frequency.

    Monthly data gives 12, quarterly 4, weekly 52, daily 7, business-daily 5,
    hourly 24 and data every ``k`` minutes ``1440 / k`` (a daily cycle);
    yearly data gives 1 (no season).

    Parameters
    ----------
    index : pandas.DatetimeIndex
        The dates of a series; its ``freq``, or else the frequency pandas
        infers from at least three dates.

    Returns
    -------
    seasonal_period : int

    Raises
    ------
    ValueError
        When the index has no regular frequency, or one without a usual
        season (seconds, or a multiple that does not divide the cycle).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklstm import seasonal_period_of
    >>> seasonal_period_of(pd.date_range("2020-01", periods=36, freq="MS"))
    12
    >>> seasonal_period_of(pd.date_range("2020-01-01", periods=96, freq="30min"))
    48
    """
    import pandas as pd

    if not isinstance(index, pd.DatetimeIndex):
        raise ValueError(
            f"seasonal_period_of needs a pandas DatetimeIndex, got "
            f"{type(index).__name__}. Pass the seasonal period as an int."
        )
    freq = index.freq or (pd.infer_freq(index) if len(index) >= 3 else None)
    if freq is None:
        raise ValueError(
            "The index has no regular frequency to read a season from; pass the "
            "seasonal period as an int (or set one with DataFrame.asfreq)."
        )
    offset = pd.tseries.frequencies.to_offset(freq)
    for code, cycle in _PERIODS:
        if offset.rule_code.startswith(code):
            if cycle % offset.n == 0:
                return cycle // offset.n
            break
    raise ValueError(
        f"Frequency {offset.freqstr!r} has no usual seasonal period; pass it as an int."
    )
