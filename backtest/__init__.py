"""Backtests: replay a time range of the transaction topic through the live and a draft rule set."""
