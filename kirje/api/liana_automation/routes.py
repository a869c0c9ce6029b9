"""The routing table of LianaAutomation REST v1: path after /rest/v1/ -> operation.

Marks (see ../shared/api/liana-automation.md): seed = printed in the seed, client = called by a
public client, inferred = the seed documents the operation but not its path, so the path is
Kirje's choice; a correction is a change of one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kirje.api.liana_automation import operations as op
from kirje.domain.jobs import JobKind

SEARCH, DELETE, EXPORT = JobKind.EVENT_SEARCH, JobKind.EVENT_DELETE, JobKind.EVENT_EXPORT
REPORT = JobKind.AUTOMATION_REPORT

Operation = Callable[[op.Call, Any], Any]

OPERATIONS: dict[str, Operation] = {
    "pingpong": op.pingpong,  # seed
    "import": op.import_events,  # seed body, client path
    # Kirje's own: the seed has no call for an import's handle (done when import answers)
    "import/status": op.status_of(JobKind.EVENT_IMPORT),
    "channel/list": op.list_channels,  # client
    "channel/create": op.create_channel,  # inferred
    "channel/edit": op.edit_channel,  # inferred
    "channel/delete": op.delete_channel,  # inferred
    "search": op.start_search,  # inferred
    "search/status": op.status_of(SEARCH),  # inferred
    "search/results": op.results_of(SEARCH),  # inferred
    "delete": op.start_delete,  # inferred
    "delete/status": op.status_of(DELETE),  # inferred
    "delete/results": op.results_of(DELETE),  # inferred
    # Kirje's own: the seed shows export's status and results, no call that starts one.
    "export": op.start_export,
    "export/status": op.status_of(EXPORT),  # inferred
    "export/results": op.results_of(EXPORT),  # inferred
    "automations/report": op.start_report,  # inferred
    "automations/report/status": op.status_of(REPORT),  # inferred
    "automations/report/results": op.results_of(REPORT),  # inferred
}
