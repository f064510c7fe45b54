"""The ``fm2s`` command: denoise TIFF/PNG files from the shell, list presets, run the demo.

Examples
--------
.. code-block:: console

    $ fm2s denoise data/*.tif -o denoised/ --preset confocal --noise-level avg1
    $ fm2s denoise data/ -o denoised/ --schedule quick --seed 0     # every TIFF/PNG in data/
    $ fm2s presets
    $ fm2s demo -o fm2s-demo

``fm2s denoise`` writes ``<stem>_fm2s.tif`` into the output folder with the input's pixel type,
axes, calibration and ImageJ metadata, plus the FM2S parameters (see :mod:`fm2s.io`). It never
writes over an input, skips outputs that already exist (so re-running the same command resumes
an interrupted batch; ``--overwrite`` redoes them), writes each file atomically, and carries on
after a file it cannot read or denoise (exit code 1 at the end). Bad options exit with code 2.

If :mod:`fm2s.imagej.cli` is importable its ``register(subparsers)`` adds more subcommands
(``macro``, ``fiji``). Every subcommand sets ``func``: ``func(args) -> int`` (the exit code).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._version import __version__

log = logging.getLogger("fm2s")

#: Suffix added to the stem of every output file.
OUTPUT_SUFFIX = "_fm2s.tif"

_PARAM_FLAGS: tuple[tuple[str, str, type], ...] = (
    ("--n-chan", "n_chan", int),
    ("--stride", "stride", int),
    ("--median-window", "median_window", int),
    ("--k-g", "k_g", float),
    ("--k-p", "k_p", float),
    ("--lam-p", "lam_p", float),
)


class UsageError(Exception):
    """A bad command-line choice: reported in one line, exit code 2."""


# --------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Return the ``fm2s`` argument parser with all subcommands registered.

    Returns
    -------
    argparse.ArgumentParser
        Each subcommand sets ``func(args) -> int``.
    """
    parser = argparse.ArgumentParser(
        prog="fm2s",
        description="FM2S zero-shot denoising of fluorescence micrographs (TIFF/PNG in, TIFF out).",
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
        "denoise", parents=[common], help="denoise TIFF/PNG files or folders",
        description="Denoise each INPUT (TIFF/PNG file, or folder of them) into "
                    "OUTDIR/<stem>_fm2s.tif. Existing outputs are skipped unless --overwrite.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                   help="folder for the outputs (created if missing)")
    p.add_argument("--preset", default="confocal",
                   help="microscope preset (see 'fm2s presets'; default confocal)")
    p.add_argument("--noise-level", default="avg1",
                   help="avg1 (single capture, noisiest) .. avg16 (default avg1)")
    p.add_argument("--schedule", default="fast",
                   help="fast (default), reference (the authors' schedule, minutes per plane) "
                        "or quick (short preview)")
    p.add_argument("--stack-mode", default="auto",
                   help="auto, shared, per_plane or warm_start (default auto)")
    p.add_argument("--seed", type=int, default=None,
                   help="random seed for repeatable results (default: random, recorded)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--tile", default="1024", metavar="PIXELS",
                   help="largest plane side processed at once at inference; 'none' for no "
                        "tiling (default 1024)")
    p.add_argument("--bias-sigma", default=None, metavar="PIXELS",
                   help="Gaussian sigma of the intensity-bias correction (puts the output's "
                        "local mean back on the input's); 0 turns it off (default: the "
                        "library's default)")
    p.add_argument("--intensity-range", nargs=2, type=float, default=None, metavar=("LO", "HI"),
                   help="data values mapped to 0 and 1 (default: 0..255 for 8-bit, "
                        "min..max of each channel otherwise)")
    group = p.add_argument_group("FM2S parameter overrides (replace the preset's value)")
    for flag, dest, kind in _PARAM_FLAGS:
        group.add_argument(flag, dest=dest, type=kind, default=None)
    group.add_argument("--set", dest="set_params", action="append", default=[],
                       metavar="KEY=VALUE", help="any parameter, e.g. --set k_g=150")
    p.add_argument("--overwrite", action="store_true",
                   help="redo outputs that already exist (default: skip them)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_denoise)

    p = sub.add_parser("presets", parents=[common], help="list presets and their parameters")
    p.set_defaults(func=_cmd_presets)

    p = sub.add_parser(
        "demo", parents=[common], help="denoise a synthetic sample and write PNGs",
        description="Denoise a small synthetic fluorescence-like image with the short 'quick' "
                    "schedule and write noisy / denoised / side-by-side PNGs.",
    )
    p.add_argument("-o", "--output", default="fm2s-demo", metavar="DIR",
                   help="folder for the PNGs (default ./fm2s-demo)")
    p.add_argument("--size", type=int, default=256, help="image side in pixels (default 256)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample and of FM2S")
    p.add_argument("--threads", type=int, default=1, metavar="N",
                   help="CPU threads for torch (default 1: fastest for this tiny network)")
    p.set_defaults(func=_cmd_demo)

    try:
        from .imagej import cli as imagej_cli
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
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"fm2s {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fm2s: interrupted; finished files are kept, re-run the same command to resume",
              file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `fm2s presets | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


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


# --------------------------------------------------------------------------------------------
# fm2s denoise
# --------------------------------------------------------------------------------------------


def _denoise_options(args: argparse.Namespace) -> dict[str, Any]:
    """Turn the parsed arguments into keyword arguments of :func:`fm2s.denoise_with_metadata`."""
    overrides: dict[str, Any] = {}
    for item in args.set_params:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key or not value.strip():
            raise UsageError(f"--set expects KEY=VALUE (e.g. --set k_g=150), got {item!r}")
        overrides[key] = value.strip()
    for _flag, dest, _kind in _PARAM_FLAGS:
        value = getattr(args, dest)
        if value is not None:
            overrides[dest] = value
    tile_text = str(args.tile).strip().lower()
    if tile_text in ("none", "0", "off"):
        tile: int | None = None
    else:
        try:
            tile = int(tile_text)
        except ValueError:
            raise UsageError(f"--tile must be a number of pixels or 'none', got {args.tile!r}") \
                from None
    options: dict[str, Any] = dict(
        preset=args.preset, noise_level=args.noise_level, schedule=args.schedule,
        stack_mode=args.stack_mode, seed=args.seed, device=args.device,
        num_threads=args.threads, tile=tile,
        intensity_range=None if args.intensity_range is None else tuple(args.intensity_range),
    )
    if args.bias_sigma is not None:
        text = str(args.bias_sigma).strip().lower()
        options["bias_sigma"] = None if text in ("none", "off") else text
    options.update(overrides)
    return options


#: Keyword arguments of :func:`fm2s.denoise` that are options, not FM2S parameters.
_OPTION_KEYS = frozenset({"preset", "noise_level", "schedule", "stack_mode", "seed", "device",
                          "num_threads", "tile", "intensity_range", "bias_sigma"})


def _validate(options: dict[str, Any]) -> None:
    """Check every option once, before any file is touched (the core's messages)."""
    from .api import validate_options

    try:
        validate_options(
            **{k: v for k, v in options.items() if k in _OPTION_KEYS}, n_planes=1,
            overrides={k: v for k, v in options.items() if k not in _OPTION_KEYS},
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def collect_inputs(inputs: Sequence[str]) -> tuple[list[Path], list[str]]:
    """Expand files and folders into the list of image files to denoise.

    Folders contribute their ``.tif``/``.tiff``/``.png`` files (not recursive; hidden files
    and earlier outputs ``*_fm2s.tif`` are left out). Files named explicitly are taken
    whatever their suffix.

    Parameters
    ----------
    inputs : sequence of str
        Paths given on the command line.

    Returns
    -------
    (list of pathlib.Path, list of str)
        The files, in order and without duplicates, and one error message per input that
        does not exist or is a folder without images.
    """
    from .io import IMAGE_SUFFIXES

    files: list[Path] = []
    errors: list[str] = []
    seen: set[Path] = set()
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            found = sorted(
                f for f in path.iterdir()
                if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
                and not f.name.startswith(".") and not _is_output_name(f)
            )
            if not found:
                errors.append(f"{path}: folder contains no TIFF or PNG images")
            candidates = found
        elif path.exists():
            candidates = [path]
        else:
            errors.append(f"{path}: no such file or folder")
            candidates = []
        for f in candidates:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                files.append(f)
    return files, errors


def _is_output_name(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(OUTPUT_SUFFIX) or name.endswith("_fm2s.tiff")


def output_path(input_path: Path, outdir: Path) -> Path:
    """Return ``outdir / <stem>_fm2s.tif`` for ``input_path``."""
    return outdir / f"{input_path.stem}{OUTPUT_SUFFIX}"


def _cmd_denoise(args: argparse.Namespace) -> int:
    options = _denoise_options(args)
    _validate(options)
    files, errors = collect_inputs(args.inputs)
    outdir = Path(args.output)
    if outdir.exists() and not outdir.is_dir():
        raise UsageError(f"output {outdir} exists and is not a folder")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the output folder {outdir}: {exc.strerror or exc}") \
            from None

    # Plan: refuse outputs that are inputs, or that two inputs would share.
    input_keys = {f.resolve() for f in files}
    input_ids = {_file_id(f) for f in files} - {None}  # also catches links, case-folding
    planned: dict[Path, Path] = {}
    plan: list[tuple[Path, Path]] = []
    for f in files:
        out = output_path(f, outdir)
        key = out.resolve()
        if key in input_keys or _file_id(out) in input_ids:
            errors.append(f"{f}: refusing to write {out}: it is one of the inputs "
                          "(choose another output folder)")
        elif key in planned:
            errors.append(f"{f}: its output {out} would also be the output of {planned[key]} "
                          "(rename one, or denoise them into different folders)")
        else:
            planned[key] = f
            plan.append((f, out))
    for message in errors:
        print(f"error: {message}", file=sys.stderr)
    failed = len(errors)

    from tqdm import tqdm

    done = skipped = 0
    started = time.perf_counter()
    bar = tqdm(total=len(plan), unit="file", disable=True if args.no_progress else None,
               bar_format="{l_bar}{bar}| {n:.2f}/{total_fmt} files [{elapsed}<{remaining}{postfix}]",
               file=sys.stderr, dynamic_ncols=True)
    try:
        for index, (src, out) in enumerate(plan):
            bar.set_postfix_str(src.name, refresh=False)
            if out.exists() and not args.overwrite:
                tqdm.write(f"skip {src}: {out} exists (use --overwrite to redo it)",
                           file=sys.stdout)
                skipped += 1
                _advance(bar, index + 1)
                continue
            try:
                seconds = _denoise_file(src, out, options, args.overwrite,
                                        lambda frac, i=index: _advance(bar, i + frac))
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # one bad file must not stop the batch
                failed += 1
                log.debug("fm2s: %s failed", src, exc_info=True)
                tqdm.write(f"error: {src}: {_one_line(exc)}", file=sys.stderr)
            else:
                done += 1
                tqdm.write(f"wrote {out} ({seconds:.1f} s)", file=sys.stdout)
            _advance(bar, index + 1)
    finally:
        bar.close()
    total = time.perf_counter() - started
    print(f"fm2s: {done} denoised, {skipped} skipped, {failed} failed in {total:.1f} s",
          file=sys.stderr)
    return 1 if failed else 0


def _file_id(path: Path) -> tuple[int, int] | None:
    """(device, inode) of an existing file, else None."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _advance(bar: Any, position: float) -> None:
    delta = position - bar.n
    if delta > 0:
        bar.update(delta)


def _denoise_file(
    src: Path, out: Path, options: dict[str, Any], overwrite: bool, on_fraction: Any
) -> float:
    """Read, denoise and write one file; return the seconds it took."""
    from .api import denoise_with_metadata
    from .io import read_image, write_tiff

    started = time.perf_counter()
    image = read_image(src)
    if image.dtype.kind not in "uif":
        raise ValueError(f"unsupported pixel type {image.dtype}")

    def progress(event: Any) -> None:
        on_fraction(float(event.fraction))

    log.info("fm2s: %s: dims %s, shape %s, %s", src.name, image.dims, image.shape, image.dtype)
    result, meta = denoise_with_metadata(image, progress=progress, **options)
    meta = dict(meta)
    meta["fm2s_source"] = src.name
    write_tiff(out, result, meta, overwrite=overwrite)
    return time.perf_counter() - started


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if type(exc).__name__ not in ("ValueError",) and not isinstance(exc, OSError):
        text = f"{type(exc).__name__}: {text}"
    return text


# --------------------------------------------------------------------------------------------
# fm2s presets, fm2s demo
# --------------------------------------------------------------------------------------------


def _cmd_presets(args: argparse.Namespace) -> int:
    from .presets import presets_table

    print(presets_table())
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    if args.size < 32:
        raise UsageError(f"--size must be at least 32 pixels, got {args.size}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}")
    run_demo(args.output, size=args.size, seed=args.seed, num_threads=args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
