"""Peak memory against stack size: ``fm2s.denoise`` on N-frame 256 x 256 uint16 time-lapses.

Each size runs in a fresh process, which first pays its constant costs (imports, a small
warm-up denoise) and reports its resident memory then (the baseline); then it makes the stack,
denoises it with the default settings and reports its peak resident memory. fm2s reads and
writes the planes of a stack one at a time (``fm2s.planes``), so the peak should be the
baseline plus the input and the output: about 2x the data.

Run: ``python benchmarks/bench_memory.py --frames 100 1000 2000``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
import time

CHILD = textwrap.dedent("""
    import json, resource, sys, time
    import numpy as np
    import fm2s
    from fm2s.engine.runtime import own_process
    own_process()
    frames, size = int(sys.argv[1]), int(sys.argv[2])
    fm2s.denoise(np.full((64, 64), 100, np.uint16), schedule="quick", seed=0)  # constants
    with open("/proc/self/status") as status:
        baseline = next(int(l.split()[1]) for l in status if l.startswith("VmRSS")) * 1024
    rng = np.random.default_rng(0)
    stack = np.empty((frames, size, size), np.uint16)  # made plane by plane: no int64 copy
    for t in range(frames):
        stack[t] = rng.poisson(200, (size, size))
    started = time.perf_counter()
    out = fm2s.denoise(stack, preset="confocal", seed=0)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"frames": frames, "data": stack.nbytes, "baseline": baseline,
                      "peak": peak, "seconds": seconds}))
""")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[100, 1000, 2000])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--results", help="append JSON lines here")
    args = parser.parse_args(argv)
    print(f"{'frames':>6} {'data MiB':>9} {'baseline MiB':>12} {'peak MiB':>9} "
          f"{'peak-base':>10} {'(peak-base)/data':>17} {'s/frame':>8}")
    for frames in args.frames:
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", CHILD, str(frames), str(args.size)],
                              capture_output=True, text=True, check=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row["wall"] = time.perf_counter() - t0
        extra = (row["peak"] - row["baseline"]) / 2**20
        print(f"{frames:>6} {row['data'] / 2**20:>9.1f} {row['baseline'] / 2**20:>12.1f} "
              f"{row['peak'] / 2**20:>9.1f} {extra:>10.1f} "
              f"{extra * 2**20 / row['data']:>17.2f} {row['seconds'] / frames:>8.3f}")
        if args.results:
            with open(args.results, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
