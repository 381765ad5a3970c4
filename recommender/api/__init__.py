"""The recommendation REST API: a FastAPI service a storefront calls on every page view.

Layout (after FastAPI's full-stack template): ``main.create_app`` builds the application and its
lifespan; ``routes/`` has one router per resource; ``deps`` hands settings, the serving state and
the database to handlers as dependencies. Handlers that only touch memory are ``async def`` and
never wait on the database: recommendations come from models and state held in memory
(``serving``, ``fresh``), refreshed by background tasks (``state``).
"""

from recommender.api.main import create_app

__all__ = ["create_app"]
