"""The backtests dashboard, served with ``panel serve`` (see dashboards/README.md)."""

from quantdesk.ui import backtests_page

backtests_page().servable(title="quantdesk · backtests")
