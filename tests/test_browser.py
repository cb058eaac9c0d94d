"""End to end: the app started as a user starts it, driven by Playwright in Debian's Chromium."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import time

import pytest

from tests.conftest import ARTIFACTS, ROOT, RunningApp

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    # Two DPO steps (not 8): the DPO test checks the button's run, version and activation, not what DPO learns.
    app = RunningApp(tmp_path_factory.mktemp("appdata"), ARENA_MAX_NEW_TOKENS="40", ARENA_DPO_STEPS="2").start()
    yield app.url, app.data_dir
    app.stop()


def ask(page, question: str) -> None:
    """Type a question, send it, and wait until both columns have finished (the vote bar opens)."""
    from playwright.sync_api import expect

    page.locator("#prompt textarea").fill(question)
    page.locator("#send").click()
    expect(page.locator("#vote-left")).to_be_enabled(timeout=180_000)


def open_batch_limit(page, value: str) -> None:
    """Open the Evaluation tab's batch panel and set how many questions its run asks."""
    from playwright.sync_api import expect

    page.locator("#batch-panel").get_by_text("Batch evaluation").first.click()
    limit = page.locator("#batch-limit input")
    expect(limit).to_be_visible()
    for _ in range(5):  # the accordion's first render can reset a value typed while it opens
        limit.fill(value)
        limit.press("Tab")
        time.sleep(0.5)
        if limit.input_value() == value:
            break
    expect(limit).to_have_value(value)


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.dialogs = dialogs
        yield page
        browser.close()


def test_ask_vote_and_see_ragas_scores(app_url, page):
    from playwright.sync_api import expect

    url, data_dir = app_url
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(url)
    ask(page, "What is the battery life of the Tessel T4?")
    expect(page.locator("#context")).to_contain_text("tessel_t4_datasheet.md")
    expect(page.locator("#left-title")).to_contain_text("RAG")
    expect(page.locator("#left-status")).to_contain_text("retrieval")
    expect(page.locator("#right-status")).to_contain_text("total")
    for column in ("#left", "#right"):
        assert page.locator(f"{column} [data-testid='bot']").last.inner_text().strip()
    page.screenshot(path=str(ARTIFACTS / "arena.png"), full_page=True)

    page.locator("#vote-left").click()
    expect(page.locator("#notice")).to_contain_text("stored", timeout=30_000)
    with sqlite3.connect(data_dir / "feedback.sqlite3") as db:
        assert db.execute("SELECT choice FROM votes").fetchall() == [("rag",)]

    page.get_by_role("tab", name="Leaderboard").click()
    expect(page.locator("#leaderboard")).to_contain_text("Fine-tuned", timeout=30_000)
    board = page.locator("#leaderboard").inner_text()
    assert board.index("RAG") < board.index("Fine-tuned"), board  # the only vote went to RAG: it ranks first
    page.locator("#export").click()
    # Behind the tab's refresh and the vote's scoring on the app's queue: a loaded 2-core machine took over 30 s.
    expect(page.locator("#export-files")).to_contain_text("ratings", timeout=90_000)
    assert "dpo" in page.locator("#export-files").inner_text()
    page.screenshot(path=str(ARTIFACTS / "leaderboard.png"), full_page=True)

    page.get_by_role("tab", name="Evaluation").click()
    deadline = time.monotonic() + 120
    while "semantic_similarity" not in page.locator("#scores").inner_text():
        assert time.monotonic() < deadline, "RAGAS scores never appeared"
        time.sleep(2)
        page.locator("#refresh-scores").click()
    expect(page.locator("#score-summary")).to_contain_text("rag")
    # correctness first: the RAG answer's stored key fact, shown as accuracy with its Wilson interval
    from pipelines.common.correctness import proportion_interval

    with sqlite3.connect(data_dir / "feedback.sqlite3") as db:
        (fact,) = db.execute("SELECT value FROM scores WHERE pipeline = 'rag' AND metric = 'key_fact'").fetchone()
    interval = proportion_interval(fact, 1)
    expect(page.locator("#accuracy")).to_contain_text(f"{interval.low:.0%} – {interval.high:.0%}")
    expect(page.locator("#agreement")).to_contain_text("key_fact")
    expect(page.locator("#agreement")).to_contain_text("semantic_similarity")
    expect(page.locator("#agreement-verdict")).to_contain_text("Not enough evidence")
    expect(page.locator("#scores")).to_contain_text("ragas-")  # each score names its scorer
    expect(page.locator("#scores")).to_contain_text("bleu_score")
    page.locator("#rescore").click()
    expect(page.locator("#rescore-status")).to_contain_text("1 voted exchanges queued")
    expect(page.locator("#judge-status")).to_contain_text("LLM-judged metrics skipped")  # no judge configured
    open_batch_limit(page, "1")
    page.locator("#run-batch").click()
    expect(page.locator("#batch-summary")).to_contain_text("Batch evaluation (1 questions", timeout=300_000)
    expect(page.locator("#batch-summary table").first).to_contain_text("key-fact accuracy")
    expect(page.locator("#batch-summary")).to_contain_text("semantic_similarity")
    expect(page.locator("#batch-report")).to_contain_text(".zip")
    page.screenshot(path=str(ARTIFACTS / "evaluation.png"), full_page=True)
    assert page.dialogs == []


