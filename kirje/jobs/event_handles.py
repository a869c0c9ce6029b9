"""The jobs behind LianaAutomation's handles: event searches, deletes, exports and the
automations report, run by kirje.services.event_searches."""

from kirje.domain.jobs import JobKind
from kirje.jobs.kinds import register
from kirje.services.event_searches import run_delete, run_export, run_report, run_search

register(JobKind.EVENT_SEARCH, run_search)
register(JobKind.EVENT_DELETE, run_delete)
register(JobKind.EVENT_EXPORT, run_export)
register(JobKind.AUTOMATION_REPORT, run_report)
