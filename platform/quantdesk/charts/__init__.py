"""Pictures of results: the UI layer's HoloViews charts.

Nothing below this layer imports it: :meth:`quantdesk.BacktestResult.plot`
finds its chart maker through the ``quantdesk.result_plotters`` entry points.
"""
