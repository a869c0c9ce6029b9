"""The `delivery` job: one delivery sent through its ledger, by kirje.mail.sending."""

from kirje.domain.jobs import JobKind
from kirje.jobs.kinds import register
from kirje.mail.sending import run_delivery

register(JobKind.DELIVERY, run_delivery)
