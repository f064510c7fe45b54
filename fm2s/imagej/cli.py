"""The ``fm2s macro`` and ``fm2s fiji install`` subcommands (registered by :mod:`fm2s.cli`).

Importing this module is cheap: no JVM, JPype or pyimagej until a handler runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

FIJI_SETUP_STEPS = """\
Next steps in Fiji:
  1. Install fm2s into the Python environment Fiji uses (Fiji's Python mode uses a conda/mamba
     environment): from an fm2s checkout, `mamba env create -f environment.yml` (or
     `pip install "fm2s[imagej]"` into that environment).
  2. Turn on Python mode: Edit > Options > Python..., point it at that environment, restart Fiji
     (or start Fiji with its launcher's --python option).
  3. Open an image and run Plugins > FM2S > FM2S Denoise. In macros:
       run("FM2S Denoise", "preset=confocal noise_level=avg1 seed=0");
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``macro`` and ``fiji`` subcommands to ``fm2s``'s argument parser.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        From ``parser.add_subparsers()``.
    """
    macro = subparsers.add_parser(
        "macro",
        help="run an ImageJ macro headlessly with the \"FM2S Denoise\" command available",
        description=(
            "Run an ImageJ macro (.ijm) without a screen; the macro can call "
            'run("FM2S Denoise", "preset=confocal noise_level=avg1 seed=0"). ImageJ\'s log is '
            "streamed to standard output; the exit code is non-zero with the macro's error "
            "message when it fails. Uses Xvfb when installed and no $DISPLAY is set, else "
            "java.awt.headless mode."
        ),
    )
    macro.add_argument("macro", help="the macro file (.ijm)")
    macro.add_argument("--arg", default="", help="string returned by getArgument() in the macro")
    where = macro.add_mutually_exclusive_group()
    where.add_argument("--fiji", metavar="DIR", help="a Fiji.app to run with (pyimagej)")
    where.add_argument(
        "--ij-jar",
        metavar="JAR",
        help="an ImageJ 1.x jar (default $FM2S_IJ_JAR, else /usr/share/java/ij.jar)",
    )
    macro.add_argument(
        "--display",
        choices=("auto", "xvfb", "headless", "display"),
        default="auto",
        help="auto (default): $DISPLAY if set, else a private Xvfb if installed, else headless",
    )
    macro.add_argument("--heap", metavar="SIZE", help="Java heap limit, e.g. 8g ($FM2S_JAVA_HEAP)")
    macro.set_defaults(func=macro_command)

    fiji = subparsers.add_parser("fiji", help="set up the Fiji menu command")
    fiji_sub = fiji.add_subparsers(dest="fiji_command", metavar="{install}")
    fiji_sub.required = True
    install = fiji_sub.add_parser(
        "install", help="copy the FM2S scripts into a Fiji.app (Plugins > FM2S > FM2S Denoise)"
    )
    install.add_argument("fiji_dir", metavar="Fiji.app", help="the Fiji installation directory")
    install.add_argument(
        "--force", action="store_true", help="replace an existing, different FM2S_Denoise.py"
    )
    install.set_defaults(func=fiji_install_command)


def macro_command(args: argparse.Namespace) -> int:
    """Handle ``fm2s macro``: run the macro, then end the process (see :func:`macro.finish`).

    Returns
    -------
    int
        The exit code (only returned when this call did not start the JVM, e.g. the macro
        file is missing or ImageJ was already running in this process).
    """
    from . import macro

    jvm_was_running = _jvm_running()
    try:
        code = macro.run_macro(
            args.macro,
            args.arg,
            fiji=args.fiji,
            ij_jar=args.ij_jar,
            display=args.display,
            max_heap=args.heap,
        )
    except KeyboardInterrupt:
        print("fm2s macro: interrupted", file=sys.stderr)
        code = 130
    if _jvm_running() and not jvm_was_running:
        # This call started ImageJ; its AWT threads would keep the JVM (and us) alive.
        macro.finish(code)  # does not return
    return code


def _jvm_running() -> bool:
    try:
        import jpype
    except ImportError:
        return False
    return bool(jpype.isJVMStarted())


def install_fiji_script(fiji_dir: str | Path, *, force: bool = False) -> tuple[Path, str]:
    """Write ``FM2S_Denoise.py`` into ``<Fiji.app>/scripts/Plugins/FM2S/``.

    Parameters
    ----------
    fiji_dir : path
        The Fiji.app directory.
    force : bool
        Replace an existing file whose content differs.

    Returns
    -------
    (Path, str)
        The script path and what happened: ``"installed"``, ``"updated"`` or ``"unchanged"``.

    Raises
    ------
    FileNotFoundError
        If ``fiji_dir`` is not a Fiji installation.
    FileExistsError
        If a different script is already there and ``force`` is false.
    """
    from .fiji_script import SCRIPT_RELPATH, render_script

    root = Path(fiji_dir).expanduser()
    if not (root / "jars").is_dir() and not (root / "scripts").is_dir():
        raise FileNotFoundError(f"{root} is not a Fiji installation (no jars/ or scripts/ folder)")
    target = root / SCRIPT_RELPATH
    text = render_script()
    if target.exists():
        if target.read_text(encoding="utf-8") == text:
            return target, "unchanged"
        if not force:
            raise FileExistsError(f"{target} exists and differs; use --force to replace it")
    status = "updated" if target.exists() else "installed"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    partial.write_text(text, encoding="utf-8")
    partial.replace(target)
    return target, status


def fiji_install_command(args: argparse.Namespace) -> int:
    """Handle ``fm2s fiji install <Fiji.app>``; print what the user must do next."""
    try:
        target, status = install_fiji_script(args.fiji_dir, force=args.force)
    except (FileNotFoundError, FileExistsError, OSError) as exc:
        print(f"fm2s fiji install: {exc}", file=sys.stderr)
        return 1
    print(f"{status}: {target}")
    print(FIJI_SETUP_STEPS)
    return 0
