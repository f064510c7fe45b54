"""The versions of Java, ImageJ components and Python packages the ImageJ bridge needs, and checks.

Why each floor (see docs/imagej.md):

``java`` 11
    scyjava and JPype start no older Java (Fiji itself now asks for 21).
``scyjava`` 1.12.0
    ``scyjava.config.set_java_constraints``, which fm2s uses to never download a JDK.
``pyimagej`` 1.7.0
    ``mode="interactive:force"`` and the macOS behaviour of ``imagej.init`` fm2s relies on.
``scijava-common`` 2.100.0
    The ``#@script(language="Python")`` header of the Fiji menu script.
``scripting-python`` 0.4.2
    The first release whose script language is called "Python".

Checks return :class:`Finding` objects with a message naming the component, the version found
and the version needed; front-ends print them (``fm2s fiji install``) or log them to ImageJ's
Log window (Fiji start-up).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

#: Component -> the lowest version that works.
FLOORS: dict[str, str] = {
    "java": "11",
    "scyjava": "1.12.0",
    "pyimagej": "1.7.0",
    "jpype1": "1.5.0",
    "scijava-common": "2.100.0",
    "scripting-python": "0.4.2",
}

#: Python distribution names of the Python components.
PYTHON_PACKAGES: tuple[str, ...] = ("scyjava", "pyimagej", "jpype1")
#: Fiji components read from the names of the jars in ``Fiji.app/jars``.
FIJI_JARS: tuple[str, ...] = ("scijava-common", "scripting-python")


@dataclass(frozen=True)
class Finding:
    """One component: its version (None: not found) and whether it is new enough."""

    component: str
    found: str | None
    needed: str

    @property
    def ok(self) -> bool:
        """True when the component is there in at least the needed version."""
        return self.found is not None and parse(self.found) >= parse(self.needed)

    def message(self) -> str:
        """One line for users: what was found and what is needed."""
        if self.ok:
            return f"{self.component} {self.found} (needs {self.needed}): ok"
        found = "not found" if self.found is None else f"version {self.found} found"
        return f"{self.component}: {found}, fm2s needs {self.needed} or newer"


def parse(version: str) -> tuple[int, ...]:
    """``"2.100.1"`` -> ``(2, 100, 1)``; ``"1.8.0_392"``/``"21.0.4+7"`` -> leading numbers."""
    numbers = re.findall(r"\d+", version.split("-")[0].split("+")[0])
    return tuple(int(n) for n in numbers[:3]) or (0,)


def check(component: str, found: str | None) -> Finding:
    """:class:`Finding` of ``component`` (a key of :data:`FLOORS`) at version ``found``."""
    return Finding(component, found, FLOORS[component])


def python_package(name: str) -> str | None:
    """Installed version of the Python distribution ``name`` in this interpreter, or None."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def check_python() -> list[Finding]:
    """The Python components of this interpreter."""
    return [check(name, python_package(name)) for name in PYTHON_PACKAGES]


def jar_version(folder: Path, artifact: str) -> str | None:
    """Version of ``<artifact>-<version>.jar`` in ``folder`` (the newest if several)."""
    pattern = re.compile(rf"^{re.escape(artifact)}-(\d[\w.\-]*)\.jar$")
    found = [m.group(1) for p in folder.glob(f"{artifact}-*.jar") if (m := pattern.match(p.name))]
    return max(found, key=parse) if found else None


def check_fiji_jars(fiji_dir: Path) -> list[Finding]:
    """The Fiji components of ``fiji_dir`` (read from the names of its jars)."""
    return [check(name, jar_version(fiji_dir / "jars", name)) for name in FIJI_JARS]


def running_java() -> str | None:
    """Version of the running JVM (``java.specification.version``), or None without one."""
    try:
        import jpype
    except ImportError:
        return None
    if not jpype.isJVMStarted():
        return None
    return str(jpype.JClass("java.lang.System").getProperty("java.specification.version"))


def problems(findings: list[Finding]) -> list[str]:
    """The messages of the findings that are not ok."""
    return [f.message() for f in findings if not f.ok]
