"""The sweeps dashboard: ``panel serve dashboards/sweeps.py`` (see dashboards/README.md)."""

from quantdesk.ui import sweeps_page

sweeps_page().servable(title="quantdesk · sweeps")
