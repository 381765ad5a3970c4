"""Dependencies handed to route handlers: settings, the serving state, the API key check.

All ``async def``: a plain ``def`` dependency would run in the thread pool on every request.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from recommender.api.schemas import ErrorOut
from recommender.api.settings import ApiSettings
from recommender.api.state import ApiState

API_KEY_HEADER = "X-API-Key"
_api_key_header = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False,
    description="Required on the write routes (POST /events, PUT and POST /products, PUT /users) when the "
                "server has SHOP_API_KEY set.",
)


async def get_settings(request: Request) -> ApiSettings:
    return request.app.state.settings


async def get_state(request: Request) -> ApiState:
    return request.app.state.api


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
StateDep = Annotated[ApiState, Depends(get_state)]


AUTH_RESPONSES = {
    401: {"model": ErrorOut, "description": "No X-API-Key header (when the server has SHOP_API_KEY set)"},
    403: {"model": ErrorOut, "description": "The X-API-Key header does not match the server's SHOP_API_KEY"},
}


async def require_api_key(
    settings: SettingsDep, key: Annotated[str | None, Security(_api_key_header)] = None,
) -> None:
    expected = settings.api_key
    if expected is None:
        return
    if not key:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                            f"this server requires an API key: send it in the {API_KEY_HEADER} header",
                            headers={"WWW-Authenticate": API_KEY_HEADER})
    if not hmac.compare_digest(key.encode(), expected.get_secret_value().encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"the {API_KEY_HEADER} header does not match "
                            "the server's SHOP_API_KEY")
