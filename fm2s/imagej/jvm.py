"""Find ImageJ (a Fiji.app or a plain ImageJ 1.x jar) and start one JVM with it, once per process.

Two back-ends:

``fiji``
    A Fiji.app directory, started through pyimagej (``imagej.init(app_dir, mode=...)``); ImageJ2
    and imagej-legacy are then available, headless or interactive. Written against pyimagej's
    documented API; not tested on the project machines (Fiji cannot be downloaded there).
``ij1``
    A plain ImageJ 1.x jar (e.g. Debian's ``/usr/share/java/ij.jar``) on the class path of a JVM
    started by scyjava/JPype. Headless, ImageJ 1.x cannot build its AWT menus, so its command
    table would be empty; :func:`install_headless_commands` fills it from the jar's
    ``IJ_Props.txt`` and the menu bar's built-in entries so that ``run("Gaussian Blur...")``,
    ``open()`` or ``run("Measure")`` work in ``java.awt.headless`` mode too.

The JVM starts once per process and its options (``-Xmx``, headless) are fixed then; scyjava is
told never to download a JDK (the local ``java``/``JAVA_HOME`` is used).
"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEBIAN_IJ_JAR = Path("/usr/share/java/ij.jar")
ENV_IJ_JAR = "FM2S_IJ_JAR"
ENV_FIJI = "FM2S_FIJI"
ENV_HEAP = "FM2S_JAVA_HEAP"
INSTALL_HINT = 'pip install "fm2s[imagej]"'


class ImageJNotFoundError(RuntimeError):
    """Neither a Fiji.app nor an ImageJ 1.x jar could be found."""


@dataclass(frozen=True)
class ImageJSession:
    """The ImageJ this process runs.

    Attributes
    ----------
    backend : str
        ``"ij1"`` (plain ImageJ 1.x jar), ``"fiji"`` (pyimagej gateway) or ``"external"`` (the JVM
        was started by someone else, e.g. Fiji running our script).
    headless : bool
        Whether ``java.awt.headless`` is set.
    gateway : object or None
        The pyimagej gateway for the ``fiji`` back-end.
    location : Path or None
        The jar or Fiji.app used.
    """

    backend: str
    headless: bool
    gateway: Any = None
    location: Path | None = None


_SESSION: ImageJSession | None = None


def require(module: str) -> Any:
    """Import ``module`` (``jpype``, ``scyjava`` or ``imagej``) or explain how to install it.

    Raises
    ------
    ImportError
        Naming ``pip install "fm2s[imagej]"``.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"the ImageJ bridge needs the Python package {module!r}, which is not installed; "
            f"install it with: {INSTALL_HINT}"
        ) from exc


def find_ij_jar(ij_jar: str | os.PathLike | None = None) -> Path | None:
    """Return the ImageJ 1.x jar: ``ij_jar``, else ``$FM2S_IJ_JAR``, else Debian's jar, else None.

    Raises
    ------
    ImageJNotFoundError
        If ``ij_jar`` or ``$FM2S_IJ_JAR`` is given but is not a file.
    """
    for source, value in (("--ij-jar", ij_jar), (ENV_IJ_JAR, os.environ.get(ENV_IJ_JAR))):
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise ImageJNotFoundError(f"{source}: no ImageJ jar at {path}")
            return path
    return DEBIAN_IJ_JAR if DEBIAN_IJ_JAR.is_file() else None


def find_fiji(fiji: str | os.PathLike | None = None) -> Path | None:
    """Return the Fiji.app directory: ``fiji``, else ``$FM2S_FIJI``, else None.

    Raises
    ------
    ImageJNotFoundError
        If the given directory does not look like a Fiji installation (no ``jars/`` folder).
    """
    for source, value in (("--fiji", fiji), (ENV_FIJI, os.environ.get(ENV_FIJI))):
        if value:
            path = Path(value).expanduser()
            if not (path / "jars").is_dir():
                raise ImageJNotFoundError(
                    f"{source}: {path} is not a Fiji installation (it has no jars/ folder)"
                )
            return path
    return None


