"""Command line: kirje serve, worker, migrate, import, account, contact, draft, channel, jobs,
bench, bounces."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kirje.domain.channels import USER_CHANNEL_TYPE, ChannelChanges
from kirje.domain.errors import KirjeError
from kirje.domain.imports import ImportFormat, ImportOptions
from kirje.domain.jobs import Job, JobKind, JobState
from kirje.domain.messages import MessageContent
from kirje.jobs.runner import run_here
from kirje.services.system import System
from kirje.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
account_app = typer.Typer(no_args_is_help=True, help="Accounts and their API users.")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks: each prints one JSON line.")
app.add_typer(account_app, name="account")
app.add_typer(bench_app, name="bench")
contact_app = typer.Typer(no_args_is_help=True, help="One contact: GDPR erasure, marketing ban.")
app.add_typer(contact_app, name="contact")
draft_app = typer.Typer(no_args_is_help=True, help="Drafts: the messages deliveries send.")
app.add_typer(draft_app, name="draft")
channel_app = typer.Typer(no_args_is_help=True, help="LianaAutomation channels, typed ones too.")
app.add_typer(channel_app, name="channel")
jobs_app = typer.Typer(no_args_is_help=True, help="Jobs: check a worker, read a job's row.")
app.add_typer(jobs_app, name="jobs")


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
    worker: bool = typer.Option(
        True, help="Run a job worker beside the HTTP workers (--no-worker: they run elsewhere)."
    ),
) -> None:
    """Migrate, then serve every dialect over HTTP, with a job worker beside it."""
    from kirje.api.server import serve as serve_http

    settings = Settings()
    system = System.open(settings, pool_size=2)
    system.migrate()
    if demo:
        _print_demo_account(system, f"http://{host}:{port}")
    system.close()
    serve_http(host, port, workers, job_worker=worker)


@app.command("worker")
def job_worker(
    threads: int = typer.Option(2, min=1, help="Jobs run at once."),
) -> None:
    """Run jobs from the queue until stopped (SIGTERM: now; SIGINT: after the running jobs)."""
    from kirje.jobs.worker import run_worker

    run_worker(threads=threads)


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


@bench_app.command("import")
def bench_import(
    rows: int = typer.Option(200_000, min=1, help="Rows in the generated CSV."),
) -> None:
    """A generated CSV through the import job, beside a bare COPY of the same file."""
    from kirje.bench.imports import ImportBenchOptions, run_import_bench

    sys.stdout.write(json.dumps(run_import_bench(ImportBenchOptions(rows=rows))) + "\n")


@bench_app.command("events")
def bench_events(
    events: int = typer.Option(100_000, help="How many events to import."),
    connections: int = typer.Option(8, help="Client connections sending at once."),
    workers: int = typer.Option(2, help="Server worker processes."),
) -> None:
    """LianaAutomation imports of 500 events per signed request, against a bare COPY."""
    from kirje.bench.events import EventsBenchOptions, run_events_bench

    options = EventsBenchOptions(events=events, connections=connections, workers=workers)
    sys.stdout.write(json.dumps(run_events_bench(options)) + "\n")


# A wave is one message per connection of a share process, and each wave costs a commit (it
# marks the next wave in flight) whatever its size: with two share processes, 64 connections
# make waves of 32, large enough that the commits no longer leave the cores idle (64 sent
# about 15% more than 32 connections here, and 40% more than 16).
@bench_app.command("send")
def bench_send(
    recipients: int = typer.Option(10_000, help="How many recipients the delivery has."),
    concurrency: int = typer.Option(64, help="SMTP connections (the sender's and the baseline's)."),
) -> None:
    """A personalised, DKIM-signed delivery into a local sink, against a minimal sender."""
    from kirje.bench.send import SendBenchOptions, run_send_bench

    options = SendBenchOptions(recipients=recipients, concurrency=concurrency)
    sys.stdout.write(json.dumps(run_send_bench(options)) + "\n")


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


_HTML_FILE = typer.Option(..., "--html-file", exists=True, dir_okay=False, help="The HTML.")


@draft_app.command("create")
def draft_create(
    account: int = _ACCOUNT,
    subject: str = typer.Option(
        ..., "--subject", help="The subject; $property$ placeholders work."
    ),
    html_file: Path = _HTML_FILE,
    from_address: str | None = typer.Option(None, "--from", help="The sender's address."),
    from_name: str = typer.Option("", "--from-name", help="The sender's name."),
    name: str = typer.Option("", "--name", help="A name for the draft."),
) -> None:
    """Create a draft from an HTML file; prints {"id": ...}, what a v2 letter refers to."""
    content = MessageContent(
        subject=subject,
        html=html_file.read_text(encoding="utf-8"),
        name=name,
        from_name=from_name,
        from_email=from_address,
    )
    message = _with_account(account, lambda s: s.messages.create(content))
    sys.stdout.write(json.dumps({"id": message.id}) + "\n")


@channel_app.command("create")
def channel_create(
    account: int = _ACCOUNT,
    name: str = typer.Option(..., "--name", help="The channel's name."),
    channel_type: str = typer.Option(
        USER_CHANNEL_TYPE, "--type", help="Its type; only untyped (empty) ones users may edit."
    ),
    system_name: str = typer.Option("", "--system-name", help="The name imports may use for it."),
    tracking: bool = typer.Option(False, "--tracking/--no-tracking", help="Site tracking on."),
) -> None:
    """Create a channel (the API creates untyped ones only); prints it as one JSON line."""
    changes = ChannelChanges(name=name, tracking_enabled=tracking)
    channel = _with_account(
        account,
        lambda s: s.channels.create(changes, type=channel_type, system_name=system_name),
    )
    sys.stdout.write(json.dumps(_channel_line(channel)) + "\n")


@channel_app.command("list")
def channel_list(account: int = _ACCOUNT) -> None:
    """Print the account's channels, one JSON line each."""
    for channel in _with_account(account, lambda s: s.channels.list()):
        sys.stdout.write(json.dumps(_channel_line(channel)) + "\n")


