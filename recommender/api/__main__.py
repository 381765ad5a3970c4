"""`python -m recommender.api [--port N] [--workers N]`: the same as `shop serve api`."""

import typer

from shop.cli.serve_api import serve_api

if __name__ == "__main__":
    typer.run(serve_api)
