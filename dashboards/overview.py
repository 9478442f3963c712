"""The overview dashboard: ``panel serve dashboards/overview.py`` (see dashboards/README.md)."""

from quantdesk.ui import overview_page

overview_page().servable(title="quantdesk · overview")
