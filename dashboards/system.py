"""The system dashboard: ``panel serve dashboards/system.py`` (see dashboards/README.md)."""

from quantdesk.ui import system_page

system_page().servable(title="quantdesk · system")
