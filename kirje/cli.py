"""Command line: kirje serve | migrate | account create | contact forget/ban | bench ..."""

from __future__ import annotations

import json
import os
import sys

import typer

from kirje.domain.errors import KirjeError
from kirje.services.system import System
from kirje.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
account_app = typer.Typer(no_args_is_help=True, help="Accounts and their API users.")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks: each prints one JSON line.")
app.add_typer(account_app, name="account")
app.add_typer(bench_app, name="bench")
contact_app = typer.Typer(no_args_is_help=True, help="One contact: GDPR erasure, marketing ban.")
app.add_typer(contact_app, name="contact")


def _system() -> System:
    return System.open(Settings(), pool_size=2)


@app.command()
def migrate() -> None:
    """Bring the database to the newest schema."""
    system = _system()
    system.migrate()
    typer.echo(f"database migrated ({system.db.backend})", err=True)
    system.close()


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(os.cpu_count() or 1, help="Worker processes (one per core)."),
    demo: bool = typer.Option(False, help="Create a demo account on first run and print it."),
) -> None:
    """Migrate, then serve every dialect over HTTP."""
    from kirje.api.server import serve as serve_http

    settings = Settings()
    system = System.open(settings, pool_size=2)
    system.migrate()
    if demo:
        _print_demo_account(system, f"http://{host}:{port}")
    system.close()
    serve_http(host, port, workers)


def _print_demo_account(system: System, base_url: str) -> None:
    existing = system.accounts.first_credentials()
    if existing is None:
        existing = system.accounts.create("Demo")
        typer.echo("Created a demo account.", err=True)
    typer.echo(
        f"\nKirje is serving on {base_url}\n"
        f"  LianaMailer v1:  {base_url}/api/v1/<method>\n"
        f"  realm:   {existing.realm}\n"
        f"  user id: {existing.user_id}\n"
        f"  secret:  {existing.secret}\n",
        err=True,
    )


@account_app.command("create")
def account_create(
    name: str = typer.Option(..., help="The account's name."),
    realm: str = typer.Option("KIRJE", help="The Liana realm its API users sign with."),
) -> None:
    """Create an account with one API user; prints its credentials as one JSON object."""
    system = _system()
    system.migrate()
    created = system.accounts.create(name, realm=realm)
    system.close()
    result = {
        "account_id": created.account_id,
        "liana": {"realm": created.realm, "user_id": created.user_id, "secret": created.secret},
    }
    sys.stdout.write(json.dumps(result) + "\n")


@bench_app.command("api")
def bench_api(
    seconds: int = typer.Option(10, min=1, help="Length of each measured run."),
    workers: int = typer.Option(2, min=1, help="Server worker processes."),
    recipients: int = typer.Option(10_000, min=1, help="Recipients to look up at random."),
    load: str = typer.Option("auto", help="Load generator: auto (wrk if on PATH), wrk, python."),
    connections: int = typer.Option(0, min=0, help="Open connections (0: 16 per worker)."),
) -> None:
    """Signed getRecipientByEmail calls against a real server, beside /health/live."""
    from kirje.bench.api import ApiBenchOptions, run_api_bench

    if load not in ("auto", "wrk", "python"):
        raise typer.BadParameter("one of auto, wrk, python", param_hint="--load")
    options = ApiBenchOptions(seconds, workers, recipients, load, connections)
    sys.stdout.write(json.dumps(run_api_bench(options)) + "\n")


@bench_app.command("segment")
def bench_segment(
    contacts: int = typer.Option(100_000, min=1, help="Contacts to load with properties."),
) -> None:
    """Member count of a three-condition dynamic list, cold and warm, beside count(*)."""
    from kirje.bench.segment import SegmentBenchOptions, run_segment_bench

    sys.stdout.write(json.dumps(run_segment_bench(SegmentBenchOptions(contacts))) + "\n")


@account_app.command("set-rate-limit")
def account_set_rate_limit(
    user_id: int = typer.Argument(..., help="The API user id."),
    per_second: int = typer.Argument(..., help="Requests per second allowed."),
) -> None:
    """Change one API user's request rate limit (LianaMailer's default is 4 per second)."""
    system = _system()
    try:
        system.accounts.set_rate_limit(user_id, per_second)
    except KirjeError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        system.close()
    typer.echo(f"API user {user_id}: {per_second} requests per second", err=True)


def _with_account(account_id: int, work):
    """Runs work(services) for one account; a domain error is printed and exits with 1."""
    system = _system()
    try:
        system.accounts.get(account_id)
        return work(system.for_account(account_id))
    except KirjeError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        system.close()


_ACCOUNT = typer.Option(..., "--account", help="The account id.")
_REASON = typer.Option(None, "--reason", help="Why (kept in the ban's event).")


@contact_app.command("forget")
def contact_forget(
    account: int = _ACCOUNT,
    contact_id: int | None = typer.Option(None, "--id", help="The contact id."),
    email: str | None = typer.Option(None, "--email", help="The contact's email address."),
    sms: str | None = typer.Option(None, "--sms", help="The contact's SMS number."),
    reason: str | None = typer.Option(None, "--reason", help="Why (not stored: free text)."),
) -> None:
    """Erase a contact's personal data for good (GDPR); prints what was erased as one JSON line."""
    given = [v for v in (contact_id, email, sms) if v is not None]
    if len(given) != 1:
        raise typer.BadParameter("give exactly one of --id, --email, --sms")

    def forget(services):
        if contact_id is not None:
            return services.privacy.forget(contact_id, reason=reason)
        if email is not None:
            return services.privacy.forget_by_email(email, reason=reason)
        return services.privacy.forget_by_sms(sms, reason=reason)

    erasure = _with_account(account, forget)
    printed = {
        "contact_id": erasure.contact_id,
        "forgotten_at": erasure.forgotten_at.isoformat(),
        **erasure.counts(),
    }
    sys.stdout.write(json.dumps(printed) + "\n")


@contact_app.command("ban")
def contact_ban(
    account: int = _ACCOUNT,
    contact_id: int = typer.Option(..., "--id", help="The contact id."),
    reason: str | None = _REASON,
) -> None:
    """Put a contact on the marketing exclusion list."""
    changed = _with_account(account, lambda s: s.privacy.ban(contact_id, reason=reason))
    state = "banned" if changed else "was already banned"
    typer.echo(f"contact {contact_id}: {state}", err=True)


@contact_app.command("unban")
def contact_unban(
    account: int = _ACCOUNT,
    contact_id: int = typer.Option(..., "--id", help="The contact id."),
    reason: str | None = _REASON,
) -> None:
    """Take a contact off the marketing exclusion list."""
    changed = _with_account(account, lambda s: s.privacy.lift_ban(contact_id, reason=reason))
    state = "ban lifted" if changed else "was not banned"
    typer.echo(f"contact {contact_id}: {state}", err=True)


def main() -> None:  # pragma: no cover
    app()
