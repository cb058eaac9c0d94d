"""LLM-judged ragas metrics: faithfulness, response relevancy, context precision/recall, answer correctness.

The judge is any :class:`~pipelines.generation.chat_models.ChatModel`: an OpenAI-compatible endpoint (vLLM, TGI,
Ollama, a hosted API) or the arena's own base model in-process. Each (answer, metric) is scored on its
own, so a judge that times out or writes unparsable output fails that one metric, recorded with the
reason, never as a zero, and never takes the other metrics down with it.

Example::

    judge = LLMJudge(OpenAICompatibleChatModel("http://gpu:8000/v1", "Qwen/Qwen2.5-7B-Instruct"), embeddings)
    rows = judge.score_answer("rag", sample)
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

from pipelines.generation.chat_models import ChatModel

log = logging.getLogger(__name__)

#: Judged metrics, in the order they are shown, and what each one needs beyond question and answer:
#: "context" is the exchange's retrieved passages (the fine-tuned answer's groundedness is judged against
#: the RAG column's passages); "retrieval" means the answer's own pipeline retrieved them.
JUDGED_METRICS: dict[str, str] = {
    "faithfulness": "context",
    "answer_relevancy": "",
    "llm_context_precision_with_reference": "retrieval+reference",
    "llm_context_precision_without_reference": "retrieval",
    "context_recall": "retrieval+reference",
    "answer_correctness": "reference",
}


def ragas_llm(chat: ChatModel, max_new_tokens: int):
    """Adapt a :class:`ChatModel` to ragas' ``BaseRagasLLM`` (ragas sends one rendered prompt per call).

    Set ``deadline`` (``time.monotonic()`` value) before a metric: every judge call of that metric
    (ragas adds format-fixing retries) shares it, so one metric never runs past its time budget.
    """
    from langchain_core.outputs import Generation, LLMResult
    from ragas.llms.base import BaseRagasLLM

    class ChatModelRagasLLM(BaseRagasLLM):
        deadline: float | None = None

        def generate_text(self, prompt, n: int = 1, temperature: float | None = 0.01, stop=None,
                          callbacks=None) -> LLMResult:
            remaining = None if self.deadline is None else self.deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError
            conversation = [{"role": "user", "content": prompt.to_string()}]
            replies = chat.complete([conversation] * n, max_new_tokens, timeout_s=remaining)
            return LLMResult(generations=[[Generation(text=reply) for reply in replies]])

        async def agenerate_text(self, prompt, n: int = 1, temperature: float | None = 0.01, stop=None,
                                 callbacks=None) -> LLMResult:
            # In a thread, so the metric's timeout can stop waiting for a judge that hangs.
            return await asyncio.to_thread(self.generate_text, prompt, n, temperature, stop, callbacks)

        def is_finished(self, response: LLMResult) -> bool:
            return True

    from ragas.run_config import RunConfig

    llm = ChatModelRagasLLM()
    # One attempt per call: ragas' default retries an error 10 times with back-off (minutes for a judge
    # that is down); the OpenAI client retries transient HTTP errors itself.
    llm.set_run_config(RunConfig(max_retries=1, max_wait=1))
    return llm


def _failure_reason(exc: BaseException) -> str:
    if type(exc).__name__ == "RagasOutputParserException":
        return ("RagasOutputParserException: the judge's reply was not the JSON ragas asked for, "
                "even after ragas' format-fixing retries")
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


class LLMJudge:
    """Scores one answer with every judged metric its inputs allow; one row per metric, always."""

    def __init__(self, chat: ChatModel, embeddings, max_new_tokens: int = 512, timeout_s: float = 180.0) -> None:
        self.chat = chat
        self.name = chat.name
        self.timeout_s = timeout_s
        self._llm = ragas_llm(chat, max_new_tokens)
        self._embeddings = embeddings

    def _metric(self, name: str):
        from ragas.metrics import (
            AnswerCorrectness,
            AnswerSimilarity,
            Faithfulness,
            LLMContextPrecisionWithoutReference,
            LLMContextPrecisionWithReference,
            LLMContextRecall,
            ResponseRelevancy,
        )

        llm, embeddings = self._llm, self._embeddings
        build = {
            "faithfulness": lambda: Faithfulness(llm=llm),
            # One generated question, not three: each is a judge call, and the mean of three adds little here.
            "answer_relevancy": lambda: ResponseRelevancy(llm=llm, embeddings=embeddings, strictness=1),
            "llm_context_precision_with_reference": lambda: LLMContextPrecisionWithReference(llm=llm),
            "llm_context_precision_without_reference": lambda: LLMContextPrecisionWithoutReference(llm=llm),
            "context_recall": lambda: LLMContextRecall(llm=llm),
            # Its similarity half is built by ``init()``, which only ``ragas.evaluate`` calls (and which would
            # reset the judge's one-attempt RunConfig): built here, or every score is "AnswerSimilarity must be set".
            "answer_correctness": lambda: AnswerCorrectness(llm=llm, embeddings=embeddings,
                                                            answer_similarity=AnswerSimilarity(embeddings=embeddings)),
        }
        return build[name]()

    def applicable(self, has_context: bool, retrieved: bool, has_reference: bool) -> dict[str, str | None]:
        """Each metric that concerns this answer → None when it applies, else why it does not.

        Context precision is judged against the reference when there is one, reference-free otherwise.
        """
        variant = "llm_context_precision_without_reference" if has_reference else \
            "llm_context_precision_with_reference"
        out: dict[str, str | None] = {}
        for name, needs in JUDGED_METRICS.items():
            if name == variant:
                continue
            if "context" in needs and not has_context:
                out[name] = "no retrieved context in this exchange to judge against"
            elif "retrieval" in needs and not retrieved:
                out[name] = "this pipeline retrieves no context"
            elif "reference" in needs and not has_reference:
                out[name] = "needs a reference answer (the question is not in the question set)"
            else:
                out[name] = None
        return out

    def score_answer(self, pipeline: str, sample, retrieved: bool) -> list[dict]:
        """Rows for one answer: a value in [0, 1], ``failed`` with the judge's error, or ``n/a`` with why.

        ``sample`` is a ragas ``SingleTurnSample``; ``retrieved``: its contexts are this pipeline's own.
        """
        has_context, has_reference = bool(sample.retrieved_contexts), bool(sample.reference)
        return [
            self._score_one(pipeline, name, sample) if reason is None else
            {"pipeline": pipeline, "metric": name, "value": None, "status": "n/a", "reason": reason}
            for name, reason in self.applicable(has_context, retrieved, has_reference).items()
        ]

    def _score_one(self, pipeline: str, name: str, sample) -> dict:
        row = {"pipeline": pipeline, "metric": name, "value": None, "status": "failed", "reason": None}
        self._llm.deadline = time.monotonic() + self.timeout_s
        try:
            value = asyncio.run(self._metric(name).single_turn_ascore(sample, timeout=self.timeout_s + 30))
        except TimeoutError:
            row["reason"] = f"the judge took longer than {self.timeout_s:.0f} s"
            return row
        except Exception as exc:  # the judge's failure is this metric's result, with its reason
            log.info("judge %s failed on %s/%s: %s", self.name, pipeline, name, exc)
            row["reason"] = _failure_reason(exc)
            return row
        if value is None or (isinstance(value, float) and math.isnan(value)):
            row["reason"] = "the judge's output gave no score (ragas returned NaN)"
        elif not 0.0 <= float(value) <= 1.0:
            row["reason"] = f"score {value!r} is outside [0, 1]"
        else:
            row.update(value=float(value), status="ok")
        return row
