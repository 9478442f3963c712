"""The API layer's own work: what it resolves, accepts, refuses and returns."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import quantdesk
from quantdesk.api import data as api_data
from quantdesk.api import keys as api_keys
from quantdesk.api import runs as api_runs
from quantdesk.api.keys import MasterKeyRotation
from quantdesk.api.runs import SavedRun
from quantdesk.config import Settings
from quantdesk.errors import InvalidInputError, RunNotFoundError
from quantdesk.store.vault import KEY_FILE
from tests.saved_runs import assert_run_matches, small_result

WINDOW = {"start": "2024-01-01", "end": "2024-02-01"}


@pytest.fixture
def user(database_user: Callable[..., Any]) -> Any:
    return database_user("api")


def test_the_package_reaches_the_library_through_the_api() -> None:
    for name, module in (
        ("load", api_data),
        ("LoadResult", api_data),
        ("resample_ohlcv", api_data),
        ("gap_report", api_data),
        ("add_api_key", api_keys),
        ("get_api_key", api_keys),
        ("list_api_keys", api_keys),
        ("remove_api_key", api_keys),
        ("load_run", api_runs),
        ("remove_run", api_runs),
    ):
        assert getattr(quantdesk, name) is getattr(module, name), name


def test_a_run_is_named_by_its_id_its_listing_or_itself(user: Any) -> None:
    result = small_result(31)
    info = api_runs.save_run(result, name="by reference", settings=user.settings)
    by_listing = quantdesk.load_run(info, settings=user.settings)
    by_text = quantdesk.load_run(str(info.id).upper(), settings=user.settings)
    by_run = quantdesk.load_run(by_listing, settings=user.settings)
    for run in (by_listing, by_text, by_run):
        assert isinstance(run, SavedRun)
        assert run.run_info == info
        assert_run_matches(run, result)


def test_removing_a_run_returns_its_id(user: Any) -> None:
    info = api_runs.save_run(small_result(32), settings=user.settings)
    [listed] = [run for run in quantdesk.list_runs(settings=user.settings) if run.id == info.id]
    removed = quantdesk.remove_run(listed, settings=user.settings)
    assert removed == info.id
    assert isinstance(removed, uuid.UUID)
    with pytest.raises(RunNotFoundError):
        quantdesk.load_run(info.id, settings=user.settings)


@pytest.mark.parametrize("bad", [42, 4.2, None, b"bytes"])
def test_what_names_no_run_is_refused_with_the_fix(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="quantdesk runs list") as caught:
        quantdesk.load_run(bad)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)
    with pytest.raises(InvalidInputError, match="quantdesk runs list"):
        quantdesk.remove_run(bad)  # type: ignore[arg-type]


def test_api_keys_round_trip_through_the_package(user: Any) -> None:
    settings = user.settings
    info = quantdesk.add_api_key("kraken", "key-id-31", "secret-31", settings=settings)
    assert [(key.provider, key.label) for key in quantdesk.list_api_keys(settings)] == [
        ("kraken", "default")
    ]
    assert info.provider == "kraken"
    key = quantdesk.get_api_key("kraken", settings=settings)
    assert (key.key_id, key.secret) == ("key-id-31", "secret-31")
    quantdesk.remove_api_key("kraken", settings=settings)
    assert quantdesk.list_api_keys(settings) == []


def test_rotating_the_embedded_master_key_leaves_nothing_to_rename(
    user: Any, postgres_server: Any
) -> None:
    quantdesk.add_api_key("kraken", "key-id-32", "secret-32", settings=user.settings)
    data_directory = Path(postgres_server.server.data_directory)
    old_key = (data_directory / KEY_FILE).read_text()
    rotation = api_keys.rotate_master_key(postgres_server.settings)
    assert isinstance(rotation, MasterKeyRotation)
    assert rotation.rotated >= 1
    assert not rotation.rename_required
    assert (rotation.key_file, rotation.next_key_file) == (
        "quantdesk_vault.key",
        "quantdesk_vault.key.next",
    )
    assert (data_directory / KEY_FILE).read_text() != old_key
    key = quantdesk.get_api_key("kraken", settings=user.settings)
    assert (key.key_id, key.secret) == ("key-id-32", "secret-32")


def test_the_sources_are_described_as_installed() -> None:
    listed = {source.name: source for source in api_data.list_sources()}
    installed = {point.name: point.value for point in entry_points(group="quantdesk.sources")}
    assert set(installed) <= set(listed)
    for name, value in installed.items():
        assert listed[name].class_path == value
    sample = listed["sample"]
    assert sample.cached
    assert sample.description
    assert sample.to_json() == {
        "name": "sample",
        "description": sample.description,
        "cached": True,
        "class": "quantdesk.data.sources.sample:SampleSource",
    }


def test_load_is_the_frame_of_load_bars(settings_in: Settings) -> None:
    loaded = api_data.load_bars("sample:BTC/USDT", timeframe="1h", settings=settings_in, **WINDOW)
    frame = quantdesk.load("sample:BTC/USDT", timeframe="1h", settings=settings_in, **WINDOW)
    pd.testing.assert_frame_equal(frame, loaded.frame)


def test_loaded_bars_resample_with_their_own_timeframe(settings_in: Settings) -> None:
    loaded = api_data.load_bars("sample:BTC/USDT", timeframe="1h", settings=settings_in, **WINDOW)
    daily = quantdesk.resample_ohlcv(loaded, "1d")
    bars = loaded.frame
    days = bars.index.floor("1D")
    expected = pd.DataFrame(
        {
            "open": bars["open"].groupby(days).first(),
            "high": bars["high"].groupby(days).max(),
            "low": bars["low"].groupby(days).min(),
            "close": bars["close"].groupby(days).last(),
            "volume": bars["volume"].groupby(days).sum(),
        }
    )
    np.testing.assert_array_equal(daily.index.asi8, expected.index.as_unit(daily.index.unit).asi8)
    np.testing.assert_allclose(daily.to_numpy(), expected[list(daily.columns)].to_numpy())


def test_a_contradicting_timeframe_is_refused_with_the_fix(settings_in: Settings) -> None:
    loaded = api_data.load_bars("sample:BTC/USDT", timeframe="1h", settings=settings_in, **WINDOW)
    with pytest.raises(InvalidInputError, match="leave source_timeframe out") as caught:
        quantdesk.resample_ohlcv(loaded, "1d", source_timeframe="4h")
    assert "\n" not in str(caught.value)
    with pytest.raises(InvalidInputError, match="leave timeframe out"):
        quantdesk.gap_report(loaded, "4h")


def test_loaded_bars_report_their_gaps_with_their_own_timeframe(settings_in: Settings) -> None:
    loaded = api_data.load_bars("sample:AAPL", timeframe="1h", settings=settings_in, **WINDOW)
    report = quantdesk.gap_report(loaded)
    steps = np.diff(loaded.frame.index.asi8) // pd.Timedelta(hours=1).value
    missing = steps[steps > 1] - 1
    assert len(missing) > 0
    assert report["missing_bars"].to_numpy().tolist() == missing.tolist()


def test_a_frame_without_its_timeframe_is_refused_with_the_fix(settings_in: Settings) -> None:
    frame = quantdesk.load("sample:AAPL", timeframe="1h", settings=settings_in, **WINDOW)
    with pytest.raises(InvalidInputError, match=r"gap_report\(frame, '1h'\)") as caught:
        quantdesk.gap_report(frame)
    assert "\n" not in str(caught.value)
    assert len(quantdesk.gap_report(frame, "1h")) > 0


@pytest.mark.parametrize("call", [quantdesk.resample_ohlcv, quantdesk.gap_report])
def test_what_is_not_bars_is_refused(call: Callable[..., Any]) -> None:
    with pytest.raises(InvalidInputError, match="what load_bars returned") as caught:
        call([1.0, 2.0], "1h")
    assert "\n" not in str(caught.value)


def test_the_cache_is_listed_and_emptied_under_the_settings(settings_in: Settings) -> None:
    quantdesk.load("sample:ETH/USDT", timeframe="1d", settings=settings_in, **WINDOW)
    [series] = quantdesk.list_cached_series(settings_in)
    assert series.address == "sample:ETH/USDT"
    assert series.path.is_relative_to(settings_in.resolved_cache_dir)
    removal = quantdesk.remove_cached_series("sample:ETH/USDT", settings=settings_in)
    assert [removed.key.symbol for removed in removal.series] == ["ETH/USDT"]
    assert quantdesk.list_cached_series(settings_in) == []
