"""The handlers of ``fm2s denoise``, ``fm2s presets`` and ``fm2s demo``."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

from ..options import OPTION_NAMES, OptionError, validate_options
from ..presets import PARAMETER_NAMES
from .errors import UsageError, usage_error

log = logging.getLogger("fm2s")


def denoise_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options given on the command line (flags and ``--set KEY=VALUE``), validated once.

    Returns
    -------
    dict
        Keyword arguments for :func:`fm2s.denoise_with_metadata` (only those given).

    Raises
    ------
    UsageError
        Naming the flag and what to do.
    """
    options: dict[str, Any] = {}
    for item in args.set_params:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key or not value.strip():
            raise UsageError(f"--set expects KEY=VALUE (e.g. --set k_g=150), got {item!r}")
        if key not in PARAMETER_NAMES:
            raise UsageError(f"--set: unknown FM2S parameter(s) {key}; overridable parameters "
                             f"are: {', '.join(PARAMETER_NAMES)}")
        options[key] = value.strip()
    options.update({name: getattr(args, name) for name in OPTION_NAMES
                    if getattr(args, name, None) is not None})
    try:
        validate_options(**options)
    except OptionError as exc:
        raise usage_error(exc) from None
    return options


def denoise_command(args: argparse.Namespace) -> int:
    """Handle ``fm2s denoise``: plan the batch, denoise file by file, report."""
    from tqdm import tqdm

    from ..batch import denoise_file, plan_batch

    options = denoise_options(args)
    outdir = Path(args.output)
    if outdir.exists() and not outdir.is_dir():
        raise UsageError(f"output {outdir} exists and is not a folder")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the output folder {outdir}: {exc.strerror or exc}") \
            from None
    plan = plan_batch(args.inputs, outdir)
    for message in plan.errors:
        print(f"error: {message}", file=sys.stderr)
    failed = len(plan.errors)

    done = skipped = 0
    started = time.perf_counter()
    bar = tqdm(total=len(plan.jobs), unit="file", disable=True if args.no_progress else None,
               bar_format="{l_bar}{bar}| {n:.2f}/{total_fmt} files [{elapsed}<{remaining}{postfix}]",
               file=sys.stderr, dynamic_ncols=True)
    try:
        for index, (src, out) in enumerate(plan.jobs):
            bar.set_postfix_str(src.name, refresh=False)
            if out.exists() and not args.overwrite:
                tqdm.write(f"skip {src}: {out} exists (use --overwrite to redo it)",
                           file=sys.stdout)
                skipped += 1
                _advance(bar, index + 1)
                continue
            try:
                seconds = denoise_file(src, out, options, overwrite=args.overwrite,
                                       on_fraction=lambda f, i=index: _advance(bar, i + f))
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


def _advance(bar: Any, position: float) -> None:
    delta = position - bar.n
    if delta > 0:
        bar.update(delta)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if type(exc).__name__ not in ("ValueError", "OptionError") and not isinstance(exc, OSError):
        text = f"{type(exc).__name__}: {text}"
    return text


def presets_command(args: argparse.Namespace) -> int:
    """Handle ``fm2s presets``: every preset and noise level, with its parameters and start."""
    print(presets_table())
    return 0


def presets_table() -> str:
    """A plain-text table of every preset and noise level.

    The ``start`` column says whether ``fast`` starts from a shipped pretrained network for
    that setting (``yes``) or from random weights (``-``).
    """
    from ..engine.methods.fm2s.starts import find_start
    from ..presets import PRESETS

    header = f"{'preset':<10} {'level':<6} {'n_chan':>6} {'stride':>6} {'median':>6} " \
             f"{'k_g':>6} {'k_p':>6} {'lam_p':>6} {'start':>5}  description"
    lines = [header, "-" * len(header)]
    for p in PRESETS.values():
        for level, (k_g, k_p, lam_p) in p.noise.items():
            start = "yes" if find_start(p.params(level)) else "-"
            lines.append(
                f"{p.name:<10} {level:<6} {p.n_chan:>6} {p.stride:>6} {p.median_window:>6} "
                f"{k_g:>6g} {k_p:>6g} {lam_p:>6g} {start:>5}  "
                f"{p.description if level == 'avg1' else ''}"
            )
    return "\n".join(lines)


def demo_command(args: argparse.Namespace) -> int:
    """Handle ``fm2s demo``."""
    from ..demo import run_demo

    if args.size < 32:
        raise UsageError(f"--size must be at least 32 pixels, got {args.size}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}")
    run_demo(args.output, size=args.size, seed=args.seed, num_threads=args.threads)
    return 0
