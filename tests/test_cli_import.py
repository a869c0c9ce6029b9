"""`kirje import`: an operator's import, through the same job as the API's, with a progress bar."""

from __future__ import annotations

import json
from pathlib import Path

from kirje.services.system import System
from kirje.settings import Settings
from tests.processes import kirje_json, run_kirje


def test_kirje_import_loads_a_file_into_a_named_list(data_dir: Path) -> None:
    account = kirje_json(data_dir, "account", "create", "--name", "Operator")
    source = data_dir / "people.csv"
    source.write_text(
        '"email";"firstname"\n"a@example.com";"A"\n"not an address";"B"\n"c@example.com";"C"\n',
        encoding="utf-8",
    )
    finished = run_kirje(data_dir, "import", str(source), "--list", "Customers")
    job = json.loads(finished.stdout)
    assert job["state"] == "done" and job["kind"] == "import"
    assert job["result"]["counts"]["new"] == 2 and job["result"]["counts"]["rejected"] == 1

    system = System.open(Settings(data_dir=data_dir))
    try:
        services = system.for_account(account["account_id"])
        (customers,) = [item for item in services.lists.all() if item.name == "Customers"]
        assert services.lists.member_count(customers.id) == 2
    finally:
        system.close()


def test_kirje_import_refuses_a_file_without_an_address_column(data_dir: Path) -> None:
    kirje_json(data_dir, "account", "create", "--name", "Operator")
    source = data_dir / "names.csv"
    source.write_text('"name"\n"A"\n', encoding="utf-8")
    refused = run_kirje(data_dir, "import", str(source), "--list", "Customers", check=False)
    assert refused.returncode == 1
    assert "no email or sms column" in refused.stderr and refused.stdout == ""
