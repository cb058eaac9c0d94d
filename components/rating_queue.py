"""The Rating queue tab: raters work through stored answer pairs that an admin put in a queue, with no generation.

A rater picks a queue, reads its guidelines, presses "Next" and at once sees the question and the two stored
answers side by side (labelled "Answer A"/"Answer B" when the queue is blind, shuffled per rater), votes, and then
sees who was who with the retrieved context and sources, as the Arena shows them. The rater is the signed-in
Hugging Face user, else this browser tab's session id (the rule ``votes.rater`` follows). Admins build a queue
from a batch run or pasted exchange ids and mark gold choices. The assignment rules live in
:class:`pipelines.feedback.queues.RatingQueues`; this module is the Gradio wiring and what each part shows.

Example::

    with gr.Blocks():
        build_rating_queue_tab(RatingQueues(runtime.feedback), runtime.auth, sign_in=False)
"""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass, fields

import gradio as gr

from components.admin import require_admin
from components.arena_view import HIDDEN_PANEL, vote_labels
from components.rendering import citations_line, context_panel_html
from pipelines.common.auth import AdminAuth
from pipelines.common.columns import BOTH_BAD, TIE, VOTE_CHOICES, label, short_label
from pipelines.common.events import RetrievedChunk
from pipelines.feedback.queues import QueueAnswer, QueueError, QueueItem, QueueProgress, RatingQueues
from pipelines.feedback.store import FeedbackError

SIDES = ("a", "b")  # the two answers, left to right, as this rater sees them
EMPTY_ANSWER = "Press **Next** for an item."
NO_QUEUE = "Pick a queue first (an admin builds one below)."
NOTHING_LEFT = "🎉 Nothing left for you in this queue: every item has its raters, or you rated it already."
_CHUNK_FIELDS = {f.name for f in fields(RetrievedChunk)}
_IDS = re.compile(r"[0-9a-fA-F]{32}")  # stored exchange ids (uuid4 hex)


@dataclass
class RaterState:
    """Per-browser-tab state: the anonymous session id, the signed-in user, and the item on screen."""

    session_id: str = ""  # given on first use: UI state templates are deep-copied per browser tab
    user_name: str | None = None
    queue_id: str | None = None
    item: QueueItem | None = None
    voted: bool = False

    @property
    def rater(self) -> str:
        """Who the queue assigns items to: the Hugging Face user name, else this tab's session id."""
        self.session_id = self.session_id or uuid.uuid4().hex[:12]
        return self.user_name or self.session_id


def answer_titles(item: QueueItem | None, blind: bool, voted: bool) -> list[str]:
    """Each side's heading: "Answer A" when blind (with the pipeline once voted), the pipeline's label when not."""
    if item is None:
        return ["### Answer A", "### Answer B"]
    names = [answer.pipeline for answer in item.answers]
    if not blind:
        return [f"### {label(name)}" for name in names]
    if voted:
        return [f"### Answer {side.upper()} — revealed: {label(name)}" for side, name in zip(SIDES, names, strict=True)]
    return [f"### Answer {side.upper()}" for side in SIDES]


def answer_text(answer: QueueAnswer) -> str:
    """The stored answer as Markdown text, escaped (model output is untrusted); an error says so."""
    if answer.error:
        return f"⚠️ {html.escape(answer.error)}"
    return html.escape(answer.answer.strip()) or "(empty answer)"


def chunks_of(answer: QueueAnswer) -> list[RetrievedChunk]:
    """The passages an answer's prompt held, back as :class:`RetrievedChunk` (the answers table keeps them as
    dicts); a stored field this version does not know is left out rather than failing the whole item."""
    chunks = []
    for stored in answer.contexts or []:
        if isinstance(stored, dict):
            try:
                chunks.append(RetrievedChunk(**{k: v for k, v in stored.items() if k in _CHUNK_FIELDS}))
            except TypeError:  # a row missing a required field: shown without it
                continue
    return chunks


