"""Backtests: clearing submitted orders against realised prices and valuing the outcome."""