def test_html_in_a_question_and_its_answers_stays_inert(app_url, page):
    from playwright.sync_api import expect

    url, _ = app_url
    page.goto(url)
    ask(page, "<img src=x onerror=alert('question')> What does quiet mode do?")
    for column in ("#left", "#right"):
        expect(page.locator(column)).to_contain_text("What does quiet mode do?")
        assert page.locator(f"{column} [onerror], {column} script").count() == 0
    time.sleep(1)
    assert page.dialogs == []


def test_empty_prompt_shows_a_message_and_stores_nothing(app_url, page):
    from playwright.sync_api import expect

    url, data_dir = app_url
    page.goto(url)
    with sqlite3.connect(data_dir / "feedback.sqlite3") as db:  # counted before the click: it may store nothing
        before = db.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0]
    page.locator("#prompt textarea").fill("")
    page.locator("#send").click()
    expect(page.locator("#notice")).to_contain_text("Type a question first")
    time.sleep(3)  # an exchange is stored when both columns finish: give a wrongly started one time to land
    with sqlite3.connect(data_dir / "feedback.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0] == before


def test_next_question_draws_from_the_question_set(app_url, page):
    url, _ = app_url
    questions = {json.loads(line)["question"] for line in (ROOT / "assets" / "questions.jsonl").open()}
    page.goto(url)
    page.locator("#next-question").click()
    deadline = time.monotonic() + 15
    while not page.locator("#prompt textarea").input_value():
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert page.locator("#prompt textarea").input_value() in questions


def test_verdict_from_the_stored_answers_opens_with_its_recommendation_and_accuracy(app_url, page):
    """An out-of-corpus question of the sample set asked and voted on, then the Evaluation tab's "Verdict from the
    stored answers": the page it writes from this app's store opens with the recommendation and the accuracy."""
    from playwright.sync_api import expect

    url, data_dir = app_url
    page.goto(url)
    ask(page, "Who is the chief financial officer of Lumenhollow?")  # q31: no document answers it
    page.locator("#vote-left").click()
    expect(page.locator("#notice")).to_contain_text("stored", timeout=30_000)
    page.get_by_role("tab", name="Evaluation").click()
    page.locator("#build-verdict").click()
    # the stored answers' verdict (a batch run's, shown after an earlier test's run, names the run instead)
    expect(page.locator("#verdict-summary")).to_contain_text("every stored answer to the set", timeout=120_000)
    expect(page.locator("#verdict-page a")).to_have_attribute("href", re.compile(r"/verdict\.html$"))
    written = max((data_dir / "reports").glob("verdict-*/verdict.html"), key=lambda path: path.stat().st_mtime)
    page.goto(written.as_uri())
    advice = page.locator("#recommendation")
    expect(advice).to_be_visible()
    expect(advice.locator("strong")).to_have_text(re.compile(r"^(Recommended: .+|Close: .+|Too little evidence .+)$"))
    accuracy = page.locator("section").filter(has=page.get_by_role("heading", name="Accuracy per approach"))
    expect(accuracy.locator("table")).to_be_visible()
    expect(accuracy.locator("table")).to_contain_text("RAG")
    expect(accuracy.locator("table")).to_contain_text("Fine-tuned")
    honesty = page.locator("section").filter(has=page.get_by_role("heading", name="Questions the documents cannot"))
    expect(honesty).to_contain_text("question(s) no document answers")  # the voted out-of-corpus question counts
    expect(honesty.locator("table")).to_contain_text("said the documents do not say")
    page.screenshot(path=str(ARTIFACTS / "verdict.png"), full_page=True)
    assert page.dialogs == []


def test_an_uploaded_question_set_replaces_the_sample_set(app_url, page, tmp_path):
    from playwright.sync_api import expect

    url, _ = app_url
    upload = tmp_path / "mine.csv"
    upload.write_text("question\nWhat is the Sillwater field station?\n")
    page.goto(url)
    page.locator("#question-set").get_by_text("Question set for labeling sessions").click()
    page.locator("#question-file input[type=file]").set_input_files(str(upload))
    expect(page.locator("#question-set-info")).to_contain_text("uploaded set: 1 questions", timeout=30_000)
    page.locator("#next-question").click()
    expect(page.locator("#prompt textarea")).to_have_value("What is the Sillwater field station?")


def test_blind_mode_hides_identities_until_the_vote_and_stores_the_order(app_url, page):
    from playwright.sync_api import expect

    url, data_dir = app_url
    page.goto(url)
    # Blind ticked and the question sent in one go (one script, no wait between): the question must go out blind,
    # not on the session the toggle's own event had not yet replaced (it went out named before the send applied
    # the toggles itself).
    page.locator("#prompt textarea").fill("Who leads the Lumenhollow support team?")
    page.evaluate("() => { document.querySelector('#blind input').click(); document.querySelector('#send').click(); }")
    expect(page.locator("#vote-left")).to_be_enabled(timeout=180_000)
    expect(page.locator("#left-title")).to_have_text("Model A")
    expect(page.locator("#right-title")).to_have_text("Model B")
    expect(page.locator("#vote-left")).to_contain_text("A is better")
    expect(page.locator("#context")).to_contain_text("Hidden in blind mode")
    assert "retrieval" not in page.locator("#left-status").inner_text() + page.locator("#right-status").inner_text()

    page.locator("#vote-left").click()
    expect(page.locator("#notice")).to_contain_text("Revealed", timeout=30_000)
    expect(page.locator("#left-title")).to_contain_text("revealed")
    expect(page.locator("#context")).to_contain_text("support_policy.txt")
    page.screenshot(path=str(ARTIFACTS / "blind.png"), full_page=True)
    with sqlite3.connect(data_dir / "feedback.sqlite3") as db:
        mode, order, choice = db.execute(
            "SELECT v.mode, v.shown_order, t.choice FROM exchange_views v JOIN votes t USING (exchange_id)"
            " ORDER BY t.id DESC LIMIT 1").fetchone()
    assert mode == "blind"
    assert choice == json.loads(order)[0]  # "A is better" is a vote for whatever was shown on the left
    assert page.locator("#left-title").inner_text().endswith({"rag": "RAG", "finetuned": "Fine-tuned"}[choice])

    page.locator("#ratings").get_by_text("Rate each answer").click()
    page.locator("#rate-left-score").get_by_label("4").check()
    page.locator("#rate-left-tags").get_by_label("correct").check()
    page.locator("#rate-left-comment textarea").fill("<img src=x onerror=alert(1)> fine")
    page.locator("#rate-left-save").click()
    expect(page.locator("#notice")).to_contain_text("Rating #", timeout=30_000)
    with sqlite3.connect(data_dir / "feedback.sqlite3") as db:
        score, tags, comment, pipeline = db.execute(
            "SELECT score, tags, comment, pipeline FROM ratings ORDER BY id DESC LIMIT 1").fetchone()
    assert (score, json.loads(tags), pipeline) == (4, ["correct"], choice)
    assert comment == "<img src=x onerror=alert(1)> fine"

    page.get_by_role("tab", name="Leaderboard").click()  # the comment is shown to the team, as text
    expect(page.locator("#comments")).to_contain_text("<img src=x onerror=alert(1)> fine", timeout=30_000)
    assert page.locator("#comments img").count() == 0
    expect(page.locator("#ratings-summary")).to_contain_text({"rag": "RAG", "finetuned": "Fine-tuned"}[choice])
    page.screenshot(path=str(ARTIFACTS / "ratings.png"), full_page=True)
    assert page.dialogs == []


def test_third_column_rag_plus_finetuned_best_of_three(app_url, page):
    from playwright.sync_api import expect

    url, data_dir = app_url
    page.goto(url)
    expect(page.locator("#third")).to_be_hidden()
    page.get_by_label("Third column: RAG + fine-tuned").check()
    expect(page.locator("#third-title")).to_contain_text("RAG + fine-tuned")
    ask(page, "What is the battery life of the Tessel T4?")
    assert page.locator("#third [data-testid='bot']").last.inner_text().strip()
    expect(page.locator("#vote-third")).to_contain_text("RAG+FT is best")
    expect(page.locator("#vote-both_bad")).to_contain_text("All are bad")
    page.screenshot(path=str(ARTIFACTS / "three-columns.png"), full_page=True)
    page.locator("#vote-third").click()
    expect(page.locator("#notice")).to_contain_text("RAG+FT is best", timeout=30_000)
    with sqlite3.connect(data_dir / "feedback.sqlite3") as db:
        choice, answered = db.execute(
            "SELECT v.choice, (SELECT COUNT(*) FROM answers a WHERE a.exchange_id = v.exchange_id)"
            " FROM votes v ORDER BY v.id DESC LIMIT 1").fetchone()
    assert (choice, answered) == ("rag_finetuned", 3)
    page.get_by_label("Third column: RAG + fine-tuned").uncheck()
    expect(page.locator("#third")).to_be_hidden()
    expect(page.locator("#vote-third")).to_be_hidden()
    assert page.dialogs == []


def test_upload_documents_then_ask_about_them_with_inert_html(app_url, page, tmp_path):
    from playwright.sync_api import expect

    from tests.documents import XSS_HTML, write

    url, _ = app_url
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    harbour = write(tmp_path, "quillmoor_harbour.md",
                    "# Quillmoor harbour\nThe harbour master of Quillmoor is Odile Varrent, since 2021.")
    ferry = write(tmp_path, "ferry.html", XSS_HTML)
    page.goto(url)
    page.get_by_role("tab", name="Knowledge").click()
    page.locator("#kb-upload input[type=file]").set_input_files([str(harbour), str(ferry)])
    expect(page.locator("#kb-upload").get_by_role("button", name="Remove this file")).to_have_count(2,
                                                                                                timeout=30_000)
    page.locator("#kb-ingest").click()
    expect(page.locator("#kb-report")).to_contain_text("2 file(s) ingested", timeout=120_000)
    expect(page.locator("#kb-documents")).to_contain_text("quillmoor_harbour.md")
    expect(page.locator("#kb-documents")).to_contain_text("ferry.html")
    page.screenshot(path=str(ARTIFACTS / "knowledge.png"), full_page=True)

    page.get_by_role("tab", name="Arena").click()
    ask(page, "Who is the harbour master of Quillmoor?")
    expect(page.locator("#context")).to_contain_text("quillmoor_harbour.md")
    expect(page.locator("#context .ctx-card").first).to_contain_text("§ Quillmoor harbour")
    assert page.locator("#context mark").count() > 0  # the question's terms are highlighted

    ask(page, "When does the Quillmoor ferry leave, and what are the fares?")
    expect(page.locator("#context")).to_contain_text("ferry.html")
    expect(page.locator("#context")).to_contain_text("<script>alert('escaped')</script> stays text.")
    assert page.locator("#context script, #context img").count() == 0
    time.sleep(1)
    assert page.dialogs == [] and not [m for m in console if "alert" in m or "escaped" in m], console


def test_dpo_from_votes_activates_a_new_adapter_version(app_url, page):
    """Runs after a decided vote exists (the first test of this module voted RAG better)."""
    from playwright.sync_api import expect

    url, data_dir = app_url
    page.goto(url)
    page.get_by_role("tab", name="Leaderboard").click()
    page.locator("#improve-adapter").click()
    expect(page.locator("#improve-status")).to_contain_text("is active", timeout=300_000)
    expect(page.locator("#improve-status")).to_contain_text("2 DPO steps")  # the app's ARENA_DPO_STEPS ran
    page.get_by_role("tab", name="Arena").click()
    ask(page, "What does quiet mode do?")
    with sqlite3.connect(data_dir / "feedback.sqlite3") as db:
        (adapter,) = db.execute(
            "SELECT adapter_id FROM answers WHERE pipeline = 'finetuned' ORDER BY rowid DESC LIMIT 1").fetchone()
    assert "+dpo-" in adapter
    assert any(p.name.startswith("lumenhollow-qlora+dpo-") for p in (data_dir / "adapters").iterdir())



def test_train_from_the_finetune_tab_activate_and_see_the_arena_use_it(app_url, page):
    """Runs last: it changes the active adapter (the DPO test above improves the shipped one)."""
    from playwright.sync_api import expect

    url, data_dir = app_url
    page.goto(url)
    page.get_by_role("tab", name="Fine-tune").click()
    page.locator("#ft-max-steps input").fill("2")
    # Short pairs (128 tokens, not 512) keep the two steps and their two eval passes to a fraction of the time;
    # the run is still a real QLoRA run of the tab's form on the sample documents.
    page.locator("#ft-max-length input[type=number]").fill("128")
    page.locator("#ft-max-length input[type=number]").press("Tab")
    page.locator("#ft-start").click()
    expect(page.locator("#ft-status")).to_contain_text("step", timeout=60_000)
    expect(page.locator("#ft-status")).to_contain_text("finished", timeout=600_000)
    for plot in ("#ft-loss", "#ft-eval-loss"):  # both curves drawn: an empty plot has no "loss" axis title
        expect(page.locator(plot)).to_contain_text("loss", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "finetune.png"), full_page=True)
    trained = sorted(p.name for p in (data_dir / "adapters").iterdir() if p.name.startswith("lumenhollowdocs-"))
    assert len(trained) == 1 and not trained[0].endswith(".partial")
    metadata = json.loads((data_dir / "adapters" / trained[0] / "arena_adapter.json").read_text())
    assert metadata["hyperparameters"]["max_length"] == 128 and metadata["steps"] == 2   # the form's values ran
    registry = page.locator("#ft-registry")  # the new run is listed with its training speed
    expect(registry).to_contain_text(trained[0], timeout=30_000)
    expect(registry).to_contain_text("steps/s")

    page.locator("#ft-choice input").click()
    page.get_by_role("option", name=trained[0]).click()
    page.locator("#ft-activate").click()
    expect(page.locator("#ft-active")).to_contain_text(trained[0], timeout=30_000)
    page.get_by_role("tab", name="Arena").click()
    ask(page, "What is the Tidemates programme?")
    with sqlite3.connect(data_dir / "feedback.sqlite3") as db:
        (adapter,) = db.execute(
            "SELECT adapter_id FROM answers WHERE pipeline = 'finetuned' ORDER BY rowid DESC LIMIT 1").fetchone()
    assert adapter.startswith(trained[0])


