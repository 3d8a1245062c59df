"""Small real time series shipped with sklstm, loaded without network access."""

from ._base import load_co2, load_sunspots

__all__ = ["load_co2", "load_sunspots"]
