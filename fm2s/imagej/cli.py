"""The ``fm2s macro`` and ``fm2s fiji install|uninstall`` subcommands (registered by :mod:`fm2s.cli`).

Importing this module is cheap: no JVM, JPype or pyimagej until a handler runs.
"""

from __future__ import annotations

import argparse
import sys

FIJI_NEXT_STEPS = """\
Next steps:
  1. If Fiji is not in Python mode yet: Edit > Options > Python..., build the environment,
     tick "Launch in Python mode", restart Fiji (or start it with --python).
  2. Restart Fiji. Plugins > FM2S > FM2S Denoise denoises the current image; in macros:
       run("FM2S Denoise", "preset=confocal noise_level=avg1 seed=0");
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``macro`` and ``fiji`` subcommands to ``fm2s``'s argument parser.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        From ``parser.add_subparsers()``.
    """
    from .batch.display import DISPLAY_MODES

    macro = subparsers.add_parser(
        "macro",
        help="run an ImageJ macro unattended with the \"FM2S Denoise\" command available",
        description=(
            "Run an ImageJ macro (.ijm) without a screen; the macro can call "
            'run("FM2S Denoise", "preset=confocal noise_level=avg1 seed=0"). ImageJ\'s log is '
            "streamed to standard output; the exit code is non-zero with the macro's error "
            "message when it fails (130/143 when stopped by SIGINT/SIGTERM). Uses a private "
            "Xvfb when installed and no $DISPLAY is set, else java.awt.headless mode."
        ),
    )
    macro.add_argument("macro", help="the macro file (.ijm)")
    macro.add_argument("--arg", default="", help="string returned by getArgument() in the macro")
    where = macro.add_mutually_exclusive_group()
    where.add_argument("--fiji", metavar="DIR",
                       help="a Fiji.app to run with (pyimagej; default $FM2S_FIJI)")
    where.add_argument(
        "--ij-jar",
        metavar="JAR",
        help="an ImageJ 1.x jar (used when no Fiji.app is given or set in $FM2S_FIJI; "
             "default $FM2S_IJ_JAR, else /usr/share/java/ij.jar)",
    )
    macro.add_argument(
        "--display", choices=DISPLAY_MODES, default="auto",
        help="auto (default): $DISPLAY if set, else a private Xvfb if installed, else headless",
    )
    macro.add_argument("--heap", metavar="SIZE", help="Java heap limit, e.g. 8g ($FM2S_JAVA_HEAP)")
    macro.set_defaults(func=macro_command)

    fiji = subparsers.add_parser("fiji", help="set up the FM2S Denoise command in a Fiji")
    fiji_sub = fiji.add_subparsers(dest="fiji_command", metavar="{install,uninstall}")
    fiji_sub.required = True
    install = fiji_sub.add_parser(
        "install", help="check a Fiji.app and install the FM2S Denoise command into it")
    install.add_argument("fiji_dir", metavar="Fiji.app", help="the Fiji installation folder")
    install.add_argument("--python", metavar="PYTHON",
                         help="the Python of Fiji's Python mode (default: the one Fiji uses)")
    install.add_argument("--force", action="store_true",
                         help="replace an FM2S_Denoise.py that fm2s did not write")
    install.set_defaults(func=fiji_install_command)
    uninstall = fiji_sub.add_parser(
        "uninstall", help="remove what `fm2s fiji install` wrote (if unchanged since)")
    uninstall.add_argument("fiji_dir", metavar="Fiji.app", help="the Fiji installation folder")
    uninstall.set_defaults(func=fiji_uninstall_command)


def macro_command(args: argparse.Namespace) -> int:
    """Handle ``fm2s macro``: run the macro, then end the process (see :func:`.batch.runner.finish`).

    Returns
    -------
    int
        The exit code (only returned when this call did not start the JVM, e.g. the macro
        file is missing or ImageJ was already running in this process).
    """
    from .batch import runner

    jvm_was_running = _jvm_running()
    code = runner.run_macro(args.macro, args.arg, fiji=args.fiji, ij_jar=args.ij_jar,
                            display=args.display, max_heap=args.heap)
    if _jvm_running() and not jvm_was_running:
        # This call started ImageJ; its AWT threads would keep the JVM (and us) alive.
        runner.finish(code)  # does not return
    return code


def _jvm_running() -> bool:
    try:
        import jpype
    except ImportError:
        return False
    return bool(jpype.isJVMStarted())


def fiji_install_command(args: argparse.Namespace) -> int:
    """Handle ``fm2s fiji install``: report the checks and what was written."""
    from .fiji import FijiInstallError, install

    try:
        report = install(args.fiji_dir, python=args.python, force=args.force)
    except (FijiInstallError, OSError) as exc:
        print(f"fm2s fiji install: {exc}", file=sys.stderr)
        return 1
    for finding in report.findings:
        print(f"  {finding.message()}")
    for path in report.written:
        print(f"installed: {path}")
    for path in report.unchanged:
        print(f"unchanged: {path}")
    for problem in report.problems:
        print(f"fm2s fiji install: to do: {problem}", file=sys.stderr)
    print(FIJI_NEXT_STEPS)
    return 1 if report.problems else 0


def fiji_uninstall_command(args: argparse.Namespace) -> int:
    """Handle ``fm2s fiji uninstall``."""
    from .fiji import uninstall

    try:
        removed, kept = uninstall(args.fiji_dir)
    except OSError as exc:
        print(f"fm2s fiji uninstall: {exc}", file=sys.stderr)
        return 1
    for path in removed:
        print(f"removed: {path}")
    for path in kept:
        print(f"kept (changed since fm2s wrote it): {path}", file=sys.stderr)
    if not removed and not kept:
        print("nothing to remove: fm2s is not installed in this Fiji")
    return 0
