"""The dashboards in a real browser: Debian's Chromium, driven by Playwright, on ``panel serve``.

Two people, each with their own server started with their own environment
(database role, data directory, cluster), as the hub will run them: alice,
a user, and bob, an admin. One cluster, one server per person and one
browser serve the whole module. Screenshots land in ``tests/artifacts/``.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import LocalCluster
from playwright.sync_api import Browser, Page, WebSocket, sync_playwright

import quantdesk
from quantdesk.store.jobs import create_job
from tests.dashboard_servers import CHROMIUM, DashboardServer, chromium_available, start_dashboards
from tests.postgres import DatabaseUser, SuiteServer, user_factory

ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "dashboards"
LIBRARY = Path(quantdesk.__file__).resolve().parent
TITLES = {
    "overview": "Overview",
    "backtests": "Backtests",
    "sweeps": "Sweeps",
    "predictions": "Predictions",
    "keys": "API keys",
    "system": "System",
}
JOB_SECONDS = 240_000  # milliseconds: jobs may wait while the shared host is busy
PAGE_SECONDS = 60_000

# Every element's HTML, shadow roots included (Panel renders into them), and every
# input's current value, which is not part of any HTML.
ALL_HTML = """() => {
  const parts = [];
  const visit = (root) => {
    for (const element of root.querySelectorAll('*')) {
      if (element.shadowRoot) {
        parts.push(element.shadowRoot.innerHTML);
        visit(element.shadowRoot);
      }
      if ('value' in element && typeof element.value === 'string') parts.push(element.value);
    }
  };
  parts.push(document.documentElement.outerHTML);
  visit(document);
  return parts.join('\\n');
}"""

pytestmark = pytest.mark.slow


class Session:
    """One person's browser tab: the page and the websocket frames it saw."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.received: list[str] = []
        self.sent: list[str] = []
        self.off_machine: list[str] = []
        page.on("websocket", self._follow)

    def _follow(self, socket: WebSocket) -> None:
        socket.on("framereceived", lambda payload: self.received.append(_text(payload)))
        socket.on("framesent", lambda payload: self.sent.append(_text(payload)))

    def open(self, server: DashboardServer, app: str) -> Page:
        """Open dashboard ``app`` and wait until its title shows."""
        self.page.goto(f"{server.url}/{app}")
        self.page.get_by_text(f"quantdesk · {TITLES[app]}").wait_for(timeout=PAGE_SECONDS)
        return self.page

    def html(self) -> str:
        """The page's whole HTML, shadow roots and input values included."""
        text: str = self.page.evaluate(ALL_HTML)
        return text

    def screenshot(self, name: str, *, full_page: bool = True) -> None:
        """Keep a picture of the page as a test artifact."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=full_page)


def _text(payload: str | bytes) -> str:
    return payload if isinstance(payload, str) else payload.decode("utf-8", errors="replace")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """One small cluster every server sends its jobs to (``QUANTDESK_SCHEDULER``)."""
    with LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        yield str(cluster.scheduler_address)


@pytest.fixture(scope="module")
def people(
    postgres_server: SuiteServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DatabaseUser, DatabaseUser]]:
    """alice, a user, and bob, an admin, purged afterwards."""
    factory = user_factory(postgres_server, tmp_path_factory.mktemp("dashboard-people"))
    create = next(factory)
    yield create("alice"), create("bob", admin=True)
    next(factory, None)


def _serve(person: DatabaseUser, scheduler: str, directory: Path) -> Iterator[DashboardServer]:
    url = person.url.set(drivername="postgresql").render_as_string(hide_password=False)
    server = start_dashboards(
        {
            "QUANTDESK_DATABASE_URL": url,
            "QUANTDESK_DATA_DIR": str(directory / "data"),
            "QUANTDESK_SCHEDULER": scheduler,
        },
        directory / "panel.log",
    )
    try:
        yield server
    finally:
        server.stop()
    # No traceback may pass through our code before the stop (Tornado logs tabs that
    # closed mid-message, and work cut short by the stop logs its cancellation).
    log = server.log().split("Received signal SIGTERM")[0]
    assert f'File "{LIBRARY}' not in log, log[-4000:]
    assert url not in log


@pytest.fixture(scope="module")
def alice_server(
    people: tuple[DatabaseUser, DatabaseUser],
    scheduler: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DashboardServer]:
    yield from _serve(people[0], scheduler, tmp_path_factory.mktemp("alice-dashboards"))


@pytest.fixture(scope="module")
def bob_server(
    people: tuple[DatabaseUser, DatabaseUser],
    scheduler: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DashboardServer]:
    yield from _serve(people[1], scheduler, tmp_path_factory.mktemp("bob-dashboards"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not chromium_available():
        pytest.fail(f"no Chromium at {CHROMIUM}; 'bash .ci/bootstrap dev' installs Debian's")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


@pytest.fixture
def session(browser: Browser) -> Iterator[Session]:
    """A fresh tab at 1280x800 that may reach this machine only."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = Session(context.new_page())

    def local_only(route: Any) -> None:
        if re.match(r"^(https?|wss?)://(127\.0\.0\.1|localhost)[:/]", route.request.url):
            route.continue_()
        else:
            opened.off_machine.append(route.request.url)
            route.abort()

    context.route("**/*", local_only)
    yield opened
    context.close()
    assert not opened.off_machine, (
        f"the page asked for resources off this machine: {opened.off_machine}"
    )


