"""The backtests dashboard: ``panel serve dashboards/backtests.py`` (see dashboards/README.md)."""

from quantdesk.ui import backtests_page

backtests_page().servable(title="quantdesk · backtests")
