"""Demand forecasts: history in, a distribution per item x location x period out."""

from .distributions import FAMILIES, QUANTILE_LEVELS, DistributionTable
from .history import read_calendar, read_history, validate_history
from .grouped import GroupedForecaster
from .ngboost_model import NGBoostForecaster

__all__ = [
    "FAMILIES",
    "QUANTILE_LEVELS",
    "DistributionTable",
    "GroupedForecaster",
    "NGBoostForecaster",
    "read_calendar",
    "read_history",
    "validate_history",
]
