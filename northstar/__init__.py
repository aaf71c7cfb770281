"""Northstar: code review, tests before merge, and issue management for small product teams."""

__version__ = "0.1.0"
