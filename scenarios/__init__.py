"""Demand scenarios sampled from forecast distributions, with their probabilities."""

from scenarios.sampling import METHODS, ScenarioSet, sample_scenarios

__all__ = ["METHODS", "ScenarioSet", "sample_scenarios"]
