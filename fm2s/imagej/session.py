"""Find ImageJ (a Fiji.app or a plain ImageJ 1.x jar) and start one JVM with it, once per process.

Two back-ends:

``fiji``
    A Fiji.app directory. fm2s starts the JVM itself with Fiji's jars on the class path, as
    Fiji's own Python-mode launcher (``config/fiji.py``) does, then hands it to pyimagej
    (``imagej.init(app_dir, mode=...)``); ImageJ2 and imagej-legacy are then available,
    headless or interactive. Starting the JVM first also avoids a bug of pyimagej 1.8.0, whose
    Java version guess fails with ``UnboundLocalError: ... 'major_version'`` whenever scyjava
    is told never to download a JDK. Not tested on the project machines (Fiji cannot be
    downloaded there).
``ij1``
    A plain ImageJ 1.x jar (e.g. Debian's ``/usr/share/java/ij.jar``) on the class path of a JVM
    started by scyjava/JPype. Headless, ImageJ 1.x cannot build its AWT menus, so its command
    table would be empty; :func:`fm2s.imagej.ij1_internals.install_headless_commands` fills it
    from the jar's ``IJ_Props.txt`` and the menu bar's built-in entries so that
    ``run("Gaussian Blur...")``, ``open()`` or ``run("Measure")`` work in ``java.awt.headless``
    mode too.

The JVM starts once per process and its options (``-Xmx``, headless) are fixed then; scyjava is
told never to download a JDK (the local ``java``/``JAVA_HOME`` is used). The Java and Python
components are checked against :data:`fm2s.imagej.versions.FLOORS` when the JVM starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import versions

DEBIAN_IJ_JAR = Path("/usr/share/java/ij.jar")
ENV_IJ_JAR = "FM2S_IJ_JAR"
ENV_FIJI = "FM2S_FIJI"
ENV_HEAP = "FM2S_JAVA_HEAP"
INSTALL_HINT = 'pip install "fm2s[imagej]" from an fm2s checkout or wheel (docs/imagej.md)'


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


def fiji_problem(path: Path) -> str | None:
    """Why ``path`` is not a Fiji installation, or None if it is one.

    A Fiji.app has its jars in ``jars/``, among them ImageJ 1.x (``ij-<version>.jar``) and
    imagej-legacy (which makes ImageJ 1.x part of ImageJ2).
    """
    if not path.is_dir():
        return f"{path} is not a Fiji installation (no such folder)"
    if not (path / "jars").is_dir():
        return f"{path} is not a Fiji installation (it has no jars/ folder)"
    for artifact, what in (("ij", "ImageJ 1.x"), ("imagej-legacy", "imagej-legacy")):
        if versions.jar_version(path / "jars", artifact) is None:
            return f"{path} is not a Fiji installation (jars/ has no {what}, {artifact}-*.jar)"
    return None


def find_fiji(fiji: str | os.PathLike | None = None) -> Path | None:
    """Return the Fiji.app directory: ``fiji``, else ``$FM2S_FIJI``, else None.

    Raises
    ------
    ImageJNotFoundError
        If the given directory is not a Fiji installation (:func:`fiji_problem`).
    """
    for source, value in (("--fiji", fiji), (ENV_FIJI, os.environ.get(ENV_FIJI))):
        if value:
            path = Path(value).expanduser()
            problem = fiji_problem(path)
            if problem is not None:
                raise ImageJNotFoundError(f"{source}: {problem}")
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
        _SESSION = _start_fiji(fiji_dir, headless, scyjava)
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
    _check_java()
    if headless:
        from .ij1_internals import install_headless_commands

        install_headless_commands(jar)
    _SESSION = ImageJSession("ij1", headless, None, jar)
    return _SESSION


def _check_java() -> None:
    finding = versions.check("java", versions.running_java())
    if not finding.ok:
        raise RuntimeError(f"{finding.message()} (set JAVA_HOME to a newer Java)")


def fiji_classpath(fiji_dir: Path) -> list[str]:
    """The jars Fiji's launcher puts on the class path: ``jars/`` and ``plugins/``, one level deep."""
    jars: list[Path] = []
    for folder in ("jars", "plugins"):
        jars += sorted((fiji_dir / folder).glob("*.jar"))
        jars += sorted((fiji_dir / folder).glob("*/*.jar"))
    return [str(p) for p in jars]


def _start_fiji(fiji_dir: Path, headless: bool, scyjava: Any) -> ImageJSession:
    """Start the JVM with Fiji's jars, then ImageJ2 through pyimagej (see the module docstring)."""
    imagej = require("imagej")
    # Importing pyimagej asks scyjava to fetch imglib2-imglyb from Maven when the JVM starts;
    # Fiji's jars hold it (and this machine may be offline): take Fiji's class path only.
    scyjava.config.endpoints.clear()
    scyjava.config.add_classpath(*fiji_classpath(fiji_dir))
    options = [f"-Dplugins.dir={fiji_dir}", f"-Dscijava.app.directory={fiji_dir}"]
    if headless:
        options.append("-Djava.awt.headless=true")
    try:
        scyjava.start_jvm(options)
    except Exception as exc:  # noqa: BLE001 - e.g. a jar pyimagej needs is missing from Fiji
        raise RuntimeError(_fiji_failure(fiji_dir, exc)) from exc
    _check_java()
    try:
        scyjava.jimport("org.scijava.launcher.ReflectionUnlocker").unlockAll()
    except Exception:  # noqa: BLE001 - older Fiji without the launcher: nothing to unlock
        pass
    try:
        gateway = imagej.init(str(fiji_dir), mode="headless" if headless else "interactive:force")
    except Exception as exc:  # noqa: BLE001 - one clear message instead of pyimagej's trace
        raise RuntimeError(_fiji_failure(fiji_dir, exc)) from exc
    return ImageJSession("fiji", headless, gateway, fiji_dir)


def _fiji_failure(fiji_dir: Path, exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:300]
    return (f"could not start ImageJ2 from {fiji_dir} through pyimagej ({type(exc).__name__}: "
            f"{text}); check that it is a complete, up-to-date Fiji (Help > Update...) or use "
            "--ij-jar with a plain ImageJ 1.x jar")


def _matches(session: ImageJSession, fiji: Any, ij_jar: Any) -> bool:
    if fiji:
        return session.backend == "fiji" and Path(fiji).expanduser() == session.location
    if ij_jar:
        return session.backend == "ij1" and Path(ij_jar).expanduser() == session.location
    return True