def _channel_line(channel) -> dict:
    fields = ("id", "name", "type", "system_name", "tracking_enabled", "public_key", "events")
    return {field: getattr(channel, field) for field in fields}


@jobs_app.command("ping")
def jobs_ping(
    account: int = _ACCOUNT,
    steps: int = typer.Option(1, min=0, max=100_000, help="Steps, each committed on its own."),
    step_seconds: float = typer.Option(0.0, min=0, max=3600, help="Seconds each step waits."),
    wait: bool = typer.Option(False, "--wait", help="Wait until the job is finished."),
    timeout: float = typer.Option(60.0, min=0, help="With --wait: give up after this long."),
) -> None:
    """Submit a ping job; prints its row as one JSON line (with --wait: once it is finished)."""
    payload = {"steps": steps, "step_seconds": step_seconds}
    job = _with_account(account, lambda s: s.jobs.submit(JobKind.PING, payload))
    if wait:
        job = _with_account(account, lambda s: _wait_for_job(s, job.id, timeout))
    sys.stdout.write(json.dumps(job_view(job)) + "\n")
    if wait and job.state is not JobState.DONE:
        raise typer.Exit(1)


def _wait_for_job(services, job_id: int, timeout: float) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        job = services.jobs.get(job_id)
        if job.is_finished or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


@jobs_app.command("show")
def jobs_show(
    job_id: int = typer.Argument(..., help="The job id (the handle an API returned)."),
    account: int = _ACCOUNT,
) -> None:
    """Print one job's row as one JSON line."""
    job = _with_account(account, lambda s: s.jobs.get(job_id))
    sys.stdout.write(json.dumps(job_view(job)) + "\n")


_IMPORT_FILE = typer.Argument(..., exists=True, dir_okay=False, help="A CSV or XLS(X) file.")


@app.command("import")
def import_file(
    file: Path = _IMPORT_FILE,
    list_name: str = typer.Option(..., "--list", help="The list (created when missing)."),
    account: int | None = typer.Option(None, "--account", help="Default: the only account."),
    truncate: bool = typer.Option(False, "--truncate", help="Members not in the file leave."),
    spreadsheet: bool = typer.Option(False, "--xls", help="The file is a spreadsheet."),
) -> None:
    """Import contacts into a list through the import job, with a progress bar; prints the
    job's row as one JSON line."""
    system = _system()
    try:
        account_id = system.accounts.the_only_one() if account is None else account
        system.accounts.get(account_id)
        services = system.for_account(account_id)
        list_id = services.lists.for_import(list_id=None, name=list_name, folder=None)
        kind = (
            ImportFormat.XLS
            if spreadsheet or file.suffix.lower() in (".xls", ".xlsx")
            else ImportFormat.CSV
        )
        with open(file, "rb") as source:
            job = services.imports.start(
                source, ImportOptions(list_id=list_id, format=kind, truncate=truncate)
            )
        job = _run_with_progress(system, services, job.id)
    except KirjeError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        system.close()
    sys.stdout.write(json.dumps(job_view(job)) + "\n")
    if job.state is not JobState.DONE:
        raise typer.Exit(1)