def current_session() -> ImageJSession | None:
    """Return the running session, or an ``external`` one if another party started the JVM."""
    if _SESSION is not None:
        return _SESSION
    try:
        import jpype
    except ImportError:
        return None
    if jpype.isJVMStarted():
        headless = bool(jpype.JClass("java.awt.GraphicsEnvironment").isHeadless())
        return ImageJSession("external", headless)
    return None


def start_imagej(
    *,
    fiji: str | os.PathLike | None = None,
    ij_jar: str | os.PathLike | None = None,
    headless: bool | None = None,
    max_heap: str | None = None,
) -> ImageJSession:
    """Start the JVM with ImageJ (once per process) and return the session.

    A Fiji.app (``fiji`` or ``$FM2S_FIJI``) is preferred and started with pyimagej; otherwise the
    ImageJ 1.x jar (``ij_jar``, ``$FM2S_IJ_JAR`` or ``/usr/share/java/ij.jar``) is put on the
    class path of a JVM started by scyjava.

    Parameters
    ----------
    fiji, ij_jar : path, optional
        Where ImageJ is. Give at most one.
    headless : bool, optional
        Start in ``java.awt.headless`` mode; by default headless when ``$DISPLAY`` is unset.
    max_heap : str, optional
        Java heap limit such as ``"4g"`` (default ``$FM2S_JAVA_HEAP``, else Java's default).

    Returns
    -------
    ImageJSession

    Raises
    ------
    ImageJNotFoundError
        If no ImageJ is found (the message says where it looked).
    ImportError
        If pyimagej/scyjava/JPype are missing.
    RuntimeError
        If a JVM is already running with a different ImageJ.
    """
    global _SESSION
    if fiji and ij_jar:
        raise ValueError("give either a Fiji.app (--fiji) or an ImageJ jar (--ij-jar), not both")
    running = current_session()
    if running is not None:
        if running.backend == "external" or _matches(running, fiji, ij_jar):
            return running
        raise RuntimeError(
            f"the JVM is already running with {running.location}; it starts once per process"
        )
    if headless is None:
        headless = not os.environ.get("DISPLAY")
    fiji_dir = None if ij_jar else find_fiji(fiji)
    scyjava = require("scyjava")
    require("jpype")
    scyjava.config.set_java_constraints(fetch="never")
    heap = max_heap or os.environ.get(ENV_HEAP)
    if heap:
        scyjava.config.add_option(f"-Xmx{heap}")
    if fiji_dir is not None:
        imagej = require("imagej")
        gateway = imagej.init(str(fiji_dir), mode="headless" if headless else "interactive")
        _SESSION = ImageJSession("fiji", headless, gateway, fiji_dir)
        return _SESSION
    jar = find_ij_jar(ij_jar)
    if jar is None:
        raise ImageJNotFoundError(
            "no ImageJ found: pass --fiji DIR (a Fiji.app) or --ij-jar JAR (an ImageJ 1.x jar), "
            f"set ${ENV_FIJI} or ${ENV_IJ_JAR}, or install Debian's ImageJ "
            f"(apt-get install libij-java, which provides {DEBIAN_IJ_JAR})"
        )
    scyjava.config.add_classpath(str(jar))
    if headless:
        scyjava.config.add_option("-Djava.awt.headless=true")
    scyjava.start_jvm()
    if headless:
        install_headless_commands(jar)
    _SESSION = ImageJSession("ij1", headless, None, jar)
    return _SESSION


def _matches(session: ImageJSession, fiji: Any, ij_jar: Any) -> bool:
    if fiji:
        return session.backend == "fiji" and Path(fiji).expanduser() == session.location
    if ij_jar:
        return session.backend == "ij1" and Path(ij_jar).expanduser() == session.location
    return True


