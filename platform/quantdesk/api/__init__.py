"""The library's user-facing workflows, successors of the original platform's REST API.

Each function here combines the layers below it (data, strategies, engine)
the way a user asks for it: ``quantdesk.backtest("sma_cross", "sample:BTC/USDT")``.
"""
