"""The settings every SECURITY DEFINER function pins, so no caller can make it print.

A user may turn on, in their own session, settings that make the server
print what it executes: the parse, rewrite and plan trees (whose constants
include every value a statement works with, such as the vault's master key
once a custom plan substitutes it), parameters of a failing statement, and
sort traces. A function's own ``SET`` clauses replace the caller's values
for as long as it runs, so each definer function carries all of them.
``quantdesk db check`` reports a definer function missing any.
"""

from __future__ import annotations

from collections.abc import Iterable

PINNED_SETTINGS: dict[str, str] = {
    "search_path": "''",
    "debug_print_parse": "off",
    "debug_print_rewritten": "off",
    "debug_print_plan": "off",
    "client_min_messages": "error",
    # Generic plans keep values as parameters, never as constants in a plan.
    "plan_cache_mode": "force_generic_plan",
    "log_parameter_max_length_on_error": "0",
    "trace_sort": "off",
    "trace_notify": "off",
    "force_parallel_mode": "off",
}
"""Setting names and the values a definer function runs with, as SQL literals."""


def set_clauses() -> str:
    """The ``SET`` clauses of a definer function, for ``CREATE`` or ``ALTER FUNCTION``.

    Returns
    -------
    str
        For example ``SET search_path = '' SET debug_print_plan = off ...``.
    """
    return " ".join(f"SET {name} = {value}" for name, value in PINNED_SETTINGS.items())


def missing_pins(configuration: Iterable[str]) -> list[str]:
    """The pinned settings a function's ``proconfig`` lacks or sets to another value.

    Parameters
    ----------
    configuration
        ``pg_proc.proconfig`` entries, such as ``debug_print_plan=off``.

    Returns
    -------
    list of str
        ``name = value`` for each pin that is absent or different, in pin order.
    """
    found = {}
    for entry in configuration:
        name, _, value = entry.partition("=")
        found[name.strip().lower()] = value.strip()
    return [
        f"{name} = {value}"
        for name, value in PINNED_SETTINGS.items()
        if name != "search_path" and found.get(name) != value.strip("'")
    ]
