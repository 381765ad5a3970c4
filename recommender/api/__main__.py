"""`python -m recommender.api [--port N] [--workers N] [--host H]`: the same server as `shop serve api`."""

import argparse

from recommender.api.server import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m recommender.api", description=__doc__)
    parser.add_argument("--port", type=int, default=8000, choices=range(1, 65536), metavar="[1-65535]")
    parser.add_argument("--workers", type=int, default=1, choices=range(1, 65), metavar="[1-64]")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--access-log", action="store_true")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    serve(port=args.port, workers=args.workers, host=args.host, access_log=args.access_log,
          log_level=args.log_level)


if __name__ == "__main__":
    main()
