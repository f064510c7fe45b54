"""Run ImageJ commands the way Fiji's SciJava layer runs a script command, on the real ImageJ jar.

Fiji cannot be downloaded on the project machines, so this module reproduces, on Debian's
ImageJ 1.x jar, what happens when an ImageJ 1.x macro calls ``run("FM2S Denoise", "...")`` in
Fiji and the command is a SciJava script (read from imagej-legacy, ij1-patcher, scijava-common,
scripting-python and scyjava; docs/imagej.md lists the classes):

1. The macro's ``run()`` reaches ``ij.Executer`` on the macro's own thread; the registered
   ``ij.CommandListener`` s are asked first (fm2s's, when Fiji registered it at start-up).
2. Otherwise imagej-legacy intercepts ``IJ.runPlugIn`` and the module service runs the script
   on a separate worker thread (``SciJava-...-Thread-N``) while the macro's thread waits for it.
3. Inputs: the options are filled only from the macro string (imagej-legacy's macro
   preprocessor: ij1-patcher makes ``Macro.getOptions()`` answer on the worker thread); an
   ``ImagePlus`` input is the worker thread's ``WindowManager.getCurrentImage()`` (the
   active-image preprocessor).
4. An ``#@output ImagePlus`` is shown from the AWT event thread (not at all when headless).
5. The script runs in CPython through scripting-python/scyjava: exceptions it raises are
   caught and written to Python's ``sys.stderr``; nothing reaches the macro.

Step 2 happens where Fiji does it: after ``ij.Executer`` has asked its listeners (outside the
lock it holds while asking them), in ``IJ.runPlugIn``: the command table maps the command to a
small ``PlugIn`` (``java/Fm2sSciJavaHarness.java``, compiled by :func:`prepare`) whose ``run``
calls this module's "module service".
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fm2s.imagej.fiji import MENU_SCRIPT as FIJI_MENU_SCRIPT

#: The menu script ``fm2s fiji install`` writes into ``Fiji.app/scripts/Plugins/FM2S/``.
MENU_SCRIPT = FIJI_MENU_SCRIPT

_COUNTER = itertools.count(1)
_KEEP: list[Any] = []


def run_script_module(script: Path | str, inputs: dict[str, Any] | None = None,
                      outputs: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run a CPython SciJava script as scripting-python does, on the calling thread.

    The ``#@`` header must declare ``#@script(language="Python")`` (the Python language of
    scripting-python); inputs become globals; exceptions go to ``sys.stderr`` (scyjava's
    PythonScriptRunner), not to the caller.

    Returns
    -------
    dict
        The script's globals after it ran (outputs are read from there).
    """
    text = script.read_text(encoding="utf-8") if isinstance(script, Path) else script
    if not text.startswith('#@script(language="Python")'):
        raise ValueError("not a CPython SciJava script: the first line must be "
                         '#@script(language="Python")')
    namespace: dict[str, Any] = {"__name__": "__main__", **(inputs or {})}
    try:
        exec(compile(text, str(script), "exec"), namespace)
    except Exception:  # scyjava: printed, swallowed
        traceback.print_exc(file=sys.stderr)
    return namespace


def prepare() -> Path:
    """Compile the harness's ``PlugIn`` and put it on the class path of the JVM to be started.

    Call before the JVM starts. Returns the folder of the compiled class.
    """
    import scyjava

    javac = shutil.which("javac")
    if javac is None:
        raise RuntimeError("javac is needed for the SciJava harness (apt-get install "
                           "default-jdk-headless)")
    from fm2s.imagej.session import find_ij_jar

    out = Path(tempfile.mkdtemp(prefix="fm2s-harness-"))
    source = Path(__file__).parent / "java" / "Fm2sSciJavaHarness.java"
    subprocess.run([javac, "-d", str(out), "-cp", str(find_ij_jar()), str(source)], check=True,
                   capture_output=True)
    scyjava.config.add_classpath(str(out))
    return out


def sci_java_command(command: str, script: Path | str, *,
                     image_input: str | None = None, output: str | None = None,
                     option_inputs: tuple[str, ...] = ()) -> None:
    """Make ``command`` a SciJava script command, run as Fiji runs one (steps 2-5).

    Parameters
    ----------
    command : str
        The ImageJ command (menu label), e.g. ``"FM2S Denoise"``.
    script : path or str
        The script (a file, or its text).
    image_input : str, optional
        Name of an ``#@ ImagePlus`` input (filled with the worker thread's current image).
    output : str, optional
        Name of an ``#@output ImagePlus`` (shown from the event thread unless headless).
    option_inputs : tuple of str
        Inputs filled from the macro options, by name (strings).
    """
    import jpype

    from fm2s.imagej.macro_options import parse_macro_options

    thread_cls = jpype.JClass("java.lang.Thread")
    macro = jpype.JClass("ij.Macro")
    window_manager = jpype.JClass("ij.WindowManager")
    headless = bool(jpype.JClass("java.awt.GraphicsEnvironment").isHeadless())

    @jpype.JImplements("java.lang.Runnable")
    class Task:
        def __init__(self, body: Callable[[], None]) -> None:
            self.body = body

        @jpype.JOverride
        def run(self) -> None:
            self.body()

    def module_service() -> None:  # on the thread that ran the command (IJ.runPlugIn)
        options = macro.getOptions()

        def module() -> None:
            inputs: dict[str, Any] = {}
            values = parse_macro_options(None if options is None else str(options))
            inputs.update({k: values[k] for k in option_inputs if k in values})
            if image_input is not None:
                inputs[image_input] = window_manager.getCurrentImage()
            namespace = run_script_module(script, inputs)
            shown = namespace.get(output) if output else None
            if shown is not None and not headless:
                jpype.JClass("java.awt.EventQueue").invokeAndWait(Task(shown.show))

        worker = thread_cls(Task(module), f"SciJava-harness-Thread-{next(_COUNTER)}")
        if options is not None:  # ij1-patcher: the worker sees its caller's options
            worker.setName("Run$_" + str(worker.getName()))
            macro.setOptions(worker, str(options))
        worker.start()
        worker.join()  # the module service's Future.get()

    runnable = Task(module_service)
    _KEEP.append(runnable)
    jpype.JClass("Fm2sSciJavaHarness").module = runnable
    commands = jpype.JClass("ij.Menus").getCommands()
    if commands is None:
        raise RuntimeError("ImageJ has no command table yet (start it first)")
    commands.put(command, "Fm2sSciJavaHarness")


#: A script that does what fm2s's first Fiji script did (SciJava parameters, the result as an
#: ``#@output``); the harness must reproduce the failures seen with it in Fiji.
OLD_STYLE_SCRIPT = '''#@script(language="Python")
#@ ImagePlus imp
#@output ImagePlus result
from fm2s.imagej.command import denoise_imageplus
result = denoise_imageplus(imp, "schedule=quick num_threads=1 seed=0")
'''
