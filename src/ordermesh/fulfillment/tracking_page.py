"""The customer's tracking page: one HTML page, autoescaped, no scripts; its one inline style is allowed
by its hash in the page's Content-Security-Policy, and nothing else is."""

from __future__ import annotations

import base64
import hashlib
from datetime import date

from jinja2 import Environment, select_autoescape

from ordermesh.fulfillment.schemas import OrderTracking

_environment = Environment(autoescape=select_autoescape(default=True, default_for_string=True))

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "h1{font-size:1.4rem}.status{font-weight:bold;text-transform:capitalize}li{margin:.3rem 0}"
    ".muted{color:#666;font-size:.9rem}form label{display:block;margin:.5rem 0}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
PAGE_CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)

_PAGE = _environment.from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{% if order %}Order {{ order.number }}{% else %}Track your order{% endif %}</title>
<style>{{ style|safe }}</style></head><body>
{% if order %}
<h1>Order {{ order.number }}</h1>
<p>Status: <span class="status">{{ order.status.replace('_', ' ') }}</span></p>
{% if order.promised_delivery_date %}
<p>Promised delivery: {{ day(order.promised_delivery_date) }}</p>
{% endif %}
{% if order.estimated_delivery_date %}
<p>Latest estimate: <strong>{{ day(order.estimated_delivery_date) }}</strong>
<span class="muted">({{ 'from the carrier' if order.estimate_source == 'carrier' else 'as promised' }})</span>
</p>
{% endif %}
{% for s in order.shipments %}
<h2>Package {{ s.package_no }}: <span class="status">{{ s.status.replace('_', ' ') }}</span></h2>
<p class="muted">
{% if s.carrier_url %}<a href="{{ s.carrier_url }}" rel="noopener noreferrer">{{ s.carrier_name }}</a>
{% else %}{{ s.carrier_name or s.carrier }}{% endif %}
{{ s.service or '' }} &middot; tracking number {{ s.tracking_number }}
{% if s.estimated_delivery_date and s.status != 'delivered' %}
&middot; estimated delivery {{ day(s.estimated_delivery_date) }}
{% endif %}
</p>
{% if s['items'] %}<ul>{% for item in s['items'] %}
<li>{{ item.quantity }} &times; {{ item.name }}</li>{% endfor %}</ul>{% endif %}
{% endfor %}
{% for r in order.returns %}
<h2>Return {{ r.number }}</h2>
<p class="muted">{{ r.carrier }} {{ r.service }} &middot; return tracking number {{ r.tracking_number }}</p>
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
<label>Tracking number <input name="tracking_number"></label>
<button>Track</button></form>
{% endif %}
</body></html>
"""
)


def render(order: OrderTracking | None, *, number: str | None = None, problem: str | None = None) -> str:
    return _PAGE.render(
        order=order.model_dump() if order else None, number=number, problem=problem, style=STYLE, day=_day
    )


def _day(value: date) -> str:
    """A delivery day as a customer reads it: "Friday, December 11, 2026"."""
    return f"{value:%A}, {value:%B} {value.day}, {value.year}"
