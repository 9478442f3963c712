"""The Parquet backend of the cache: one directory per series, one file per time chunk.

Layout under the root::

    ohlcv/source=sample/symbol=BTC%2FUSDT/timeframe=1h/
        2023.parquet        bars starting in 2023 (per month, 2023-01.parquet, below 1h)
        2024.parquet
        coverage.json       the ranges known, written after the bars
        .lock               serialises writers of this series

Every file is replaced atomically (see :mod:`quantdesk.data.cache.atomic`),
so readers, which take no lock, see a whole old or a whole new file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Final

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from quantdesk.config import Settings
from quantdesk.core.frame import INDEX_NAME, OHLCV_COLUMNS, empty_ohlcv
from quantdesk.core.time_range import TimeRange
from quantdesk.data.cache.atomic import (
    is_temporary_file,
    remove_stale_temporary_files,
    sync_directory,
    write_atomically,
)
from quantdesk.data.cache.chunks import Chunk, ChunkPeriod
from quantdesk.data.cache.coverage import (
    COVERAGE_FILE_NAME,
    CoverageRecord,
    decode_coverage,
    encode_coverage,
)
from quantdesk.data.cache.key import CacheKey
from quantdesk.data.cache.layout import series_directories, series_directory
from quantdesk.data.cache.store import OHLCVStore, SeriesStatistics
from quantdesk.errors import CacheError

LOCK_FILE_NAME = ".lock"
ROWS_PER_ROW_GROUP = 16_384
COMPRESSION: Final = "zstd"
DEFAULT_LOCK_TIMEOUT_SECONDS = 600.0
_TIME_TYPE = pa.timestamp("ns", tz="UTC")
_VALUE_FIELDS: list[pa.Field[Any]] = [pa.field(column, pa.float64()) for column in OHLCV_COLUMNS]
_SCHEMA = pa.schema([pa.field(INDEX_NAME, _TIME_TYPE), *_VALUE_FIELDS])
_REASON_LENGTH = 120


class ParquetStore(OHLCVStore):
    """The cache of OHLCV bars as Parquet files under one root directory.

    Parameters
    ----------
    root
        The cache root; series go under ``root/ohlcv``. It is created on the
        first write.
    lock_timeout
        How long, in seconds, a write waits for another writer of the same
        series before giving up with a ``CacheError``.
    """

    def __init__(
        self, root: Path | str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS
    ) -> None:
        self.root = Path(root).expanduser()
        self.lock_timeout = lock_timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> ParquetStore:
        """Open the cache that ``settings`` point at.

        Parameters
        ----------
        settings
            The settings; their ``resolved_cache_dir`` is the root.

        Returns
        -------
        ParquetStore
            The store.
        """
        return cls(settings.resolved_cache_dir)

    def __repr__(self) -> str:
        return f"ParquetStore({str(self.root)!r})"

    def _location(self, key: CacheKey) -> Path:
        return series_directory(self.root, key)

    def _read(self, key: CacheKey, time_range: TimeRange) -> pd.DataFrame:
        tables = [
            table
            for chunk, path in self._chunk_files(key)
            if chunk.period.overlaps(time_range)
            and (table := self._read_chunk(key, path)) is not None
        ]
        if not tables:
            return empty_ohlcv()
        table = pa.concat_tables(tables)
        time = table.column(INDEX_NAME)
        in_range = pc.and_(
            pc.greater_equal(time, _time_scalar(time_range.start)),
            pc.less(time, _time_scalar(time_range.end)),
        )
        return _frame_from_table(table.filter(in_range))

    def _write(self, key: CacheKey, frame: pd.DataFrame) -> None:
        directory = self._location(key)
        period = ChunkPeriod.for_timeframe(key.timeframe)
        written = set()
        for chunk, piece in period.split(frame):
            self._write_chunk(directory / chunk.file_name, piece)
            written.add(chunk.file_name)
        for chunk, path in self._chunk_files(key):
            if chunk.file_name not in written:
                self._unlink(path)
        sync_directory(directory)

    def _append(self, key: CacheKey, frame: pd.DataFrame) -> None:
        directory = self._location(key)
        period = ChunkPeriod.for_timeframe(key.timeframe)
        for chunk, piece in period.split(frame):
            path = directory / chunk.file_name
            cached = self._read_chunk(key, path)
            if cached is None:
                merged = piece
            else:
                merged = _merge_keeping_new(_frame_from_table(cached), piece)
            self._write_chunk(path, merged)

    def _read_coverage(self, key: CacheKey) -> CoverageRecord:
        path = self._location(key) / COVERAGE_FILE_NAME
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            return CoverageRecord(())
        except OSError as error:
            raise CacheError(
                f"cannot read coverage file {path} ({_reason(error)}); {self._fix_hint(key)}"
            ) from None
        return decode_coverage(content, path, self._fix_hint(key))

    def _write_coverage(
        self, key: CacheKey, ranges: list[TimeRange], adjustment: str | None
    ) -> None:
        content = encode_coverage(ranges, adjustment)

        def write_content(handle: BinaryIO) -> None:
            handle.write(content)

        self._write_file(self._location(key) / COVERAGE_FILE_NAME, write_content)

    @contextlib.contextmanager
    def _writer_lock(self, key: CacheKey) -> Iterator[None]:
        from filelock import FileLock, Timeout  # reads take no lock, so only writers need it

        directory = self._location(key)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CacheError(
                f"cannot create cache directory {directory} ({_reason(error)}); "
                "check its permissions or set cache_dir"
            ) from None
        lock = FileLock(directory / LOCK_FILE_NAME, timeout=self.lock_timeout)
        try:
            lock.acquire()
        except Timeout:
            raise CacheError(
                f"another process kept writing {key} for over {self.lock_timeout:g} s "
                f"(lock {directory / LOCK_FILE_NAME}); try again later"
            ) from None
        try:
            remove_stale_temporary_files(directory)
            yield
        finally:
            lock.release()

    def _delete(self, key: CacheKey) -> None:
        directory = self._location(key)
        for _chunk, path in self._chunk_files(key):
            self._unlink(path)
        for path in directory.iterdir():
            if is_temporary_file(path):
                self._unlink(path)
        self._unlink(directory / COVERAGE_FILE_NAME)
        sync_directory(directory)

    def _holds(self, key: CacheKey) -> bool:
        directory = self._location(key)
        return bool(self._chunk_files(key)) or (directory / COVERAGE_FILE_NAME).exists()

    def _keys(self) -> list[CacheKey]:
        try:
            return [key for key, _directory in series_directories(self.root)]
        except OSError as error:
            raise CacheError(
                f"cannot list the cache under {self.root} ({_reason(error)}); check its permissions"
            ) from None

    def _statistics(self, key: CacheKey) -> SeriesStatistics:
        directory = self._location(key)
        chunk_files = self._chunk_files(key)
        rows = 0
        for _chunk, path in chunk_files:
            try:
                rows += pq.read_metadata(path).num_rows
            except FileNotFoundError:
                continue
            except (pa.ArrowException, OSError) as error:
                raise self._unreadable(key, path, error) from None
        times = [
            table.column(INDEX_NAME)
            for _chunk, path in chunk_files[:1] + chunk_files[-1:]
            if (table := self._read_chunk(key, path, columns=[INDEX_NAME])) is not None
            and table.num_rows
        ]
        first = _timestamp(pc.min(times[0])) if times else None
        last = _timestamp(pc.max(times[-1])) if times else None
        return SeriesStatistics(
            rows=rows, first=first, last=last, size_bytes=_size_on_disk(directory)
        )

    def _chunk_files(self, key: CacheKey) -> list[tuple[Chunk, Path]]:
        """The chunk files of ``key`` in time order; temporary and other files are skipped."""
        directory = self._location(key)
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            return []
        except OSError as error:
            raise CacheError(
                f"cannot list cache directory {directory} ({_reason(error)}); check its permissions"
            ) from None
        period = ChunkPeriod.for_timeframe(key.timeframe)
        chunks = [
            (chunk, directory / name)
            for name in names
            if (chunk := period.chunk_of_name(name)) is not None
        ]
        return sorted(chunks, key=lambda item: item[0].period.start)

    def _read_chunk(
        self, key: CacheKey, path: Path, *, columns: list[str] | None = None
    ) -> pa.Table | None:
        """Read one chunk file; None when a concurrent ``replace`` or ``remove`` deleted it."""
        # The whole file is read: chunks are small, and pruning row groups by their
        # statistics makes pyarrow abort the process on some damaged footers.
        try:
            with pq.ParquetFile(path, page_checksum_verification=True) as parquet_file:
                _check_schema(parquet_file.schema_arrow)
                return parquet_file.read(columns=columns)
        except FileNotFoundError:
            return None
        except (pa.ArrowException, OSError, ValueError) as error:
            raise self._unreadable(key, path, error) from None

    def _write_chunk(self, path: Path, frame: pd.DataFrame) -> None:
        table = _table_from_frame(frame)

        def write_content(handle: BinaryIO) -> None:
            pq.write_table(
                table,
                handle,
                compression=COMPRESSION,
                row_group_size=ROWS_PER_ROW_GROUP,
                write_page_checksum=True,  # turns silent bit rot into a read error
            )

        self._write_file(path, write_content)

    def _write_file(self, path: Path, write_content: Callable[[BinaryIO], None]) -> None:
        try:
            write_atomically(path, write_content)
        except OSError as error:
            raise CacheError(
                f"cannot write cache file {path} ({_reason(error)}); "
                "check free space and permissions"
            ) from None

    def _unlink(self, path: Path) -> None:
        try:
            path.unlink(missing_ok=True)
        except OSError as error:
            raise CacheError(
                f"cannot delete cache file {path} ({_reason(error)}); check its permissions"
            ) from None

    def _unreadable(self, key: CacheKey, path: Path, error: BaseException) -> CacheError:
        return CacheError(
            f"cache file {path} is corrupt or unreadable ({_reason(error)}); {self._fix_hint(key)}"
        )


def _size_on_disk(directory: Path) -> int:
    size = 0
    for path in directory.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if path.is_file():
                size += path.stat().st_size
    return size


def _check_schema(schema: pa.Schema) -> None:
    expected = {field.name: field.type for field in _SCHEMA}
    found = {field.name: field.type for field in schema}
    if found != expected:
        columns = ", ".join(f"{name}: {kind}" for name, kind in found.items())
        raise ValueError(f"unexpected columns {columns}")


def _table_from_frame(frame: pd.DataFrame) -> pa.Table:
    index = pd.DatetimeIndex(frame.index).as_unit("ns")
    arrays: list[pa.Array[Any]] = [pa.array(index.asi8, type=_TIME_TYPE)]
    arrays += [pa.array(frame[column].to_numpy(), type=pa.float64()) for column in OHLCV_COLUMNS]
    return pa.Table.from_arrays(arrays, schema=_SCHEMA)


def _frame_from_table(table: pa.Table) -> pd.DataFrame:
    nanoseconds = table.column(INDEX_NAME).cast(pa.int64()).to_numpy()
    index = pd.DatetimeIndex(pd.to_datetime(nanoseconds, unit="ns", utc=True), name=INDEX_NAME)
    columns = {column: table.column(column).to_numpy() for column in OHLCV_COLUMNS}
    return pd.DataFrame(columns, index=index.as_unit("ns"))


def _merge_keeping_new(cached: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    kept = cached[~cached.index.isin(new.index)]
    return pd.concat([kept, new]).sort_index(kind="stable")


def _time_scalar(time: pd.Timestamp) -> pa.Scalar[Any]:
    return pa.scalar(time.as_unit("ns").value, type=_TIME_TYPE)


def _timestamp(scalar: pa.Scalar[Any]) -> pd.Timestamp:
    return pd.Timestamp(scalar.cast(pa.int64()).as_py(), unit="ns", tz="UTC")


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    lines = str(error).strip().splitlines()
    reason = lines[0] if lines else type(error).__name__
    return reason if len(reason) <= _REASON_LENGTH else reason[: _REASON_LENGTH - 3] + "..."