def test_every_dashboard_opens_without_an_error(
    session: Session, alice_server: DashboardServer
) -> None:
    for app in TITLES:
        page = session.open(alice_server, app)
        page.wait_for_timeout(500)
        text = session.html()
        assert "Traceback" not in text
        session.screenshot(f"first-look-{app}", full_page=False)


def test_a_backtest_run_from_the_form_draws_its_chart_and_stats(
    session: Session, alice_server: DashboardServer, people: tuple[DatabaseUser, DatabaseUser]
) -> None:
    page = session.open(alice_server, "backtests")
    page.locator(".quantdesk-run-name input").fill("alice form run")
    page.get_by_role("button", name="Run backtest").click()
    page.get_by_text(re.compile(r"backtest job \w+: (queued|running|completed)")).wait_for(
        timeout=JOB_SECONDS
    )
    stats = page.locator(".quantdesk-stats")
    stats.wait_for(timeout=JOB_SECONDS)
    assert "sharpe" in stats.inner_text()
    page.locator(".quantdesk-chart canvas").first.wait_for(timeout=PAGE_SECONDS)
    page.get_by_text(re.compile(r"Backtest finished and saved: \d+ trades")).wait_for()
    page.wait_for_timeout(1000)
    session.screenshot("backtests")
    assert [run.name for run in quantdesk.list_runs(settings=people[0].settings)] == [
        "alice form run"
    ]


def test_a_bad_symbol_is_refused_in_one_sentence(
    session: Session, alice_server: DashboardServer
) -> None:
    page = session.open(alice_server, "backtests")
    page.locator(".quantdesk-symbol input").fill("sample:NOT/AREAL")
    page.get_by_role("button", name="Run backtest").click()
    alert = page.locator(".quantdesk-notice").get_by_text("NOT/AREAL")
    alert.wait_for(timeout=PAGE_SECONDS)
    message = alert.inner_text().strip()
    assert "\n" not in message
    assert message[0].isupper()
    assert "unexpected" not in message
    assert "Traceback" not in session.html()


def test_a_sweep_fills_in_its_heatmap_then_shows_the_guards_and_walk_forward(
    session: Session, alice_server: DashboardServer
) -> None:
    page = session.open(alice_server, "sweeps")
    # 1,600 combinations on three months of minute bars take a few seconds, so the
    # page, which redraws once a second, shows the heatmap part filled.
    page.locator(".quantdesk-timeframe select").select_option("1m")
    page.locator(".quantdesk-x-values input").fill("5:83:2")
    page.locator(".quantdesk-y-values input").fill("90:324:6")
    folds = page.locator(".quantdesk-folds input")
    folds.fill("2")
    folds.press("Enter")
    page.get_by_role("button", name="Run sweep").click()
    evaluated = page.locator(".quantdesk-evaluated pre")
    seen: list[str] = []
    guards = page.locator(".quantdesk-guards")
    deadline = time.monotonic() + JOB_SECONDS / 1000
    while not guards.count() and time.monotonic() < deadline:
        if evaluated.count():
            text = evaluated.inner_text().strip()
            if text and (not seen or seen[-1] != text):
                seen.append(text)
        page.wait_for_timeout(250)
    guards.wait_for(timeout=PAGE_SECONDS)
    seen.append(evaluated.inner_text().strip())
    counts = [int(text.split(" of ")[0]) for text in seen if " of " in text]
    assert counts[0] == 0, seen
    assert counts[-1] == 1600, seen
    assert any(0 < count < 1600 for count in counts), f"the heatmap never showed part: {seen}"
    table = guards.inner_text()
    assert "Deflated Sharpe ratio" in table
    assert "Probability of backtest overfitting" in table
    page.locator(".quantdesk-walk-forward canvas").first.wait_for(timeout=JOB_SECONDS)
    page.wait_for_timeout(1000)
    session.screenshot("sweeps")


