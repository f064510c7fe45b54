"""The "FM2S Denoise" dialog and macro recording, both made from the one option specification.

The dialog asks for the options of the ``main`` group of :data:`fm2s.options.OPTIONS`, with
fm2s's defaults (not the values of an earlier run: a dialog that remembered them would make
the macro recorder's line and the next run disagree). Labels are the option names, so the
macro recorder writes the keys the command reads. After a run from the dialog,
:func:`record` writes ``run("FM2S Denoise", "...");`` with the seed that was used, so the line
repeats the run.
"""

from __future__ import annotations

from ..options import (
    OPTIONS,
    Option,
    OptionError,
    Options,
    option,
    validate_options,
    value_text,
)
from .macro_options import COMMAND_NAME

#: The options the dialog asks for.
DIALOG_OPTIONS: tuple[Option, ...] = tuple(o for o in OPTIONS if o.group == "main")


def has_display() -> bool:
    """True when ImageJ can show windows (not ``java.awt.headless``)."""
    import jpype

    return not bool(jpype.JClass("java.awt.GraphicsEnvironment").isHeadless())


def dialog_fields() -> list[tuple[str, str, tuple[str, ...] | None]]:
    """(label, default text, choices or None) of every field, in order."""
    return [(o.name, value_text(o.default), o.choices() if o.choices else None)
            for o in DIALOG_OPTIONS]


def ask_options(values: dict[str, str] | None = None) -> Options | None:
    """Show the dialog until its values are valid; return them, or None when cancelled.

    Parameters
    ----------
    values : dict, optional
        Initial field texts (default: fm2s's defaults); used again, with the error shown,
        when a value is refused.
    """
    import jpype

    generic_dialog = jpype.JClass("ij.gui.GenericDialog")
    current = dict(values or {})
    error = ""
    while True:
        gd = generic_dialog(COMMAND_NAME)
        if error:
            gd.addMessage(error)
        for label, default, choices in dialog_fields():
            text = current.get(label, default)
            if choices is not None:
                gd.addChoice(label, jpype.JArray(jpype.JString)(list(choices)), text)
            else:
                gd.addStringField(label, text, 12)
        gd.addMessage("preset and noise_level are FM2S's (n2d and zsn2n need neither).\n"
                      "seed: a whole number repeats a run; none draws one (recorded).\n"
                      "Every other option of the macro command keeps its default.")
        gd.showDialog()
        if gd.wasCanceled():
            return None
        for label, _, choices in dialog_fields():
            current[label] = str(gd.getNextChoice() if choices is not None else gd.getNextString())
        try:
            return validate_options(**applicable(current))
        except OptionError as exc:
            error = f"{exc}"


def applicable(fields: dict[str, str]) -> dict[str, str]:
    """The dialog's fields without those the chosen method does not use (every field has a
    value, so the FM2S preset is there even when Noise2Detail was chosen)."""
    method = fields.get("method", option("method").default)
    try:
        method = option("method").parse(method)
    except OptionError:
        return fields  # validation says what is wrong with it
    return {k: v for k, v in fields.items() if option(k).applies_to(method)}


def record(options: Options, *, seed: int) -> None:
    """Record the run in ImageJ's macro recorder, if it is recording (a line that repeats it).

    Does nothing inside a macro (as ImageJ's own commands, only what a person does is
    recorded).
    """
    import jpype

    recorder = jpype.JClass("ij.plugin.frame.Recorder")
    thread = jpype.JClass("java.lang.Thread").currentThread()
    if not bool(recorder.record) or str(thread.getName()).startswith("Run$_"):
        return
    recorder.setCommand(COMMAND_NAME)
    for key, text in options.macro_items(seed=seed):
        recorder.recordOption(key, text)
    recorder.saveCommand()


def recorded_line(options: Options, *, seed: int) -> str:
    """The macro line :func:`record` writes, as text (for the Log window and tests)."""
    return f'run("{COMMAND_NAME}", "{options.macro_string(seed=seed)}");'
