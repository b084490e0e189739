"""Demand forecasts: history in, a distribution per item x location x period out."""
