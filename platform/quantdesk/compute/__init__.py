"""Compute: the Dask cluster quantdesk runs work on.

:mod:`~quantdesk.compute.sizing` sizes a local cluster from the host's cores
and RAM; :mod:`~quantdesk.compute.cluster` starts one (on demand, or long-lived
with ``quantdesk cluster up``), connects to it or to ``QUANTDESK_SCHEDULER``,
reports on it and stops it. Every cluster quantdesk starts runs in processes
whose environment holds no credentials (see
:func:`~quantdesk.compute.environment.worker_environment`).
"""
