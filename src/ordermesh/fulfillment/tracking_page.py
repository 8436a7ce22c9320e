"""The customer's tracking page: one HTML page, autoescaped, no scripts."""

from __future__ import annotations

from jinja2 import Environment, select_autoescape

from ordermesh.fulfillment.schemas import OrderTracking

_environment = Environment(autoescape=select_autoescape(default=True, default_for_string=True))

_PAGE = _environment.from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{% if order %}Order {{ order.number }}{% else %}Track your order{% endif %}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}.status{font-weight:bold;text-transform:capitalize}li{margin:.3rem 0}
.muted{color:#666;font-size:.9rem}form label{display:block;margin:.5rem 0}</style></head><body>
{% if order %}
<h1>Order {{ order.number }}</h1>
<p>Status: <span class="status">{{ order.status.replace('_', ' ') }}</span></p>
{% for s in order.shipments %}
<h2>Package {{ s.package_no }}: <span class="status">{{ s.status.replace('_', ' ') }}</span></h2>
<p class="muted">{{ s.carrier }} {{ s.service }} &middot; tracking number {{ s.tracking_number }}</p>
{% endfor %}
<h2>Timeline</h2>
<ol>{% for entry in order.timeline %}
<li><span class="muted">{{ entry.at.strftime('%Y-%m-%d %H:%M %Z') }}</span> {{ entry.what }}</li>
{% endfor %}</ol>
{% else %}
<h1>Track your order</h1>
{% if problem %}<p>{{ problem }}</p>{% endif %}
<form method="get">
<label>Order number <input name="order" required value="{{ number or '' }}"></label>
<label>Email <input name="email" type="email"></label>
<label>or postal code <input name="postal_code"></label>
<button>Track</button></form>
{% endif %}
</body></html>
"""
)


def render(order: OrderTracking | None, *, number: str | None = None, problem: str | None = None) -> str:
    return _PAGE.render(order=order.model_dump() if order else None, number=number, problem=problem)
