"""The keys dashboard, served with ``panel serve`` (see dashboards/README.md)."""

from quantdesk.ui import keys_page

keys_page().servable(title="quantdesk · keys")