def test_a_question_set_from_an_uploaded_collection_reviewed_saved_and_evaluated(app_url, page):
    """Documents into a new collection, a generated set reviewed in the Questions tab (one question edited, one
    removed), saved and chosen; a batch run of 3 of its questions, whose summary and verdict name the set by its
    hash. Ends back on the start-up set, for the tests after it."""
    from playwright.sync_api import expect

    url, data_dir = app_url
    page.goto(url)
    page.get_by_role("tab", name="Knowledge").click()
    page.locator("#kb-new-name textarea").fill("FerryDocs")
    page.locator("#kb-create").click()
    expect(page.locator("#kb-collection input")).to_have_value("FerryDocs", timeout=30_000)
    dev_docs = ROOT / "assets" / "eval" / "dev" / "docs"
    page.locator("#kb-upload input[type=file]").set_input_files(
        [str(dev_docs / "fleet_register.md"), str(dev_docs / "fares_and_tickets.txt")])
    expect(page.locator("#kb-upload").get_by_role("button", name="Remove this file")).to_have_count(2,
                                                                                                timeout=30_000)
    page.locator("#kb-ingest").click()
    expect(page.locator("#kb-report")).to_contain_text("2 file(s) ingested", timeout=180_000)

    page.get_by_role("tab", name="Questions").click()
    page.locator("#qs-collection input").click()
    page.get_by_role("option", name="FerryDocs").click()
    page.locator("#qs-count input").fill("12")
    page.locator("#qs-count input").press("Tab")
    page.locator("#qs-generate").click()
    expect(page.locator("#qs-report")).to_contain_text(re.compile(r"\d+ questions from 2 documents of FerryDocs"),
                                                       timeout=120_000)
    table = page.locator("#qs-table")
    rows = table.get_by_role("row").filter(has=page.get_by_role("gridcell"))  # the data rows, not the header
    expect(rows.first).to_be_visible()
    generated = rows.count()
    assert generated >= 12

    first_question = rows.nth(0).get_by_role("gridcell").nth(2)
    edited = "Which hull code does the newest Drover class ferry carry on her bow?"
    first_question.dblclick()
    editor = first_question.locator("textarea, input[type=text]").first  # the cell's editor, open after dblclick
    editor.fill(edited)
    editor.press("Enter")
    expect(rows.nth(0)).to_contain_text(edited)
    removed = rows.nth(1).get_by_role("gridcell").nth(2).inner_text().strip()
    rows.nth(1).locator("input[type=checkbox]").first.uncheck()

    page.locator("#qs-save").click()
    expect(page.locator("#qs-status")).to_contain_text(f"Saved {generated - 1} questions for FerryDocs",
                                                       timeout=30_000)
    saved_file = data_dir / "question-sets" / "FerryDocs.jsonl"
    saved = [json.loads(line) for line in saved_file.read_text().splitlines()]
    assert len(saved) == generated - 1 and saved[0]["question"] == edited
    assert removed not in {row["question"] for row in saved}
    page.locator("#qs-use").click()
    expect(page.locator("#qs-status")).to_contain_text("The evaluation uses FerryDocs (sha256", timeout=30_000)

    page.get_by_role("tab", name="Evaluation").click()
    open_batch_limit(page, "3")
    page.locator("#run-batch").click()
    expect(page.locator("#batch-summary")).to_contain_text("Batch evaluation (3 questions", timeout=600_000)
    expect(page.locator("#batch-summary")).to_contain_text("Question set: FerryDocs (sha256")
    report = max((data_dir / "reports").glob("2*/question_set.json"), key=lambda path: path.stat().st_mtime)
    recorded = json.loads(report.read_text())
    assert recorded["collection"] == "FerryDocs" and recorded["questions"] == 3
    assert recorded["sha256"] == hashlib.sha256(saved_file.read_bytes()).hexdigest()  # the saved set, as saved
    named = f"FerryDocs (sha256 {recorded['sha256'][:12]}, highest word overlap with training questions"
    assert named in (report.parent / "verdict.md").read_text()  # the set, its hash and its fairness to the adapter
    expect(page.locator("#verdict-summary")).to_contain_text(named, timeout=120_000)  # the batch run's verdict
    with sqlite3.connect(data_dir / "feedback.sqlite3") as db:
        asked = [row[0] for row in db.execute("SELECT question FROM exchanges ORDER BY rowid DESC LIMIT 3")]
    assert sorted(asked) == sorted(row["question"] for row in saved[:3])  # the set's first three, edit included
    page.screenshot(path=str(ARTIFACTS / "questions.png"), full_page=True)

    page.get_by_role("tab", name="Questions").click()
    page.locator("#qs-use-startup").click()
    expect(page.locator("#qs-status")).to_contain_text("questions.jsonl", timeout=30_000)
    assert page.dialogs == []
