"""The stochastic multi-echelon inventory model, its solver hand-over, the command line."""
