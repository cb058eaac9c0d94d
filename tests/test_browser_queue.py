"""End to end: the Rating queue tab in Debian's Chromium against the app started as a user starts it. An admin
builds a queue of stored exchanges (two items, two raters each) in the tab's builder; two browser contexts (two
anonymous raters, each its own session) get both items with no generation, vote blind, see who was who and their
progress; a third rater finds nothing left; the Leaderboard's raters panel then shows their agreement and the
ratings with style held equal."""

from __future__ import annotations

import sqlite3
import time

import pytest

from pipelines.common.events import PipelineResult, RetrievedChunk, Timings
from pipelines.feedback.store import FeedbackStore
from tests.conftest import ARTIFACTS, RunningApp
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser
PASSAGE = RetrievedChunk("Lumenhollow was founded in 2011 by Mara Quell.", "company_overview.md", 0, 0.88, 1,
                         heading="History")
GUIDELINES = "Prefer the answer that **states the fact** the documents give."


def stored_exchanges(data_dir) -> list[str]:
    """Two answered questions in the app's store, as a batch run leaves them (written before the app starts)."""
    store = FeedbackStore.open(data_dir / "feedback.sqlite3")
    try:
        return [store.record_exchange("batch-20261206T120000", question, [
            PipelineResult("rag", f"Mara Quell founded it in 2011 [1]{detail}. ({n})", [PASSAGE],
                           timings=Timings(0.1, 0.4)),
            PipelineResult("finetuned", f"It was founded by Mara Quell. ({n})", timings=Timings(0.1, 0.4)),
        ]) for n, (question, detail) in enumerate([  # answers of two lengths: the style fit has a length to weigh
            ("Who founded Lumenhollow?", ", as the company overview's history section records"),
            ("When was Lumenhollow founded?", "")])]
    finally:
        store.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("queue-app")
    ids = stored_exchanges(data_dir)
    running = RunningApp(data_dir, ARENA_MAX_NEW_TOKENS="8").start()
    yield running, ids
    running.stop()


def open_queue_tab(page, url: str, queue_label: str | None = None) -> None:
    from playwright.sync_api import expect

    page.goto(url)
    page.get_by_role("tab", name="Rating queue").click()
    if queue_label is not None:
        page.locator("#rq-queue input").click()  # the tab's opening refreshed the list of queues
        page.get_by_role("option", name=queue_label).click()
        expect(page.locator("#rq-guidelines")).to_contain_text("states the fact", timeout=30_000)


def rate_next(page) -> tuple[str, str]:
    """Next, vote for answer A, and return (the question shown, the pipeline revealed as A)."""
    from playwright.sync_api import expect

    started = time.monotonic()
    page.locator("#rq-next").click()
    expect(page.locator("#rq-vote-a")).to_be_enabled(timeout=10_000)
    assert time.monotonic() - started < 10  # stored answers: nothing is generated
    question = page.locator("#rq-question").inner_text()
    expect(page.locator("#rq-a-title")).to_have_text("Answer A")
    expect(page.locator("#rq-context")).to_contain_text("Hidden in blind mode")
    page.locator("#rq-vote-a").click()
    expect(page.locator("#rq-notice")).to_contain_text("Revealed", timeout=30_000)
    expect(page.locator("#rq-a-title")).to_contain_text("revealed")
    expect(page.locator("#rq-context")).to_contain_text("company_overview.md")
    revealed = page.locator("#rq-a-title").inner_text().split("revealed:")[1].strip()
    return question, revealed


def test_two_raters_rate_the_same_stored_items_and_a_third_finds_nothing_left(app):
    from playwright.sync_api import expect, sync_playwright

    running, ids = app
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            admin = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
            open_queue_tab(admin, running.url)
            admin.locator("#rq-builder").get_by_text("Build a queue (admin)").click()
            admin.locator("#rq-name textarea").fill("Founding facts")
            admin.locator("#rq-exchange-ids textarea").fill("\n".join(ids))
            admin.locator("#rq-raters input").fill("2")
            admin.locator("#rq-guidelines-text textarea").fill(GUIDELINES)
            admin.locator("#rq-create").click()
            expect(admin.locator("#rq-builder-status")).to_contain_text("2 items, 2 rater(s) each, blind",
                                                                        timeout=30_000)
            expect(admin.locator("#rq-guidelines")).to_contain_text("states the fact", timeout=30_000)
            label = admin.locator("#rq-queue input").input_value()
            assert label.startswith("Founding facts")

            raters = [browser.new_context(viewport={"width": 1400, "height": 1100}).new_page() for _ in range(2)]
            seen = []
            for page in raters:
                open_queue_tab(page, running.url, label)
                expect(page.locator("#rq-progress")).to_contain_text("you: 0 done, 2 left")
                first = rate_next(page)
                expect(page.locator("#rq-progress")).to_contain_text("you: 1 done, 1 left")
                second = rate_next(page)
                expect(page.locator("#rq-progress")).to_contain_text("you: 2 done, 0 left")
                seen.append(sorted([first[0], second[0]]))
            raters[1].screenshot(path=str(ARTIFACTS / "rating-queue.png"), full_page=True)
            expect(raters[1].locator("#rq-progress")).to_contain_text("queue: 4/4 votes (2/2 items complete)")
            assert seen[0] == seen[1] and len(set(seen[0])) == 2  # both raters rated both items

            third = browser.new_context().new_page()
            open_queue_tab(third, running.url, label)
            third.locator("#rq-next").click()
            expect(third.locator("#rq-notice")).to_contain_text("Nothing left for you", timeout=30_000)
            expect(third.locator("#rq-vote-a")).to_be_disabled()

            # The Leaderboard's raters panel reads the queue: both items have two votes, each a comparison.
            admin.get_by_role("tab", name="Leaderboard").click()
            expect(admin.locator("#agreement-summary")).to_contain_text("over 2 items with two or more votes",
                                                                        timeout=60_000)
            expect(admin.locator("#style-summary")).to_contain_text("4 comparisons")
            expect(admin.locator("#style-ratings")).to_contain_text("style held equal")
            admin.locator("#labeling-panel").screenshot(path=str(ARTIFACTS / "raters-panel.png"))
        finally:
            browser.close()
    with sqlite3.connect(running.data_dir / "feedback.sqlite3") as db:
        rows = db.execute("SELECT exchange_id, rater FROM votes ORDER BY id").fetchall()
        generated = db.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0]
    assert len(rows) == 4 and len({rater for _, rater in rows}) == 2  # two anonymous sessions, two votes each
    assert sorted({exchange for exchange, _ in rows}) == sorted(ids)
    assert generated == 2  # rating generated nothing new
