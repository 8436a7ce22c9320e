"""Sales channels: orders in from each storefront, stock and tracking numbers back out."""
