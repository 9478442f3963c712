"""``quantdesk jobs``: list, show and cancel your backtests, sweeps and training jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from quantdesk.cli.output import aligned_lines, emit, json_option, table_text

if TYPE_CHECKING:
    from quantdesk.api.jobs import JobInfo


@click.group("jobs")
def jobs() -> None:
    """Your jobs and their state: queued, running, completed, failed, cancelled or lost."""


@jobs.command("list")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Show at most this many jobs, newest first.",
)
@click.option("--all", "every_job", is_flag=True, help="Show every job, however many.")
@json_option
def list_command(limit: int, every_job: bool, as_json: bool) -> None:
    """List your jobs, newest first."""
    from quantdesk.api.jobs import list_jobs

    found = list_jobs(limit=None if every_job else limit)
    header = ("id", "kind", "status", "progress", "submitted", "note")
    rows = [
        (
            str(job.id),
            job.kind,
            job.status,
            _progress_text(job),
            f"{job.created_at:%Y-%m-%d %H:%M}",
            job.error or job.message or "",
        )
        for job in found
    ]
    text = table_text(header, rows) if rows else "no jobs; submit one with quantdesk.submit(...)"
    emit([job.to_dict() for job in found], as_json=as_json, text=text)


@jobs.command("show")
@click.argument("job_id")
@json_option
def show_command(job_id: str, as_json: bool) -> None:
    """Show job JOB_ID: its state, progress, times, parameters and, when stored, its results."""
    from quantdesk.api.jobs import get_job, get_job_result

    job = get_job(job_id)
    result = get_job_result(job) if job.status == "completed" else None
    details = job.to_dict()
    parameters = details.pop("parameters")
    lines = [f"job {job.id} ({job.kind}): {job.status}, {_progress_text(job)} done"]
    lines += aligned_lines({key: value for key, value in details.items() if key not in {"id"}})
    if parameters:
        lines += ["", "parameters:", *(f"  {line}" for line in aligned_lines(parameters))]
    if result is not None:
        lines += ["", *_result_lines(result)]
    emit({**job.to_dict(), "result": result}, as_json=as_json, text="\n".join(lines))


@jobs.command("cancel")
@click.argument("job_id")
@json_option
def cancel_command(job_id: str, as_json: bool) -> None:
    """Cancel queued or running job JOB_ID."""
    from quantdesk.api.jobs import cancel_job

    job = cancel_job(job_id)
    emit(job.to_dict(), as_json=as_json, text=f"cancelled job {job.id}")


def _result_lines(result: dict[str, Any]) -> list[str]:
    if "folds" in result:
        return [
            f"{len(result['folds'])} folds, stitched out-of-sample equity "
            f"{result['final_equity']}; 'quantdesk jobs show --json' lists them"
        ]
    best = result.get("best")
    chosen = (
        "none met the constraints"
        if best is None
        else ", ".join(f"{name}={value}" for name, value in best["parameters"].items())
    )
    return [
        f"{len(result['combinations'])} combinations, {result['skipped']} skipped; best: {chosen}"
    ]


def _progress_text(job: JobInfo) -> str:
    return "-" if job.progress is None else f"{job.progress:.0%}"
