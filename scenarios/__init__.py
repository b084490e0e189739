"""Demand scenarios sampled from forecast distributions, with their probabilities."""