# Entries that ImageJ 1.x's Menus.addMenuBar() adds in code rather than from IJ_Props.txt.
_MENU_BAR_COMMANDS: dict[str, str] = {
    "Open...": 'ij.plugin.Commands("open")',
    "Open Next": "ij.plugin.NextImageOpener",
    "Close": 'ij.plugin.Commands("close")',
    "Close All": 'ij.plugin.Commands("close-all")',
    "Save": 'ij.plugin.Commands("save")',
    "Revert": 'ij.plugin.Commands("revert")',
    "Undo": 'ij.plugin.Commands("undo")',
    "Clear": 'ij.plugin.filter.Filler("clear")',
    "Clear Outside": 'ij.plugin.filter.Filler("outside")',
    "Fill": 'ij.plugin.filter.Filler("fill")',
    "Draw": 'ij.plugin.filter.Filler("draw")',
    "Invert": 'ij.plugin.filter.Filters("invert")',
    "Show Info...": "ij.plugin.ImageInfo",
    "Properties...": "ij.plugin.filter.ImageProperties",
    "Crop": 'ij.plugin.Resizer("crop")',
    "Duplicate...": "ij.plugin.Duplicator",
    "Rename...": 'ij.plugin.SimpleCommands("rename")',
    "Scale...": "ij.plugin.Scaler",
    "Smooth": 'ij.plugin.filter.Filters("smooth")',
    "Sharpen": 'ij.plugin.filter.Filters("sharpen")',
    "Find Edges": 'ij.plugin.filter.Filters("edge")',
    "Find Maxima...": "ij.plugin.filter.MaximumFinder",
    "Enhance Contrast...": "ij.plugin.ContrastEnhancer",
    "Image Calculator...": "ij.plugin.ImageCalculator",
    "Subtract Background...": "ij.plugin.filter.BackgroundSubtracter",
    "Measure": "ij.plugin.filter.Analyzer",
    "Analyze Particles...": "ij.plugin.filter.ParticleAnalyzer",
    "Summarize": 'ij.plugin.filter.Analyzer("sum")',
    "Distribution...": "ij.plugin.Distribution",
    "Label": 'ij.plugin.filter.Filler("label")',
    "Clear Results": 'ij.plugin.filter.Analyzer("clear")',
    "Set Measurements...": 'ij.plugin.filter.Analyzer("set")',
    "Set Scale...": "ij.plugin.filter.ScaleDialog",
    "Calibrate...": "ij.plugin.filter.Calibrator",
    "Histogram": "ij.plugin.Histogram",
    "Plot Profile": 'ij.plugin.Profiler("plot")',
}

_PROPS_ENTRY = re.compile(r'^[A-Za-z_]+\d+="([^"]+)",(\S.*)$', re.MULTILINE)


def headless_command_table(jar: str | os.PathLike) -> dict[str, str]:
    """Return ImageJ 1.x's command table (menu label -> plugin class) read from ``jar``.

    Parameters
    ----------
    jar : path
        An ImageJ 1.x jar; its ``IJ_Props.txt`` lists the menu commands.

    Returns
    -------
    dict of str to str
    """
    with zipfile.ZipFile(jar) as archive:
        text = archive.read("IJ_Props.txt").decode("latin-1")
    table = {label: cls.strip() for label, cls in _PROPS_ENTRY.findall(text)}
    table.update(_MENU_BAR_COMMANDS)
    return table


def install_headless_commands(jar: str | os.PathLike) -> int:
    """Give a headless ImageJ 1.x its command table so macros can ``run()`` built-in commands.

    Does nothing when ImageJ already has a table (with a display it builds its own menus).

    Returns
    -------
    int
        The number of commands installed (0 if the table already existed).
    """
    import jpype

    menus = jpype.JClass("ij.Menus")
    field = menus.class_.getDeclaredField("pluginsTable")
    field.setAccessible(True)
    if field.get(None) is not None:
        return 0
    table = jpype.JClass("java.util.Hashtable")()
    for label, cls in headless_command_table(jar).items():
        table.put(label, cls)
    field.set(None, table)
    return int(table.size())
