"""The system dashboard, served with ``panel serve`` (see dashboards/README.md)."""

from quantdesk.ui import system_page

system_page().servable(title="quantdesk · system")
