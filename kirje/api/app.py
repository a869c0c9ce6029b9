"""Assembles the HTTP application: every dialect on one server."""

from __future__ import annotations

from datetime import timedelta

import anyio
import anyio.to_thread
from litestar import Litestar, get
from sqlalchemy import text

from kirje import __version__
from kirje.api.auth import SignatureVerifier
from kirje.api.liana_automation.endpoint import LianaAutomationEndpoint
from kirje.api.liana_automation.http import liana_automation_routes
from kirje.api.liana_mailer.endpoint import LianaMailerEndpoint
from kirje.api.liana_mailer.routes import liana_mailer_routes
from kirje.api.liana_mailer.views import HELSINKI
from kirje.api.native.auth import BasicAuth
from kirje.api.native.routes import native_routes
from kirje.api.rate_limit import RateLimiter
from kirje.services.accounts import CredentialCache
from kirje.services.base import Clock, utc_now
from kirje.services.system import System
from kirje.settings import Settings
from kirje.web.confirmations import confirmation_routes
from kirje.web.mail_tracking import mail_tracking_routes
from kirje.web.tracking import tracking_routes

# Worker threads per process for synchronous service calls. The connection pool is a little
# larger, so that no thread waits for a connection and none is opened and closed per burst.
SERVICE_THREADS = 12


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> Litestar:
    settings = settings or Settings()
    system = System.open(settings, clock=clock, pool_size=SERVICE_THREADS + 4)
    threads = anyio.CapacityLimiter(SERVICE_THREADS)
    credentials = CredentialCache(system.accounts, settings.credential_cache_seconds)
    verifier = SignatureVerifier(
        credentials.get,
        window=timedelta(seconds=settings.signature_window_seconds),
        clock=clock,
        naive_zone=HELSINKI,
    )
    limiter = RateLimiter(settings.redis_url)
    mailer = LianaMailerEndpoint(system, verifier, limiter)
    automation = LianaAutomationEndpoint(system, verifier, limiter)

    def database_answers() -> None:
        with system.db.reading() as conn:
            conn.execute(text("SELECT 1"))

    @get("/health")
    async def health() -> dict:
        await anyio.to_thread.run_sync(database_answers, limiter=threads)
        return {"status": "ok", "database": system.db.backend, "version": __version__}

    @get("/health/live")
    async def live() -> dict:
        """Answers without touching anything: a liveness probe, and the bench's baseline."""
        return {"status": "ok"}

    app = Litestar(
        route_handlers=[
            health,
            live,
            *liana_mailer_routes(mailer, threads),
            *liana_automation_routes(automation, threads),
            *native_routes(system, BasicAuth(credentials, limiter), threads),
            *tracking_routes(system, threads),
            *mail_tracking_routes(system, threads),
            *confirmation_routes(system, threads),
        ],
        on_shutdown=[system.close],
        request_max_body_size=settings.max_request_bytes,
    )
    app.state.system = system
    app.state.credentials = credentials
    return app