def sources_line(answer: QueueAnswer, blind: bool, voted: bool) -> str:
    """Which passages the answer cites (as the Arena's status line does); hidden before a blind vote."""
    if blind and not voted:
        return ""
    return citations_line(answer.answer, chunks_of(answer))


def context_html(item: QueueItem | None, question: str, blind: bool, voted: bool) -> str:
    """The retrieved context of the answers that had one, as the Arena's panel; hidden before a blind vote (it
    would tell which answer is RAG)."""
    if item is None:
        return context_panel_html([])
    if blind and not voted:
        return HIDDEN_PANEL
    panels = []
    for side, answer in zip(SIDES, item.answers, strict=False):
        chunks = chunks_of(answer)
        if chunks:
            who = label(answer.pipeline) if (voted or not blind) else f"Answer {side.upper()}"
            panels.append(f'<div class="ctx-for"><strong>{html.escape(who)}</strong> read:</div>'
                          + context_panel_html(chunks, query=question))
    return "".join(panels) or context_panel_html([], error="No retrieved context: neither answer used retrieval.")


def progress_line(progress: QueueProgress) -> str:
    """"you: 3 done, 5 left · queue: 12/30 votes (4/10 items complete)"."""
    return (f"you: {progress.rater_done} done, {progress.rater_left} left · queue: {progress.votes}/"
            f"{progress.votes_needed} votes ({progress.items_complete}/{progress.items_total} items complete)")


def vote_choice(key: str, item: QueueItem) -> str:
    """The stored choice of a button: the pipeline shown on that side, or tie / both bad."""
    if key in (TIE, BOTH_BAD):
        return key
    return item.answers[SIDES.index(key)].pipeline


def revealed_notice(vote_id: int, choice: str, item: QueueItem) -> str:
    verdict = {TIE: "a tie", BOTH_BAD: "both are bad"}.get(choice) or f"{short_label(choice)} is better"
    reveal = ", ".join(f"{side.upper()} was {label(answer.pipeline)}"
                       for side, answer in zip(SIDES, item.answers, strict=False))
    return f"✅ Vote #{vote_id} stored: {verdict}. Revealed: {reveal}."


def queue_choices(queues: RatingQueues) -> list[tuple[str, str]]:
    """(label, id) of every queue, for the pickers."""
    return [(f"{info.name} · {info.items} items · {info.raters_per_item} raters each"
             f"{' · blind' if info.blind else ''}", info.id) for info in queues.queues()]


def batch_run_choices(queues: RatingQueues) -> list[tuple[str, str]]:
    """(label, session id) of every batch run with stored answers, newest first."""
    return [(f"{run['session_id']} · {run['exchanges']} exchanges", run["session_id"]) for run in queues.batch_runs()]


def pasted_ids(text: str) -> list[str]:
    """Exchange ids from pasted text (commas, spaces or lines between them), in order, without repeats."""
    return list(dict.fromkeys(_IDS.findall(text or "")))


