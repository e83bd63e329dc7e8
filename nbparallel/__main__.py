"""Command line: ``python -m nbparallel demo`` and ``python -m nbparallel bench``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Run the ``demo`` or ``bench`` sub-command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m nbparallel", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench", help="measure pmap against sequential code and the hand-written recipe")
    bench.add_argument("--json", action="store_true", help="print the measurements as JSON")
    bench.add_argument("-n", "--n-jobs", type=int, default=None, help="workers (default: all cores)")
    bench.add_argument("--quick", action="store_true", help="small workloads (a smoke test; ratios not meaningful)")
    bench.add_argument(
        "--only", choices=["frames", "dask"], default=None, help="run only these workloads (frames: pandas; dask)"
    )
    demo = sub.add_parser("demo", help="the main job: run the workloads with progress bars and print speed-ups")
    demo.add_argument("-n", "--n-jobs", type=int, default=None, help="workers (default: all cores)")
    demo.add_argument("--quick", action="store_true", help="small workloads")
    args = parser.parse_args(argv)
    if args.command == "bench":
        from .bench.bench import main as bench_main

        return bench_main(args)
    from .bench.demo import main as demo_main

    return demo_main(args)


if __name__ == "__main__":
    sys.exit(main())