def _run_with_progress(system: System, services, job_id: int) -> Job:
    """Runs the job in this process (a worker that also got its message finds it taken) while
    the bar follows the job row, as `getImportStatus` would."""
    runner = threading.Thread(target=run_here, args=(system, job_id), daemon=True)
    runner.start()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    # On stderr: stdout carries the one JSON line.
    with Progress(*columns, TimeElapsedColumn(), console=Console(stderr=True)) as progress:
        bar = progress.add_task("reading", total=None)
        while runner.is_alive():
            job = services.jobs.get(job_id)
            stage = "merging" if (job.checkpoint or {}).get("phase") == "merge" else "reading"
            progress.update(
                bar, description=stage, completed=job.progress_done, total=job.progress_total
            )
            runner.join(0.2)
    return services.jobs.get(job_id)


def job_view(job: Job) -> dict:
    """A job row as JSON: every field, times in ISO 8601."""
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in asdict(job).items()
    }


_MAILDIR = typer.Option(
    None, "--maildir", exists=True, file_okay=False, help="Read this maildir's bounces once."
)


@app.command("bounces")
def bounces(
    maildir: Path | None = _MAILDIR,
    listen: str | None = typer.Option(
        None, "--listen", metavar="HOST:PORT", help="Take bounces over SMTP until stopped."
    ),
) -> None:
    """Take in bounces: a mailbounce event each; hard-bounced contacts are not mailed again.
    With --maildir, once (prints the counts as one JSON line); with --listen, until stopped."""
    # A maildir message taken is flagged seen (cur/, :2,S), so the next run skips it. The
    # listener answers 451 when the database is down: the MTA keeps the bounce and retries.
    from kirje.mail.bounce_intake import Bounces

    if (maildir is None) == (listen is None):
        raise typer.BadParameter("give exactly one of --maildir, --listen")
    system = _system()
    try:
        taker = Bounces(system.db, system.clock, system.triggers)
        if maildir is not None:
            _take_maildir_bounces(taker, maildir)
        else:
            _listen_for_bounces(taker, listen or "")
    finally:
        system.close()


def _take_maildir_bounces(taker, maildir: Path) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from kirje.mail.bounce_intake import BounceOutcome

    counts = dict.fromkeys(BounceOutcome, 0)
    for path in _unseen_maildir_messages(maildir):
        try:
            taken = taker.take(path.read_bytes())
        except FileNotFoundError:  # another reader took it meanwhile
            continue
        except SQLAlchemyError as error:
            # Left unseen: the next run takes this one and the rest.
            typer.echo(f"error: bounce not recorded: {str(error).splitlines()[0]}", err=True)
            raise typer.Exit(1) from None
        counts[taken.outcome] += 1
        name, _, flags = path.name.partition(":2,")
        seen = "".join(sorted(set(flags) | {"S"}))
        path.rename(maildir / "cur" / f"{name}:2,{seen}")
    sys.stdout.write(json.dumps({outcome.value: n for outcome, n in counts.items()}) + "\n")


def _unseen_maildir_messages(maildir: Path) -> list[Path]:
    """Messages in new/, and those in cur/ not flagged seen (S); dot files are not messages."""
    unseen = []
    for folder in ("new", "cur"):
        directory = maildir / folder
        if not directory.is_dir():
            raise typer.BadParameter(f"{maildir} has no {folder}/", param_hint="--maildir")
        for path in sorted(directory.iterdir()):
            if not path.name.startswith(".") and "S" not in path.name.partition(":2,")[2]:
                unseen.append(path)
    return unseen


def _listen_for_bounces(taker, listen: str) -> None:
    import signal

    from aiosmtpd.controller import Controller

    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise typer.BadParameter("HOST:PORT, e.g. 127.0.0.1:2525", param_hint="--listen")
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    controller = Controller(_BounceHandler(taker), hostname=host.strip("[]"), port=int(port))
    controller.start()
    typer.echo(f"taking bounces over SMTP on {listen}", err=True)
    while not stopped.wait(1):
        pass
    controller.stop()


class _BounceHandler:
    """aiosmtpd handler: any recipient, each message through the service on a thread."""

    def __init__(self, taker) -> None:
        self.taker = taker

    async def handle_DATA(self, server, session, envelope) -> str:
        import asyncio
        import traceback

        from sqlalchemy.exc import SQLAlchemyError

        try:
            taken = await asyncio.to_thread(
                self.taker.take, envelope.original_content, list(envelope.rcpt_tos)
            )
        except Exception as error:
            # 4xx: the MTA keeps the bounce and tries again, rather than losing it.
            if isinstance(error, SQLAlchemyError):
                typer.echo(f"bounce not recorded: {str(error).splitlines()[0]}", err=True)
            else:
                traceback.print_exc()
            return "451 4.3.0 Bounce not recorded, try again later"
        return f"250 2.0.0 OK: {taken.outcome.value}"


def main() -> None:  # pragma: no cover
    app()