def build_rating_queue_tab(queues: RatingQueues, auth: AdminAuth, sign_in: bool = False) -> None:
    """The tab. ``sign_in`` shows "Sign in with Hugging Face": the signed-in user name is then the rater."""
    state = gr.State(RaterState())
    gr.Markdown("Rate stored answer pairs from a queue: each item goes to a set number of raters, never twice to "
                "you. Nothing is generated here: the answers appear at once.")
    with gr.Row():
        picker = gr.Dropdown(queue_choices(queues), value=None, label="Queue", elem_id="rq-queue", scale=4)
        refresh = gr.Button("↻", elem_id="rq-refresh", scale=0, min_width=40)
        if sign_in:
            gr.LoginButton(elem_id="rq-login", scale=0, min_width=220)
    guidelines = gr.Markdown(elem_id="rq-guidelines")
    progress = gr.Markdown(elem_id="rq-progress")
    with gr.Row():
        next_button = gr.Button("Next ▶", variant="primary", elem_id="rq-next")
        skip_button = gr.Button("Skip this item", elem_id="rq-skip", scale=0, min_width=160)
    question = gr.Markdown(EMPTY_ANSWER, elem_id="rq-question")
    headings, answers, sources = [], [], []
    with gr.Row(equal_height=False):
        for side in SIDES:
            with gr.Column():
                headings.append(gr.Markdown(f"### Answer {side.upper()}", elem_id=f"rq-{side}-title"))
                answers.append(gr.Markdown(elem_id=f"rq-{side}-answer"))
                sources.append(gr.Markdown(elem_id=f"rq-{side}-sources"))
    texts = vote_labels(True, ["a", "b"])
    with gr.Row():
        vote_buttons = {key: gr.Button(texts[position], interactive=False, elem_id=f"rq-vote-{key}")
                        for key, position in (("a", "left"), ("b", "right"), (TIE, TIE), (BOTH_BAD, BOTH_BAD))}
    notice = gr.Markdown(elem_id="rq-notice")
    with gr.Accordion("Retrieved context", open=True):
        context = gr.HTML(context_panel_html([]), elem_id="rq-context")

    with gr.Accordion("Build a queue (admin)", open=False, elem_id="rq-builder"):
        password = gr.Textbox(label="Admin password", type="password", visible=auth.enabled,
                              elem_id="rq-admin-password")
        with gr.Row():
            name = gr.Textbox(label="Queue name (empty: named after its source)", elem_id="rq-name")
            batch_run = gr.Dropdown(batch_run_choices(queues), value=None, label="A batch run's answers",
                                    elem_id="rq-batch-run")
        exchange_ids = gr.Textbox(label="…or exchange ids (commas, spaces or one per line)", lines=3,
                                  elem_id="rq-exchange-ids")
        with gr.Row():
            raters = gr.Number(3, precision=0, minimum=1, label="Raters per item", elem_id="rq-raters")
            blind = gr.Checkbox(True, label="Blind (answers shuffled per rater, identities revealed after the vote)",
                                elem_id="rq-blind")
        guidelines_text = gr.Textbox(label="Guidelines (Markdown, shown above the queue)", lines=5,
                                     elem_id="rq-guidelines-text")
        with gr.Row():
            create = gr.Button("Create queue", elem_id="rq-create")
            guidelines_save = gr.Button("Save these guidelines to the chosen queue (a new version)",
                                        elem_id="rq-guidelines-save")
        builder_status = gr.Markdown(elem_id="rq-builder-status")
        gr.Markdown("**Gold items**: the right choice of an item, to measure each rater's accuracy.")
        with gr.Row():
            gold_item = gr.Textbox(label="Exchange id of an item of the chosen queue", elem_id="rq-gold-item")
            gold_choice = gr.Dropdown([("no gold", ""), *[(label(c), c) for c in VOTE_CHOICES]], value="",
                                      label="Gold choice", elem_id="rq-gold-choice")
            gold_save = gr.Button("Save gold", elem_id="rq-gold-save")
        gold_status = gr.Markdown(elem_id="rq-gold-status")

    def signed_in(current: RaterState, profile: gr.OAuthProfile | None) -> RaterState:
        current.user_name = profile.username if profile is not None else None
        return current

    def shown(current: RaterState, note: str = "", progress_text: str | None = None) -> dict:
        """Every part of the rating area for the state's item (or the empty area)."""
        item, blind_mode = current.item, _blind(current.queue_id)
        update = {state: current, notice: note, question: EMPTY_ANSWER if item is None else
                  f"**Item {item.position}.** {html.escape(item.question)}",
                  context: context_html(item, item.question if item else "", blind_mode, current.voted)}
        for heading, text in zip(headings, answer_titles(item, blind_mode, current.voted), strict=True):
            update[heading] = text
        for position in range(len(SIDES)):
            answer = item.answers[position] if item is not None else None
            update[answers[position]] = answer_text(answer) if answer else ""
            update[sources[position]] = sources_line(answer, blind_mode, current.voted) if answer else ""
        names = [a.pipeline for a in item.answers] if item else ["a", "b"]
        labels = vote_labels(blind_mode, names)
        open_vote = item is not None and not current.voted
        for key, position in (("a", "left"), ("b", "right"), (TIE, TIE), (BOTH_BAD, BOTH_BAD)):
            update[vote_buttons[key]] = gr.Button(labels[position], interactive=open_vote)
        if progress_text is not None:
            update[progress] = progress_text
        return update

    def _blind(queue_id: str | None) -> bool:
        if not queue_id:
            return True
        try:
            return queues.queue(queue_id).blind
        except QueueError:
            return True

    def progress_of(queue_id: str, rater: str) -> str:
        return progress_line(queues.progress(queue_id, rater))

    def choose(queue_id: str | None, current: RaterState, profile: gr.OAuthProfile | None = None) -> dict:
        """A queue picked: its guidelines and the rater's progress. An unvoted item of the queue left stays this
        rater's (Next gives it again on coming back) until its hold times out and it goes to another rater."""
        signed_in(current, profile)
        current.queue_id, current.item, current.voted = queue_id or None, None, False
        if not queue_id:
            return {**shown(current, progress_text=""), guidelines: ""}
        try:
            info = queues.queue(queue_id)
            line = progress_of(queue_id, current.rater)
        except QueueError as exc:
            current.queue_id = None
            return {**shown(current, f"⚠️ {exc}", ""), guidelines: ""}
        rules = info.guidelines.strip() or "_No guidelines for this queue._"
        return {**shown(current, progress_text=line),
                guidelines: f"#### Guidelines (version {info.guidelines_version})\n\n{rules}"}

    def next_item(current: RaterState, profile: gr.OAuthProfile | None = None) -> dict:
        """The rater's open item, else a new one that needs them; never generates anything."""
        signed_in(current, profile)
        if not current.queue_id:
            return shown(current, f"⚠️ {NO_QUEUE}")
        try:
            item = queues.next_item(current.queue_id, current.rater)
            line = progress_of(current.queue_id, current.rater)
        except QueueError as exc:
            return shown(current, f"⚠️ {exc}")
        current.item, current.voted = item, False
        return shown(current, NOTHING_LEFT if item is None else "", line)

    def skip(current: RaterState, profile: gr.OAuthProfile | None = None) -> dict:
        """Give the unvoted item back to the pool at once (another rater gets it; this rater never again), then
        the next one."""
        signed_in(current, profile)
        if current.queue_id and current.item is not None and not current.voted:
            try:
                queues.release(current.queue_id, current.rater)
            except QueueError as exc:
                return shown(current, f"⚠️ {exc}")
        return next_item(current, profile)

    def vote(key: str, current: RaterState, profile: gr.OAuthProfile | None) -> dict:
        signed_in(current, profile)
        item = current.item
        if item is None or not current.queue_id:
            return {notice: f"⚠️ Press Next for an item before voting. {'' if current.queue_id else NO_QUEUE}"}
        if current.voted:
            return {notice: "⚠️ You already voted on this item: press Next for the next one."}
        choice = vote_choice(key, item)
        try:
            vote_id = queues.vote(current.queue_id, item.exchange_id, current.rater, choice,
                                  session_id=current.session_id, user_name=current.user_name)
        except FeedbackError as exc:  # QueueError too: not assigned, voted already, claim taken after expiry
            gr.Warning(str(exc))
            return {notice: f"⚠️ {exc}"}
        current.voted = True
        return shown(current, revealed_notice(vote_id, choice, item), progress_of(current.queue_id, current.rater))

    def vote_handler(key: str):
        def cast(current: RaterState, profile: gr.OAuthProfile | None = None) -> dict:
            return vote(key, current, profile)
        cast.__name__ = f"vote_{key}"
        return cast

    def refreshed(queue_id: str | None) -> tuple[dict, dict]:
        choices = queue_choices(queues)
        ids = [value for _, value in choices]
        return (gr.Dropdown(choices=choices, value=queue_id if queue_id in ids else None),
                gr.Dropdown(choices=batch_run_choices(queues)))

    def do_create(given: str, queue_name: str, run: str | None, pasted: str, per_item: float | None,
                  blind_mode: bool, rules: str) -> tuple[str, dict]:
        """Admin: a queue of a batch run's exchanges and/or pasted ids."""
        require_admin(auth, given)
        ids = pasted_ids(pasted)
        if run:
            run_ids = queues.batch_exchange_ids(run)
            if not run_ids:
                return f"⚠️ No batch run {html.escape(run)!r} is stored.", gr.Dropdown()
            ids = list(dict.fromkeys([*run_ids, *ids]))
        if (pasted or "").strip() and not pasted_ids(pasted):
            return ("⚠️ No exchange id in the pasted text: ids are 32 hexadecimal characters (the exchange_id "
                    "that /ask_both and exports give).", gr.Dropdown())
        try:
            per = int(per_item) if per_item is not None else 0
            info = queues.create((queue_name or "").strip() or run or f"{len(ids)} exchanges", ids,
                                 raters_per_item=per, blind=bool(blind_mode), guidelines=rules or "")
        except FeedbackError as exc:
            return f"⚠️ {exc}", gr.Dropdown()
        return (f"✅ Queue **{html.escape(info.name)}** created: {info.items} items, {info.raters_per_item} "
                f"rater(s) each{', blind' if info.blind else ''}.",
                gr.Dropdown(choices=queue_choices(queues), value=info.id))

    def do_guidelines(given: str, queue_id: str | None, rules: str) -> tuple[str, str]:
        """Admin: new guidelines for the chosen queue; each later vote records the new version."""
        require_admin(auth, given)
        if not queue_id:
            return f"⚠️ {NO_QUEUE}", gr.skip()
        try:
            info = queues.set_guidelines(queue_id, rules or "")
        except FeedbackError as exc:
            return f"⚠️ {exc}", gr.skip()
        shown_rules = info.guidelines.strip() or "_No guidelines for this queue._"
        return (f"✅ Guidelines of **{html.escape(info.name)}** saved as version {info.guidelines_version}; votes "
                "from now on record it.",
                f"#### Guidelines (version {info.guidelines_version})\n\n{shown_rules}")

    def do_gold(given: str, queue_id: str | None, exchange_id: str, choice: str | None) -> str:
        """Admin: the right choice of one item of the chosen queue (empty: no gold)."""
        require_admin(auth, given)
        if not queue_id:
            return f"⚠️ {NO_QUEUE}"
        try:
            queues.set_gold(queue_id, (exchange_id or "").strip(), choice or None)
        except FeedbackError as exc:
            return f"⚠️ {exc}"
        return (f"✅ Gold of {html.escape(exchange_id.strip())}: {label(choice)}." if choice
                else f"✅ Gold of {html.escape(exchange_id.strip())} removed.")

    area = [state, notice, question, context, progress, *headings, *answers, *sources, *vote_buttons.values()]
    picker.change(choose, inputs=[picker, state], outputs=[*area, guidelines], api_name=False)
    next_button.click(next_item, inputs=[state], outputs=area, api_name="queue_next_ui")
    skip_button.click(skip, inputs=[state], outputs=area, api_name=False)
    for key, button in vote_buttons.items():
        button.click(vote_handler(key), inputs=[state], outputs=area, api_name=f"queue_vote_{key}_ui")
    refresh.click(refreshed, inputs=[picker], outputs=[picker, batch_run], api_name=False)
    create.click(do_create, inputs=[password, name, batch_run, exchange_ids, raters, blind, guidelines_text],
                 outputs=[builder_status, picker], api_name=False)
    guidelines_save.click(do_guidelines, inputs=[password, picker, guidelines_text],
                          outputs=[builder_status, guidelines], api_name=False)
    gold_save.click(do_gold, inputs=[password, picker, gold_item, gold_choice], outputs=[gold_status],
                    api_name=False)

