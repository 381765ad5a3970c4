"""The evaluation's window options, shared by `shop evaluate` and `shop train`."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer


class Protocol(str, Enum):
    temporal = "temporal"
    last_basket = "last-basket"


TestDays = Annotated[float | None, typer.Option(
    min=0.5, max=3650, help="Fixed test window: the last DAYS (with --validation-days). "
                            "Default: the last share of the events, sized to hold enough users.")]
ValidationDays = Annotated[float | None, typer.Option(
    min=0.5, max=3650, help="Fixed validation window: DAYS before the test window (with --test-days).")]
ProtocolOption = Annotated[Protocol, typer.Option(
    help="temporal: one cut-off for everybody; last-basket: each user's last basket is the test, "
         "the one before it validation.")]


def check_windows(test_days: float | None, validation_days: float | None, protocol: Protocol) -> None:
    """Refuse the window options that do not go together, naming them."""
    if (test_days is None) != (validation_days is None):
        raise typer.BadParameter("give both --test-days and --validation-days, or neither (windows sized by the data)",
                                 param_hint="--test-days / --validation-days")
    if protocol is Protocol.last_basket and test_days is not None:
        raise typer.BadParameter("fixed windows apply to --protocol temporal only", param_hint="--test-days")
