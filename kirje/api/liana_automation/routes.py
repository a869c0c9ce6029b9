"""The routing table of LianaAutomation REST v1: path after /rest/v1/ -> operation.

Marks (see ../shared/api/liana-automation.md): seed = printed in the seed, client = called by a
public client, inferred = the seed documents the operation but not its path, so the path is
Kirje's choice; a correction is a change of one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kirje.api.liana_automation import operations as op

Operation = Callable[[op.Call, Any], Any]

OPERATIONS: dict[str, Operation] = {
    "pingpong": op.pingpong,  # seed
    "import": op.import_events,  # seed body, client path
    "import/status": op.import_status,  # Kirje's own: the seed has no call for an import handle
    "channel/list": op.list_channels,  # client
    "channel/create": op.create_channel,  # inferred
    "channel/edit": op.edit_channel,  # inferred
    "channel/delete": op.delete_channel,  # inferred
}
