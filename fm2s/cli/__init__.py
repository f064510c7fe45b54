"""The ``fm2s`` command: denoise TIFF/PNG files and OME-Zarr stores from the shell, list
presets, run the demo.

Examples
--------
.. code-block:: console

    $ fm2s denoise data/*.tif -o denoised/ --preset confocal --noise-level avg1
    $ fm2s denoise data/ -o denoised/ --schedule quick --seed 0     # every TIFF/PNG in data/
    $ fm2s presets
    $ fm2s demo -o fm2s-demo

The flags of ``fm2s denoise`` come from :data:`fm2s.options.OPTIONS`. If
:mod:`fm2s.imagej.cli` is importable its ``register(subparsers)`` adds more subcommands
(``macro``, ``fiji``). Every subcommand sets ``func``: ``func(args) -> int`` (the exit code).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence

from .._version import __version__
from ..options import OPTIONS, Option
from .errors import UsageError

log = logging.getLogger("fm2s")

__all__ = ["UsageError", "build_parser", "main"]


def _option_help(opt: Option) -> str:
    choices = f"; one of {', '.join(opt.choices())}" if opt.choices else ""
    default = "" if opt.default is None else f" (default {opt.default})"
    return f"{opt.help}{choices}{default}"


def add_option_flags(parser: argparse.ArgumentParser) -> None:
    """Add one flag per option of :data:`fm2s.options.OPTIONS` (values read later, by the spec)."""
    groups = {
        "main": parser.add_argument_group("denoising options"),
        "more": parser.add_argument_group("more options"),
        "parameter": parser.add_argument_group(
            "FM2S parameter overrides (replace the preset's value)"),
    }
    for opt in OPTIONS:
        groups[opt.group].add_argument(
            opt.flag, dest=opt.name, default=None, nargs=opt.nargs, metavar=opt.metavar,
            help=_option_help(opt),
        )
    groups["parameter"].add_argument(
        "--set", dest="set_params", action="append", default=[], metavar="KEY=VALUE",
        help="any parameter, e.g. --set k_g=150")


def build_parser() -> argparse.ArgumentParser:
    """Return the ``fm2s`` argument parser with all subcommands registered.

    Returns
    -------
    argparse.ArgumentParser
        Each subcommand sets ``func(args) -> int``.
    """
    from .commands import demo_command, denoise_command, presets_command

    parser = argparse.ArgumentParser(
        prog="fm2s",
        description="FM2S zero-shot denoising of fluorescence micrographs (TIFF/PNG in, TIFF out; "
                    "OME-Zarr in, OME-Zarr out).",
    )
    parser.add_argument("--version", action="version", version=f"fm2s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="show progress details (device choice, ...); -vv for debug output")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="show progress details (device choice, ...); -vv for debug output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser(
        "denoise", parents=[common], help="denoise TIFF/PNG files, OME-Zarr stores or folders",
        description="Denoise each INPUT (TIFF/PNG file, OME-Zarr store, or folder of them) into "
                    "OUTDIR/<stem>_fm2s.tif (<stem>_fm2s.zarr for a store). Existing outputs "
                    "are skipped unless --overwrite.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                   help="folder for the outputs (created if missing)")
    add_option_flags(p)
    where = p.add_argument_group("running on a Dask cluster (one task per image)")
    place = where.add_mutually_exclusive_group()
    place.add_argument("--workers", type=int, metavar="N",
                       help="start a local cluster of N worker processes on this machine")
    place.add_argument("--scheduler", metavar="ADDRESS",
                       help="use the running Dask cluster at ADDRESS (e.g. tcp://host:8786)")
    place.add_argument("--scheduler-file", metavar="FILE",
                       help="use the running Dask cluster described by FILE "
                            "(dask-scheduler --scheduler-file, dask-jobqueue)")
    p.add_argument("--overwrite", action="store_true",
                   help="redo outputs that already exist (default: skip them)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=denoise_command)

    p = sub.add_parser("presets", parents=[common], help="list presets and their parameters")
    p.set_defaults(func=presets_command)

    p = sub.add_parser(
        "demo", parents=[common], help="denoise a generated sample and write a figure",
        description="Denoise a generated 512 x 512 16-bit fluorescence sample with the default "
                    "settings and write noisy / denoised / clean TIFFs and a labelled figure (PNG).",
    )
    p.add_argument("-o", "--output", default="fm2s-demo", metavar="DIR",
                   help="folder for the files (default ./fm2s-demo)")
    p.add_argument("--size", type=int, default=512, help="image side in pixels (default 512)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample and of FM2S (default 0)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU threads for torch (default: torch's choice)")
    p.set_defaults(func=demo_command)

    try:
        from ..imagej import cli as imagej_cli
    except ImportError as exc:  # the ImageJ front-end is optional
        log.debug("fm2s: ImageJ subcommands unavailable: %s", exc)
    else:
        try:
            imagej_cli.register(sub)
        except Exception as exc:  # a broken optional front-end must not break 'fm2s denoise'
            log.warning("fm2s: ImageJ subcommands unavailable (%s: %s)", type(exc).__name__, exc)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fm2s`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit code: 0 success, 1 some file failed, 2 bad usage, 130 interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exc:  # argparse's --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    _configure_logging(getattr(args, "verbose", 0) or 0)
    from ..engine.runtime import own_process

    own_process()  # this process is fm2s's: see fm2s.engine.runtime
    # SIGTERM and SIGINT unwind the same way, through fm2s's own handler: in a fresh install a
    # Ctrl-C that used Python's default handler was now and then lost during a run
    previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"fm2s {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Stopped) else signal.SIGINT
        _interrupt_handled()
        print(f"\nfm2s: stopped by {signal.Signals(signum).name}; finished files are kept, "
              "re-run the same command to resume", file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:  # e.g. `fm2s presets | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class Stopped(KeyboardInterrupt):
    """SIGTERM (a cluster's time limit, ``kill``) or SIGINT (Ctrl-C): unwinds the run, so that
    no temporary file is left behind."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, _frame: object) -> None:
    raise Stopped(signum)


def _interrupt_handled() -> None:
    """Tell CPython that the interrupt was handled, so that the exit code is fm2s's.

    An interrupt that lands in code run by ``exec`` of a string (``dataclasses`` does this, and
    torch imports modules lazily in the middle of a run) sets a process-wide flag even when the
    interrupt is caught, and CPython then ends the process by SIGINT instead of with the code
    returned. Nothing to do on other interpreters.
    """
    import ctypes

    try:
        ctypes.c_int.in_dll(ctypes.pythonapi, "_Py_UnhandledKeyboardInterrupt").value = 0
    except (AttributeError, ValueError):
        pass


_HANDLER_MARK = "_fm2s_cli_handler"


def _configure_logging(verbosity: int) -> None:
    logger = logging.getLogger("fm2s")
    for handler in list(logger.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbosity >= 2 else
                    logging.INFO if verbosity == 1 else logging.WARNING)
    logger.propagate = False
    # tifffile warns about every odd file it meets; the CLI reports bad files itself
    logging.getLogger("tifffile").setLevel(logging.WARNING if verbosity else logging.ERROR)
