"""Demand scenarios sampled from forecast distributions, with their probabilities."""

from scenarios.copula import GaussianCopula, fit_copula, load_copula
from scenarios.sampling import METHODS, ScenarioSet, sample_scenarios

__all__ = ["METHODS", "GaussianCopula", "ScenarioSet", "fit_copula", "load_copula", "sample_scenarios"]
