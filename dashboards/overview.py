"""The overview dashboard, served with ``panel serve`` (see dashboards/README.md)."""

from quantdesk.ui import overview_page

overview_page().servable(title="quantdesk · overview")
