"""The `advisor` command: a Typer app with one module per command.

User errors print one line on stderr and exit 1 (bad data or environment) or
2 (bad usage); `--debug` (anywhere on the line) shows the traceback instead.
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

try:  # typer >= 0.20 vendors click
    from typer._click import exceptions as click_exc
except ImportError:  # older typer depends on click
    from click import exceptions as click_exc  # type: ignore[no-redef]

from advisor.cli import (
    accuracy_cmd,
    bench_cmd,
    calibrate_cmd,
    catalog_cmd,
    emit_cmd,
    estimate_cmd,
    recommend_cmd,
    report_cmd,
    serve_cmd,
    validate_cmd,
)
from advisor.errors import AdvisorError


class _PipeClosed(Exception):
    """The reader of stdout went away; not an OSError, so click cannot turn it into exit 1."""


class _Group(TyperGroup):
    # click's main() answers EPIPE with sys.exit(1) before `run` can see it
    # (`advisor recommend --csv | head` then "fails"); lift it past click.
    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except BrokenPipeError as e:
            raise _PipeClosed from e


app = typer.Typer(
    cls=_Group,
    name="advisor",
    help="Choose hardware for training a language model, and see what it costs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("estimate", no_args_is_help=True)(estimate_cmd.estimate)
app.command("recommend", no_args_is_help=True)(recommend_cmd.recommend)
app.command("accuracy")(accuracy_cmd.accuracy)
app.add_typer(catalog_cmd.app, name="catalog")
app.command("bench", no_args_is_help=True)(bench_cmd.bench)
app.command("calibrate", no_args_is_help=True)(calibrate_cmd.calibrate)
app.command("validate", no_args_is_help=True)(validate_cmd.validate)
app.command("report", no_args_is_help=True)(report_cmd.report)
app.command("serve", no_args_is_help=True)(serve_cmd.serve)

app.command("emit", no_args_is_help=True)(emit_cmd.emit)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    """advisor: hardware selection and cost estimation for LLM training."""


def _fail(message: str, code: int) -> int:
    first = message.strip().splitlines()[0] if message.strip() else "error"
    sys.stderr.write(f"advisor: error: {first}\n")
    return code


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (used by tests and `main`)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args = ["--debug", *[a for a in args if a != "--debug"]]
    command = typer.main.get_command(app)
    try:
        rv = command.main(args=args, prog_name="advisor", standalone_mode=False)
    except click_exc.NoSuchOption as e:
        if debug:
            raise
        hint = f" (did you mean {', '.join(e.possibilities)}?)" if e.possibilities else ""
        return _fail(f"no such option: {e.option_name}{hint}", 2)
    except click_exc.UsageError as e:
        if debug:
            raise
        if type(e).__name__ == "NoArgsIsHelpError" and e.ctx is not None:
            sys.stdout.write(e.ctx.get_help() + "\n")
            return 0
        return _fail(e.format_message(), 2)
    except typer.Abort:
        return _fail("interrupted", 130)
    except AdvisorError as e:
        if debug:
            raise
        return _fail(str(e), e.exit_code)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except (BrokenPipeError, _PipeClosed):
        return 0
    return rv if isinstance(rv, int) else 0


def main() -> None:
    try:
        code = run()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`advisor ... | head`): not an error of ours.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code)


if __name__ == "__main__":
    main()
