"""The arena tab: one prompt box, two columns streaming side by side, the vote bar and per-answer ratings.

Named mode shows RAG on the left and Fine-tuned on the right. Blind mode shuffles the
columns for every exchange, labels them A and B, hides the retrieved context, and
reveals who was who once the user has voted. This module is the Gradio wiring; what each
part shows is decided in :mod:`components.arena_view`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import gradio as gr

from components.arena_view import (
    POSITIONS,
    TWO_COLUMNS,
    ExchangeView,
    arena_columns,
    titles,
    vote_labels,
    vote_notice,
)
from components.rendering import context_panel_html
from pipelines.arena.arena import Arena, ArenaSession, PromptError
from pipelines.common.columns import title
from pipelines.common.questions import QuestionSetError, load_question_set
from pipelines.feedback.store import RATING_TAGS, FeedbackError
from pipelines.knowledge.base import KnowledgeBase
from pipelines.knowledge.retrieval import RetrievalOptions


def _collection_choices(knowledge: KnowledgeBase | None) -> list[str]:
    try:
        return knowledge.collections() if knowledge else []
    except Exception:  # Weaviate down: the RAG column explains; the controls just stay as they are
        return []


def _document_choices(knowledge: KnowledgeBase | None, collection: str | None) -> list[str]:
    try:
        return [doc.name for doc in knowledge.documents(collection)] if knowledge else []
    except Exception:
        return []


def build_retrieval_controls(knowledge: KnowledgeBase | None, defaults: RetrievalOptions, session: gr.State) -> None:
    """Collection, top-k, alpha, document filter and rerank for the RAG column, kept in the session."""
    collections = _collection_choices(knowledge)
    with gr.Accordion("Retrieval settings (RAG column)", open=False, elem_id="retrieval-settings"):
        with gr.Row():
            collection = gr.Dropdown(collections, value=collections[0] if collections else None, label="Collection",
                                     elem_id="collection", scale=2)
            top_k = gr.Slider(1, 10, value=defaults.top_k, step=1, label="Passages (top-k)", elem_id="top-k")
            alpha = gr.Slider(0, 1, value=defaults.alpha, step=0.05, label="Hybrid alpha (0 = BM25, 1 = vectors)",
                              elem_id="alpha")
        with gr.Row():
            sources = gr.Dropdown(_document_choices(knowledge, collections[0] if collections else None),
                                  multiselect=True, label="Only these documents (empty: all)", elem_id="sources",
                                  scale=3)
            available = bool(knowledge and knowledge.reranker_available)
            rerank = gr.Checkbox(False, label="Cross-encoder rerank" if available
                                 else "Cross-encoder rerank (set ARENA_RERANKER_MODEL to enable)",
                                 interactive=available, elem_id="rerank")
            refresh = gr.Button("↻", elem_id="refresh-retrieval", scale=0, min_width=40)

    def choose(name: str | None, k: int, a: float, docs: list[str] | None, use_rerank: bool,
               state: ArenaSession) -> ArenaSession:
        state.retrieval = RetrievalOptions(collection=name or None, top_k=int(k), alpha=float(a),
                                           sources=tuple(docs or ()), rerank=bool(use_rerank))
        return state

    def refreshed(name: str | None, docs: list[str] | None) -> dict:
        names = _collection_choices(knowledge)
        name = name if name in names else (names[0] if names else None)
        choices = _document_choices(knowledge, name)
        return {collection: gr.Dropdown(choices=names, value=name),
                sources: gr.Dropdown(choices=choices, value=[d for d in docs or [] if d in choices])}

    controls = [collection, top_k, alpha, sources, rerank]
    for control in controls:
        control.change(choose, inputs=[*controls, session], outputs=[session], api_name=False, queue=False)
    collection.change(lambda name: gr.Dropdown(choices=_document_choices(knowledge, name), value=[]),
                      inputs=[collection], outputs=[sources], api_name=False)
    refresh.click(refreshed, inputs=[collection, sources], outputs=[collection, sources], api_name=False)


def signed_in(state: ArenaSession, profile: gr.OAuthProfile | None) -> ArenaSession:
    """Put the Hugging Face user name (or None when signed out) on the session: it is stored as the rater."""
    state.user_name = profile.username if profile is not None else None
    return state


def build_arena_tab(arena: Arena, model_description: str, questions: list[str],
                    knowledge: KnowledgeBase | None = None, defaults: RetrievalOptions | None = None,
                    sign_in: bool = False, chosen_questions: Callable[[], list[str]] | None = None) -> None:
    """``sign_in`` shows "Sign in with Hugging Face" (OAuth on a Space); votes then carry the user name.
    ``chosen_questions()`` gives the evaluation's chosen set at the moment "next question" is pressed (the
    Questions tab can change it); ``questions`` is that set when the page was built."""
    # every column the arena can show, in its order (the base-model floor is for benches and batch reports)
    named_order = arena_columns([p.name for p in arena.pipelines])
    has_third = len(named_order) > 2
    session = gr.State(ArenaSession())
    with gr.Row():
        gr.Markdown(f"**Model:** {model_description}", elem_id="model-info")
        blind = gr.Checkbox(label="Blind mode (columns shuffled, identities revealed after the vote)",
                            value=False, elem_id="blind")
        third_on = gr.Checkbox(label="Third column: RAG + fine-tuned (retrieval and the adapter together)",
                               value=False, visible=has_third, elem_id="third-column")
        if sign_in:
            gr.LoginButton(elem_id="login", scale=0, min_width=220)
    headings, chats, statuses, columns = [], [], [], []
    with gr.Row(equal_height=False):
        for position, name in zip(POSITIONS, named_order, strict=False):
            with gr.Column(visible=name in TWO_COLUMNS) as column:
                headings.append(gr.Markdown(f"### {title(name)}", elem_id=f"{position}-title"))
                chats.append(gr.Chatbot(show_label=False, elem_id=position, height=380, buttons=["copy"]))
                statuses.append(gr.Markdown(elem_id=f"{position}-status"))
            columns.append(column)
    with gr.Row():
        prompt = gr.Textbox(
            placeholder="Ask about the documents, e.g. 'What is the battery life of the Tessel T4?'",
            show_label=False, scale=8, elem_id="prompt", max_lines=6,
        )
        send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
    with gr.Row():
        labels = vote_labels(False, TWO_COLUMNS)
        vote_buttons = {
            key: gr.Button(label, interactive=False, elem_id=f"vote-{key}", visible=key != "third")
            for key, label in labels.items()
        }
    with gr.Row():
        regenerate = gr.Button("🔁 Regenerate", elem_id="regenerate")
        next_question = gr.Button("🎲 Next question from the set", elem_id="next-question")
        clear = gr.Button("🧹 New conversation", elem_id="clear")
    notice = gr.Markdown(elem_id="notice")
    question_set = gr.State([])  # an uploaded set; empty: the evaluation's chosen set
    with gr.Accordion("Question set for labeling sessions", open=False, elem_id="question-set"):
        question_file = gr.File(label="Upload a question set: JSONL with a \"question\" field, CSV with a "
                                "\"question\" column, or one question per line (.txt)",
                                file_types=[".jsonl", ".csv", ".txt"], elem_id="question-file")
        question_set_info = gr.Markdown(f"Using the evaluation's question set: {len(questions)} questions.",
                                        elem_id="question-set-info")
    with gr.Accordion("Rate each answer (optional)", open=False, elem_id="ratings"):
        rating_inputs, rating_columns = [], []
        with gr.Row():
            for position, name in zip(POSITIONS, named_order, strict=False):
                with gr.Column(visible=name in TWO_COLUMNS) as rating_column:
                    rating_columns.append(rating_column)
                    score = gr.Radio([1, 2, 3, 4, 5], label=f"{position.title()} answer: score",
                                     elem_id=f"rate-{position}-score")
                    tags = gr.CheckboxGroup(list(RATING_TAGS), label="Tags", elem_id=f"rate-{position}-tags")
                    comment = gr.Textbox(label="Comment", lines=2, elem_id=f"rate-{position}-comment")
                    save = gr.Button(f"Save rating of the {position} answer", elem_id=f"rate-{position}-save")
                    rating_inputs.append((score, tags, comment, save))
    build_retrieval_controls(knowledge, defaults or RetrievalOptions(), session)
    with gr.Accordion("Retrieved context (the RAG columns)", open=True):
        context = gr.HTML(context_panel_html([]), elem_id="context")
    context_held = gr.State("")  # blind mode: the context panel, shown once the user has voted

    def votes_enabled(enabled: bool, state: ArenaSession | None = None) -> dict:
        """Updates for the vote buttons (built inside handlers, so no new buttons get rendered)."""
        order = (state.shown_order or list(state.columns)) if state else list(TWO_COLUMNS)
        texts = vote_labels(bool(state and state.blind), order)
        return {button: gr.Button(texts[key], interactive=enabled, visible=bool(texts[key]))
                for key, button in vote_buttons.items()}

    def ask(question: str, state: ArenaSession, profile: gr.OAuthProfile | None, *histories: list):
        """Stream every active column; ``histories`` are the chat components' contents, left to right."""
        signed_in(state, profile)
        try:
            question = arena.validate(question)
        except PromptError as exc:
            yield {notice: f"⚠️ {exc}", session: state}
            return
        exchange = ExchangeView(question, named_order, state.blind)
        for name, event in arena.ask(question, state):
            frame = exchange.apply(name, event, state.shown_order, voted=state.voted)
            update = {prompt: "", notice: frame.notice, session: state, **votes_enabled(frame.votes_open, state)}
            for position, chat in enumerate(frame.chats(histories)):
                update[chats[position]] = chat
                update[statuses[position]] = frame.statuses[position]
                update[headings[position]] = frame.titles[position]
            if frame.context is not None:
                update[context] = frame.context
            if frame.held is not None:
                update[context_held] = frame.held
            yield update

    def vote(key: str, state: ArenaSession, held_context: str, profile: gr.OAuthProfile | None) -> dict:
        signed_in(state, profile)
        try:
            choice = state.pipeline_at(POSITIONS.index(key)) if key in POSITIONS else key
            vote_id = arena.vote(state, choice)
        except FeedbackError as exc:
            return {notice: f"⚠️ {exc}"}
        update = {notice: vote_notice(vote_id, choice, state.blind, state.shown_order), session: state}
        if state.blind:
            update.update(dict(zip(headings, titles(state.shown_order, blind=True, voted=state.voted), strict=False)))
            update[context] = held_context
        return update

    def rate(position: int, state: ArenaSession, score: int | None, tags: list[str], comment: str,
             profile: gr.OAuthProfile | None) -> dict:
        signed_in(state, profile)
        try:
            rating_id = arena.rate(state, position, score=score, tags=tags or [], comment=comment or "")
        except FeedbackError as exc:
            return {notice: f"⚠️ {exc}"}
        return {notice: f"✅ Rating #{rating_id} of the {POSITIONS[position]} answer stored."}

    def chosen_columns(third: bool) -> tuple[str, ...]:
        return tuple(named_order) if third and has_third else TWO_COLUMNS

    def apply_mode(blind_mode: bool, third: bool, state: ArenaSession) -> dict:
        """A fresh conversation when the toggles differ from the session's mode, else nothing. Runs before every
        question as well as on each toggle: a question sent while a toggle's own event still waited in the queue
        went out on the session before it (blind ticked, the answers came named)."""
        if state.blind == blind_mode and tuple(state.columns) == chosen_columns(third):
            return {session: state}  # unchanged (an empty dict would read as one value)
        return new_conversation(blind_mode, third, state)

    def new_conversation(blind_mode: bool, third: bool, previous: ArenaSession) -> dict:
        """A fresh conversation with the chosen mode and columns; the same rater and retrieval settings."""
        chosen = chosen_columns(third)
        state = ArenaSession(session_id=previous.session_id, blind=blind_mode, columns=chosen,
                             retrieval=previous.retrieval, user_name=previous.user_name)
        update = {session: state, notice: "", context: context_panel_html([]), **votes_enabled(False, state)}
        shown_titles = titles(chosen, state.blind, state.voted)
        for position in range(len(named_order)):
            visible = position < len(chosen)
            update[chats[position]] = []
            update[statuses[position]] = ""
            update[columns[position]] = gr.Column(visible=visible)
            update[rating_columns[position]] = gr.Column(visible=visible)
            if visible:
                update[headings[position]] = shown_titles[position]
        return update

    reset_outputs = [session, notice, context, *chats, *statuses, *headings, *columns, *rating_columns,
                     *vote_buttons.values()]
    ask_outputs = [prompt, notice, session, *chats, *statuses, *headings, context, context_held,
                   *vote_buttons.values()]
    gr.on(  # the toggles as the user sees them, then the question (a program calling /ask skips the first step)
        [send.click, prompt.submit], apply_mode, inputs=[blind, third_on, session], outputs=reset_outputs,
        api_name=False, queue=False,
    ).then(ask, inputs=[prompt, session, *chats], outputs=ask_outputs,
           api_name="ask", concurrency_limit=arena.concurrent_requests, concurrency_id="generation")

    def ask_again(state: ArenaSession, profile: gr.OAuthProfile | None, *histories: list):
        """New answers to the last question; the earlier ones stay in the conversation and the store."""
        yield from ask(state.last_question or "", state, profile, *histories)

    regenerate.click(ask_again, inputs=[session, *chats], outputs=ask_outputs, api_name="regenerate",
                     concurrency_limit=arena.concurrent_requests, concurrency_id="generation")
    def use_question_file(path: str | None, current: list[str]) -> tuple[list[str], str]:
        if path is None:
            return [], f"Using the evaluation's question set: {len(chosen_pool())} questions."
        try:
            loaded = load_question_set(Path(path))
        except QuestionSetError as exc:
            return current, f"⚠️ {exc} Still using the previous {len(current)} questions."
        return loaded, f"Using the uploaded set: {len(loaded)} questions."

    question_file.change(use_question_file, inputs=[question_file, question_set],
                         outputs=[question_set, question_set_info], api_name=False)
    def chosen_pool() -> list[str]:
        return chosen_questions() if chosen_questions is not None else list(questions)

    def pick_next(uploaded: list[str]) -> str:
        pool = uploaded or chosen_pool()
        return random.choice(pool) if pool else ""

    next_question.click(pick_next, inputs=[question_set], outputs=[prompt], api_name="next_question")
    vote_outputs = [notice, session, *headings, context]
    def vote_handler(key: str):
        def cast(state: ArenaSession, held: str, profile: gr.OAuthProfile | None = None) -> dict:
            return vote(key, state, held, profile)
        return cast

    def rate_handler(position: int):
        def save_rating(state: ArenaSession, score: int | None, tags: list[str], comment: str,
                        profile: gr.OAuthProfile | None = None) -> dict:
            return rate(position, state, score, tags, comment, profile)
        return save_rating

    for key, button in vote_buttons.items():
        button.click(vote_handler(key), inputs=[session, context_held], outputs=vote_outputs, api_name=f"vote_{key}")
    for position, (score, tags, comment, save) in enumerate(rating_inputs):
        save.click(rate_handler(position), inputs=[session, score, tags, comment],
                   outputs=[notice], api_name=f"rate_{POSITIONS[position]}")
    clear.click(new_conversation, inputs=[blind, third_on, session], outputs=reset_outputs, api_name=False)
    for toggle in (blind, third_on):  # nothing to do when a question sent right after has already applied it
        toggle.change(apply_mode, inputs=[blind, third_on, session], outputs=reset_outputs, api_name=False)
