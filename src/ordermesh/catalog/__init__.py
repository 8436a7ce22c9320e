"""The merchant's catalog of SKUs."""
