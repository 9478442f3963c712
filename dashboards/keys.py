"""The keys dashboard: ``panel serve dashboards/keys.py`` (see dashboards/README.md)."""

from quantdesk.ui import keys_page

keys_page().servable(title="quantdesk · keys")
