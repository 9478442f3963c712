"""The predictions dashboard, served with ``panel serve`` (see dashboards/README.md)."""

from quantdesk.ui import predictions_page

predictions_page().servable(title="quantdesk · predictions")
