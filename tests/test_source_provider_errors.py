"""The helpers every remote source turns a provider's failure into a message with."""

from __future__ import annotations

import time
from types import ModuleType

import pytest

from quantdesk.data.credentials import ApiKey
from quantdesk.data.provider_errors import (
    provider_message,
    retry_after_seconds,
    without_secrets,
)
from quantdesk.data.sources import alpaca_source, ccxt_source, yfinance_source


def test_a_provider_message_is_one_line_cut_to_length() -> None:
    assert provider_message('binance {"code":-2015}\n  detail') == 'binance {"code":-2015} detail'
    assert provider_message(ValueError("no\tbars")) == "no bars"
    long = provider_message("x" * 500)
    assert len(long) == 240
    assert long.endswith("…")
    assert provider_message("abcdef", limit=4) == "abc…"


def test_a_json_error_body_stands_for_its_message() -> None:
    assert provider_message('{"code": 42210000, "message": "invalid\\nsymbol"}') == "invalid symbol"
    assert provider_message('{"code": 1}') == '{"code": 1}'
    assert provider_message("[1, 2]") == "[1, 2]"


def test_secrets_and_key_ids_are_redacted() -> None:
    key = ApiKey("binance", "default", "KEYID0123456789", "SECRET0123456789")
    text = "GET /klines?apiKey=KEYID0123456789&signature=SECRET0123456789"
    assert without_secrets(text, key) == "GET /klines?apiKey=<redacted>&signature=<redacted>"
    assert without_secrets(text, None) == text


def test_retry_after_is_read_from_either_header() -> None:
    assert retry_after_seconds({"Retry-After": "3"}) == 3.0
    assert retry_after_seconds({"Retry-After": "soon", "X-RateLimit-Reset": "0"}) == 0.0
    reset = retry_after_seconds({"X-RateLimit-Reset": str(time.time() + 30)})
    assert reset is not None
    assert 25 < reset <= 30
    assert retry_after_seconds({"Retry-After": "-5"}) == 0.0
    assert retry_after_seconds({}) is None
    assert retry_after_seconds(None) is None
    assert retry_after_seconds({"Retry-After": "soon"}) is None


@pytest.mark.parametrize("module", [alpaca_source, ccxt_source, yfinance_source])
def test_no_adapter_keeps_its_own_copy(module: ModuleType) -> None:
    own = {"_clean", "_redacted", "_retry_after", "_seconds", "_short", "_provider_message"}
    found = {
        name
        for name in own
        if hasattr(module, name)
        or any(hasattr(value, name) for value in vars(module).values() if isinstance(value, type))
    }
    assert found == set()
