"""The predictions dashboard: ``panel serve dashboards/predictions.py`` (see dashboards/README.md)."""

from quantdesk.ui import predictions_page

predictions_page().servable(title="quantdesk · predictions")
