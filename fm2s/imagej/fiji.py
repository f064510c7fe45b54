"""fm2s in Fiji: what ``fm2s fiji install`` writes, checks and removes, and the menu script's body.

How "FM2S Denoise" works in Fiji (docs/imagej.md explains the choice):

* Fiji's Python mode starts CPython, which runs the JVM and ImageJ through pyimagej. A ``.pth``
  file that ``fm2s fiji install`` writes into Fiji's Python environment imports
  :mod:`fm2s.imagej.fiji_startup` when that Python starts; it asks pyimagej to call
  :func:`fm2s.imagej.listener.register_command` as soon as ImageJ is up
  (``imagej.when_imagej_starts``). From then on fm2s serves "FM2S Denoise" itself, before
  Fiji's SciJava layer would: on a macro's own thread, as in plain ImageJ.
* ``scripts/Plugins/FM2S/FM2S_Denoise.py`` gives the command its menu entry (Plugins > FM2S).
  The listener answers the menu click too, so this script only runs when the listener is not
  there (fm2s missing from Fiji's Python, Python mode off, a run from the search bar); it then
  registers the listener and either runs the command (no macro involved) or stops the calling
  macro with a message saying what to do, never letting it carry on with its source image.

``fm2s fiji install`` checks that the folder is a Fiji and its components are recent enough,
writes the two files, and records what it wrote (with checksums) in
``scripts/Plugins/FM2S/.fm2s-install.json``; ``fm2s fiji uninstall`` removes exactly those
files if they are unchanged. Both can be run again safely.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from . import versions
from .macro_options import COMMAND_NAME
from .session import fiji_problem

SCRIPT_RELPATH = "scripts/Plugins/FM2S/FM2S_Denoise.py"
MANIFEST_RELPATH = "scripts/Plugins/FM2S/.fm2s-install.json"
HOOK_NAME = "fm2s_fiji.pth"

HOOK_TEXT = """\
# Written by `fm2s fiji install`: makes fm2s serve "FM2S Denoise" when Fiji starts in Python
# mode (fm2s.imagej.fiji_startup). `fm2s fiji uninstall` removes this file.
import fm2s.imagej.fiji_startup
"""

MENU_SCRIPT = '''\
#@script(language="Python")
"""FM2S Denoise (Plugins > FM2S): zero-shot denoising of the current image with fm2s.

Written by `fm2s fiji install`; `fm2s fiji uninstall` removes it. When Fiji runs in Python mode
with fm2s in its Python environment, fm2s serves this command itself and this script does not
run; it runs when that is not so, and says what to do.
"""
try:
    from fm2s.imagej.fiji import run_menu_script
except Exception:  # fm2s is missing from (or broken in) Fiji's Python environment
    import sys
    import traceback

    from scyjava import jimport

    IJ = jimport("ij.IJ")
    message = ("FM2S Denoise: fm2s cannot be imported in Fiji's Python environment. Install "
               "it there (fm2s's docs/imagej.md: <Fiji's python> -m pip install <fm2s checkout "
               "or wheel>) and restart Fiji.")
    IJ.log(traceback.format_exc() + message)
    interp = jimport("ij.macro.Interpreter").getInstance()
    headless = jimport("java.awt.GraphicsEnvironment").isHeadless()
    try:
        if interp is None:
            IJ.error("FM2S Denoise", message)
        elif headless:  # stop the calling macro quietly; say why on standard error
            interp.setIgnoreErrors(True)
            interp.abort(message)
            print("Macro Error: " + message, file=sys.stderr)
        else:
            interp.abort(message)  # ImageJ's "Macro Error" dialog; stops the calling macro
    except Exception:  # "Macro canceled": the calling macro is stopped
        pass
else:
    run_menu_script()
'''

NOT_REGISTERED = (
    f"{COMMAND_NAME}: fm2s was not serving this command when the macro called it (Fiji did "
    "not register it at start-up: is Fiji in Python mode, and was `fm2s fiji install` run?), "
    "so it could not be handed the macro's image. It is registered now: run the macro again."
)


def run_menu_script() -> None:
    """Body of the menu script (see the module docstring); never raises."""
    import jpype

    from .listener import handle_command, register_command, report_error

    register_command()
    in_macro = (jpype.JClass("ij.macro.Interpreter").getInstance() is not None
                or jpype.JClass("ij.Macro").getOptions() is not None)
    try:
        if in_macro:
            report_error(NOT_REGISTERED)
        else:
            handle_command(None, interactive=True)
    except Exception:  # noqa: BLE001 - "Macro canceled": the calling macro is stopped
        pass


# ---------------------------------------------------------------------------- installation


class FijiInstallError(RuntimeError):
    """``fm2s fiji install`` cannot go on; the message says why and what to do."""


@dataclass
class InstallReport:
    """What ``fm2s fiji install`` did and found."""

    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    findings: list[versions.Finding] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    python: Path | None = None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def find_fiji_python(fiji_dir: Path, python: str | os.PathLike | None = None) -> Path | None:
    """The Python interpreter of Fiji's Python mode.

    ``python`` (an interpreter or an environment folder) if given; else the ``python-dir``
    that *Edit > Options > Python...* wrote into ``config/jaunch/fiji.cfg``; else Fiji's
    default environment ``python/<platform>``.
    """
    candidates: list[Path] = []
    if python:
        candidates.append(Path(python).expanduser())
    else:
        cfg = fiji_dir / "config" / "jaunch" / "fiji.cfg"
        if cfg.is_file():
            for line in cfg.read_text(encoding="utf-8", errors="replace").splitlines():
                key, sep, value = line.partition("=")
                if sep and key.strip() == "python-dir" and value.strip():
                    candidates.append(Path(value.strip().strip("\"'")))
        candidates += sorted((fiji_dir / "python").glob("*"))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
        for name in ("bin/python3", "bin/python", "python.exe"):
            exe = candidate / name
            if exe.is_file():
                return exe
    return None


_PROBE = """\
import json, sysconfig
from importlib import metadata
def version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
print(json.dumps({"site": sysconfig.get_paths()["purelib"],
                  "packages": {n: version(n) for n in ("fm2s", "pyimagej", "scyjava", "jpype1")}}))
