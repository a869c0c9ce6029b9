"""The `import` job: a list import, run by kirje.services.imports."""

from kirje.domain.jobs import JobKind
from kirje.jobs.kinds import register
from kirje.services.imports import run_import

register(JobKind.IMPORT, run_import)
