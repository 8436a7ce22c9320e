"""Routing: which locations ship which quantities of an order. Pure modules, no database, no web."""
