"""Benchmarks (not tests): each module measures one thing and prints its numbers. ``make bench``."""
