"""The sweeps dashboard, served with ``panel serve`` (see dashboards/README.md)."""

from quantdesk.ui import sweeps_page

sweeps_page().servable(title="quantdesk · sweeps")
