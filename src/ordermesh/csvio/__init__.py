"""CSV import and export of SKUs, locations and inventory.

`parse` holds the pure part (text in, validated models and row errors out), so that the command line
and an HTTP upload can share it; `store` resolves codes against the database and writes through the
domain services.
"""
