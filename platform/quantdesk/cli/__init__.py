"""The ``quantdesk`` command line.

Every command takes ``--json``. Bad input prints one line on stderr and exits
with status 2; a passing source failure (network, rate limit) exits with 1.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from quantdesk import __version__
from quantdesk.cli.backtest_commands import backtest_command, strategies_command
from quantdesk.cli.cluster_commands import cluster
from quantdesk.cli.data_commands import data
from quantdesk.cli.db_commands import db
from quantdesk.cli.demo import demo
from quantdesk.cli.gateway_commands import gateway
from quantdesk.cli.hub_commands import hub
from quantdesk.cli.info_commands import config_command, version_command
from quantdesk.cli.job_commands import jobs
from quantdesk.cli.key_commands import keys
from quantdesk.cli.model_commands import models, predict_command
from quantdesk.cli.output import report_error, show_warnings_as_lines
from quantdesk.cli.platform_commands import down, status, up
from quantdesk.cli.run_commands import runs
from quantdesk.cli.sweep_commands import sweep_command
from quantdesk.cli.user_commands import users
from quantdesk.errors import InvalidInputError, QuantdeskError

USAGE_ERROR_EXIT_CODE = 2
FAILURE_EXIT_CODE = 1


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "--version", prog_name="quantdesk", message="%(prog)s %(version)s"
)
def cli() -> None:
    """quantdesk: trading analytics for quant researchers and traders."""


cli.add_command(up)
cli.add_command(down)
cli.add_command(status)
cli.add_command(demo)
cli.add_command(data)
cli.add_command(backtest_command)
cli.add_command(strategies_command)
cli.add_command(version_command)
cli.add_command(config_command)
cli.add_command(db)
cli.add_command(users)
cli.add_command(keys)
cli.add_command(runs)
cli.add_command(cluster)
cli.add_command(gateway)
cli.add_command(hub)
cli.add_command(jobs)
cli.add_command(sweep_command)
cli.add_command(models)
cli.add_command(predict_command)


def main(arguments: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit status, printing errors as one line.

    Parameters
    ----------
    arguments
        The command-line words; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        0 on success, 2 for bad input, 1 for other failures.
    """
    words = list(sys.argv[1:] if arguments is None else arguments)
    as_json = "--json" in words
    show_warnings_as_lines()
    try:
        result = cli.main(args=words, prog_name="quantdesk", standalone_mode=False)
    except click.UsageError as error:
        command = error.ctx.command_path if error.ctx is not None else "quantdesk"
        report_error(f"{error.format_message()} (see '{command} --help')", as_json=as_json)
        return USAGE_ERROR_EXIT_CODE
    except click.Abort:
        report_error("aborted", as_json=as_json)
        return FAILURE_EXIT_CODE
    except InvalidInputError as error:
        report_error(str(error), as_json=as_json)
        return USAGE_ERROR_EXIT_CODE
    except QuantdeskError as error:
        report_error(str(error), as_json=as_json)
        return FAILURE_EXIT_CODE
    return result if isinstance(result, int) else 0
