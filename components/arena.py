"""The arena tab: one prompt box, the RAG and fine-tuned columns streaming side by side, and the vote bar."""

from __future__ import annotations

import random

import gradio as gr

from components.rendering import context_panel_html, status_line
from pipelines.arena import Arena, ArenaSession, PromptError
from pipelines.events import ContextEvent, DoneEvent, ErrorEvent, RecordedEvent, TokenEvent
from pipelines.feedback import FeedbackError

VOTES = {
    "rag": "👈 RAG is better",
    "finetuned": "👉 Fine-tuned is better",
    "tie": "🤝 Tie",
    "both_bad": "👎 Both are bad",
}


def build_arena_tab(arena: Arena, model_description: str, questions: list[str]) -> None:
    session = gr.State(ArenaSession())
    gr.Markdown(f"**Model:** {model_description}", elem_id="model-info")
    with gr.Row(equal_height=False):
        with gr.Column():
            gr.Markdown("### RAG · Weaviate hybrid retrieval + base model")
            rag_chat = gr.Chatbot(label="RAG", elem_id="rag", height=380, buttons=["copy"])
            rag_status = gr.Markdown(elem_id="rag-status")
        with gr.Column():
            gr.Markdown("### Fine-tuned · QLoRA adapter, no retrieval")
            ft_chat = gr.Chatbot(label="Fine-tuned", elem_id="ft", height=380, buttons=["copy"])
            ft_status = gr.Markdown(elem_id="ft-status")
    with gr.Row():
        prompt = gr.Textbox(
            placeholder="Ask about the documents, e.g. 'What is the battery life of the Tessel T4?'",
            show_label=False, scale=8, elem_id="prompt", max_lines=6,
        )
        send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
    with gr.Row():
        vote_buttons = {
            choice: gr.Button(label, interactive=False, elem_id=f"vote-{choice}") for choice, label in VOTES.items()
        }
    with gr.Row():
        regenerate = gr.Button("🔁 Regenerate", elem_id="regenerate")
        next_question = gr.Button("🎲 Next question from the set", elem_id="next-question",
                                  interactive=bool(questions))
        clear = gr.Button("🧹 New conversation", elem_id="clear")
    notice = gr.Markdown(elem_id="notice")
    with gr.Accordion("Retrieved context (RAG column)", open=True):
        context = gr.HTML(context_panel_html([]), elem_id="context")

    def votes_enabled(enabled: bool) -> dict:
        """Updates for the vote buttons (built inside handlers, so no new buttons get rendered)."""
        return {button: gr.Button(interactive=enabled) for button in vote_buttons.values()}

    columns = {"rag": (rag_chat, rag_status), "finetuned": (ft_chat, ft_status)}

    def ask(question: str, state: ArenaSession, rag_history: list, ft_history: list):
        try:
            question = arena.validate(question)
        except PromptError as exc:
            yield {notice: f"⚠️ {exc}", session: state}
            return
        chats = {"rag": [*rag_history, {"role": "user", "content": question}],
                 "finetuned": [*ft_history, {"role": "user", "content": question}]}
        answers = {"rag": "", "finetuned": ""}
        statuses = {"rag": status_line(None, running=True), "finetuned": status_line(None, running=True)}

        def view(extra: dict | None = None) -> dict:
            update = {prompt: "", notice: "", session: state, **votes_enabled(False)}
            for name, (chat, status) in columns.items():
                shown = chats[name] + ([{"role": "assistant", "content": answers[name]}] if answers[name] else [])
                update[chat] = shown
                update[status] = statuses[name]
            update.update(extra or {})
            return update

        yield view({context: context_panel_html([])})
        for name, event in arena.ask(question, state):
            if isinstance(event, ContextEvent):
                yield view({context: context_panel_html(event.chunks)})
            elif isinstance(event, TokenEvent):
                answers[name] += event.text
                yield view()
            elif isinstance(event, DoneEvent):
                answers[name] = event.answer or "(empty answer)"
                statuses[name] = status_line(event.timings)
                yield view()
            elif isinstance(event, ErrorEvent):
                answers[name] = f"⚠️ {event.message}"
                statuses[name] = status_line(None, error=event.message)
                extra = {context: context_panel_html([], error=event.message)} if name == "rag" else {}
                yield view(extra)
            elif isinstance(event, RecordedEvent):
                yield view({notice: "Answers recorded. Which one is better?", **votes_enabled(True)})

    def vote(choice: str, state: ArenaSession):
        try:
            vote_id = arena.vote(state, choice)
        except FeedbackError as exc:
            return {notice: f"⚠️ {exc}"}
        return {notice: f"✅ Vote #{vote_id} stored: {VOTES[choice]}. RAGAS scores appear in the Evaluation tab."}

    def new_conversation():
        return {session: ArenaSession(), rag_chat: [], ft_chat: [], rag_status: "", ft_status: "",
                notice: "", context: context_panel_html([]), **votes_enabled(False)}

    ask_outputs = [prompt, notice, session, rag_chat, ft_chat, rag_status, ft_status, context,
                   *vote_buttons.values()]
    gr.on(
        [send.click, prompt.submit], ask, inputs=[prompt, session, rag_chat, ft_chat], outputs=ask_outputs,
        api_name="ask", concurrency_limit=1, concurrency_id="generation",
    )
    def ask_again(state: ArenaSession, rag_history: list, ft_history: list):
        """New answers to the last question; the earlier ones stay in the conversation and the store."""
        yield from ask(state.last_question or "", state, rag_history, ft_history)

    regenerate.click(ask_again, inputs=[session, rag_chat, ft_chat], outputs=ask_outputs, api_name="regenerate",
                     concurrency_limit=1, concurrency_id="generation")
    next_question.click(lambda: random.choice(questions), outputs=[prompt], api_name="next_question")
    for choice, button in vote_buttons.items():
        button.click(lambda state, c=choice: vote(c, state), inputs=[session], outputs=[notice],
                     api_name=f"vote_{choice}")
    clear.click(new_conversation, outputs=[session, rag_chat, ft_chat, rag_status, ft_status, notice, context,
                                           *vote_buttons.values()], api_name=False)
