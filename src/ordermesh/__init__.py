"""Ordermesh: an open-source omnichannel order management system."""

__version__ = "0.1.0"