def test_an_added_key_shows_only_its_hint_and_the_secret_never_comes_back(
    session: Session, alice_server: DashboardServer
) -> None:
    key_id = "AKIA" + secrets.token_hex(8).upper() + "WXYZ"
    secret = "dashboard-secret-" + secrets.token_hex(12)
    page = session.open(alice_server, "keys")
    page.locator(".quantdesk-provider input").fill("binance")
    page.locator(".quantdesk-key-id input").fill(key_id)
    page.locator(".quantdesk-secret input").fill(secret)
    page.get_by_role("button", name="Add key").click()
    hint = f"{key_id[:4]}…{key_id[-4:]}"
    page.locator(".quantdesk-keys").get_by_text(hint).wait_for(timeout=PAGE_SECONDS)
    page.get_by_text("create").first.wait_for(timeout=PAGE_SECONDS)
    session.screenshot("keys")
    everything = session.html()
    assert secret not in everything
    assert key_id not in everything
    assert any(secret in frame for frame in session.sent), "the secret should reach the server"
    assert not [frame for frame in session.received if secret in frame or key_id in frame]
    page.reload()
    page.locator(".quantdesk-keys").get_by_text(hint).wait_for(timeout=PAGE_SECONDS)
    assert secret not in session.html()


def test_predictions_train_on_demand_and_show_probabilities_and_importance(
    session: Session, alice_server: DashboardServer
) -> None:
    page = session.open(alice_server, "predictions")
    page.get_by_role("button", name="Predict").click()
    page.locator(".quantdesk-auto-train").get_by_text("trained and registered model").wait_for(
        timeout=JOB_SECONDS
    )
    page.locator(".quantdesk-probabilities canvas").first.wait_for(timeout=PAGE_SECONDS)
    page.locator(".quantdesk-importance canvas").first.wait_for(timeout=PAGE_SECONDS)
    page.wait_for_timeout(1000)
    session.screenshot("predictions")
    page.get_by_role("button", name="Predict").click()
    page.locator(".quantdesk-auto-train").get_by_text("reused model").wait_for(timeout=JOB_SECONDS)


def test_the_overview_shows_the_account_runs_and_jobs(
    session: Session, alice_server: DashboardServer
) -> None:
    page = session.open(alice_server, "overview")
    account = page.locator(".quantdesk-account")
    account.wait_for(timeout=PAGE_SECONDS)
    assert "(user)" in account.inner_text()
    page.get_by_text("Your jobs").wait_for()
    page.get_by_text("Your recent runs").wait_for()
    session.screenshot("overview")


def test_bob_never_sees_alices_runs_or_keys_and_only_an_admin_sees_the_system(
    browser: Browser,
    people: tuple[DatabaseUser, DatabaseUser],
    alice_server: DashboardServer,
    bob_server: DashboardServer,
) -> None:
    alice = people[0]
    marker = "alice-only-" + secrets.token_hex(4)
    result = quantdesk.backtest(
        "sma_cross",
        "sample:BTC/USDT",
        timeframe="1d",
        start="2023-01-01",
        end="2024-01-01",
        settings=alice.settings,
    )
    quantdesk.save_run(result, name=marker, settings=alice.settings)
    quantdesk.add_api_key(
        marker, "ALICEKEYID-" + marker, "s3cret-" + marker, settings=alice.settings
    )
    create_job("backtest", parameters={"strategy": marker}, settings=alice.settings)

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        bob_session = Session(context.new_page())
        for app in ("overview", "backtests", "keys"):
            page = bob_session.open(bob_server, app)
            page.wait_for_timeout(1500)
            assert marker not in bob_session.html(), app
        page = bob_session.open(bob_server, "backtests")
        page.get_by_text("Compare saved runs").click()
        page.wait_for_timeout(1000)
        assert marker not in bob_session.html()
        page = bob_session.open(bob_server, "system")
        page.get_by_text("Every user's jobs").wait_for(timeout=PAGE_SECONDS)
        page.get_by_text(alice.name).first.wait_for(timeout=PAGE_SECONDS)
        page.get_by_text("Host CPU").wait_for()
        page.wait_for_timeout(1000)
        bob_session.screenshot("system")

        alice_session = Session(context.new_page())
        page = alice_session.open(alice_server, "system")
        refusal = page.get_by_text(re.compile("is not a member of quantdesk_admins"))
        refusal.wait_for(timeout=PAGE_SECONDS)
        shown = page.locator("body").inner_text()
        assert "Host CPU" not in shown
        assert marker not in alice_session.html()
        alice_session.screenshot("system-refused", full_page=False)
    finally:
        context.close()