"""


def probe_python(python: Path) -> dict:
    """Ask Fiji's Python for its site-packages folder and the versions of the packages fm2s needs."""
    try:
        out = subprocess.run([str(python), "-c", _PROBE], capture_output=True, text=True,
                             timeout=120, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        raise FijiInstallError(f"cannot run Fiji's Python {python}: {exc}") from None


def install(fiji_dir: str | os.PathLike, *, python: str | os.PathLike | None = None,
            force: bool = False) -> InstallReport:
    """Check ``fiji_dir`` and install fm2s's menu command and start-up hook into it.

    Parameters
    ----------
    fiji_dir : path
        The Fiji.app folder.
    python : path, optional
        The interpreter (or environment folder) of Fiji's Python mode; found by default
        (:func:`find_fiji_python`).
    force : bool
        Replace a menu script of the same name that fm2s did not write.

    Returns
    -------
    InstallReport
        ``problems`` lists what still stands in the way (a component too old, no Python
        environment, fm2s missing from it), each with what to do.

    Raises
    ------
    FijiInstallError
        If the folder is not a Fiji, or a file fm2s did not write is in the way.
    """
    from ..io.files import atomic_write

    root = Path(fiji_dir).expanduser()
    problem = fiji_problem(root)
    if problem is not None:
        raise FijiInstallError(problem)
    report = InstallReport(findings=versions.check_fiji_jars(root))
    report.problems += [f"{m} (update Fiji: Help > Update...)"
                        for m in versions.problems(report.findings)]
    manifest = _read_manifest(root)
    targets: dict[Path, str] = {root / SCRIPT_RELPATH: MENU_SCRIPT}
    report.python = find_fiji_python(root, python)
    if report.python is None:
        report.problems.append(
            "Fiji's Python environment was not found: turn on Python mode (Edit > Options > "
            "Python..., Build Python environment), then run `fm2s fiji install` again (or pass "
            "--python <Fiji's python>)")
    else:
        probe = probe_python(report.python)
        packages = probe["packages"]
        for name in ("pyimagej", "scyjava", "jpype1"):
            finding = versions.check(name, packages.get(name))
            report.findings.append(finding)
            if not finding.ok:
                report.problems.append(f"{finding.message()} in {report.python}")
        if packages.get("fm2s") is None:
            report.problems.append(
                f"fm2s is not installed in Fiji's Python: run `{report.python} -m pip install "
                f"{_package_source()}`, then restart Fiji")
        targets[Path(probe["site"]) / HOOK_NAME] = HOOK_TEXT
    for path, text in targets.items():
        if path.exists():
            current = _sha256(path)
            if current == _text_sha256(text):
                report.unchanged.append(path)
                continue
            if manifest.get(str(path)) != current and not force:
                raise FijiInstallError(f"{path} exists and was not written by fm2s; move it "
                                       "away (or use --force to replace it)")
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp, t=text: tmp.write_text(t, encoding="utf-8"),
                     overwrite=True)
        report.written.append(path)
    manifest.update({str(p): _text_sha256(t) for p, t in targets.items()})
    _write_manifest(root, manifest)
    return report


def uninstall(fiji_dir: str | os.PathLike) -> tuple[list[Path], list[Path]]:
    """Remove what ``fm2s fiji install`` wrote into ``fiji_dir`` (if unchanged since).

    Returns
    -------
    (list of Path, list of Path)
        The files removed, and the files kept because they were changed after fm2s wrote them.
    """
    root = Path(fiji_dir).expanduser()
    manifest = _read_manifest(root)
    removed, kept = [], []
    for name, digest in manifest.items():
        path = Path(name)
        if not path.exists():
            continue
        if _sha256(path) == digest:
            path.unlink()
            removed.append(path)
        else:
            kept.append(path)
    manifest_path = root / MANIFEST_RELPATH
    if kept:
        _write_manifest(root, {str(p): manifest[str(p)] for p in kept})
    elif manifest_path.exists():
        manifest_path.unlink()
    folder = (root / SCRIPT_RELPATH).parent
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
    return removed, kept


def _read_manifest(root: Path) -> dict[str, str]:
    path = root / MANIFEST_RELPATH
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def _write_manifest(root: Path, manifest: dict[str, str]) -> None:
    from ..io.files import atomic_write

    path = root / MANIFEST_RELPATH
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(manifest, indent=1, sort_keys=True)
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite=True)


def _package_source() -> str:
    """What to give pip for this fm2s: its checkout folder, else the PyPI-less hint."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file():
        return str(checkout)
    return "<an fm2s checkout folder or a wheel built from it>"
