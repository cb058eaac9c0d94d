"""Turn pipeline results into display text. Every document or model string is escaped: it is untrusted."""

from __future__ import annotations

import html
import re

from pipelines.common.events import RetrievedChunk, Timings

_TERM = re.compile(r"[\w-]{3,}", re.UNICODE)
_CITATION = re.compile(r"\[(\d{1,2})\]")
STOPWORDS = frozenset((
    "the", "and", "for", "are", "was", "were", "what", "which", "who", "whom", "whose", "when", "where", "why",
    "how", "does", "did", "has", "have", "had", "with", "from", "that", "this", "these", "those", "into", "about",
    "over", "under", "than", "then", "them", "they", "their", "there", "its", "his", "her", "our", "your", "you",
    "can", "could", "would", "should", "will", "shall", "may", "might", "must", "not", "any", "all", "each", "per",
    "one", "two", "use", "used", "using",
))


def query_terms(query: str) -> list[str]:
    """Words of the question worth highlighting: three letters or more, not stopwords, longest first."""
    terms = {t.lower() for t in _TERM.findall(query or "") if t.lower() not in STOPWORDS}
    return sorted(terms, key=lambda t: (-len(t), t))


def highlight(text: str, terms: list[str]) -> str:
    """Escape ``text`` and wrap the query terms in ``<mark>``; matching runs on the raw text, so no entity breaks."""
    if not terms:
        return html.escape(text)
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    parts, last = [], 0
    for match in pattern.finditer(text):
        parts.append(html.escape(text[last : match.start()]))
        parts.append(f"<mark>{html.escape(match.group(0))}</mark>")
        last = match.end()
    parts.append(html.escape(text[last:]))
    return "".join(parts)


def _card(chunk: RetrievedChunk, terms: list[str]) -> str:
    location = f' <span class="ctx-location">{html.escape(chunk.location)}</span>' if chunk.location else ""
    score = f"hybrid score {chunk.score:.3f}"
    if chunk.rerank_score is not None:
        score += f" · rerank {chunk.rerank_score:.3f}"
    around = ""
    if chunk.before or chunk.after:
        around = (
            '<details class="ctx-around"><summary>Show in document</summary>'
            f'<div class="ctx-text ctx-dim">{html.escape(chunk.before)}</div>'
            f'<div class="ctx-text ctx-focus">{highlight(chunk.text, terms)}</div>'
            f'<div class="ctx-text ctx-dim">{html.escape(chunk.after)}</div></details>'
        )
    return (
        f'<div class="ctx-card" id="ctx-{chunk.rank}">'
        f'<div class="ctx-head"><span class="ctx-rank">[{chunk.rank}]</span> '
        f'<span class="ctx-source">{html.escape(chunk.source)}</span>{location} '
        f'<span class="ctx-score">{score}</span></div>'
        f'<div class="ctx-text">{highlight(chunk.text, terms)}</div>{around}'
        "</div>"
    )


def context_panel_html(chunks: list[RetrievedChunk], error: str | None = None, query: str = "") -> str:
    """Cards for the retrieved chunks: rank, source with page/heading, scores, the text with the
    query terms marked, and the neighbouring text behind 'Show in document'. All of it escaped."""
    if error:
        return f'<div class="ctx-empty">{html.escape(error)}</div>'
    if not chunks:
        return '<div class="ctx-empty">Retrieved passages appear here.</div>'
    terms = query_terms(query)
    return '<div class="ctx-list">' + "".join(_card(chunk, terms) for chunk in chunks) + "</div>"


def citations_line(answer: str, chunks: list[RetrievedChunk]) -> str:
    """Which numbered passages the answer cites, named as in the context panel (Markdown, escaped)."""
    if not chunks:
        return ""
    by_rank = {chunk.rank: chunk for chunk in chunks}
    cited = [int(n) for n in dict.fromkeys(_CITATION.findall(answer or "")) if int(n) in by_rank]

    def name(rank: int) -> str:
        chunk = by_rank[rank]
        where = f", {chunk.location}" if chunk.location else ""
        return f"[{rank}] {html.escape(chunk.source)}{html.escape(where)}"

    if cited:
        return "📎 Cites " + " · ".join(name(rank) for rank in cited)
    return "📎 No [n] citation in the answer; it was given " + " · ".join(name(r) for r in sorted(by_rank))


def status_line(
    timings: Timings | None, *, running: bool = False, error: str | None = None, hide_retrieval: bool = False
) -> str:
    if error:
        return f"⚠️ {error}"
    if running:
        return "⏳ generating…"
    if timings is None:
        return ""
    parts = []
    if timings.retrieval_s is not None and not hide_retrieval:
        parts.append(f"retrieval {timings.retrieval_s * 1000:.0f} ms")
    if timings.first_token_s is not None:
        parts.append(f"first token {timings.first_token_s:.2f} s")
    parts.append(f"total {timings.total_s:.2f} s")
    parts.append(f"{timings.tokens} tokens")
    return " · ".join(parts)


def size_label(size_bytes: int) -> str:
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size_bytes >= scale:
            return f"{size_bytes / scale:.1f} {unit}"
    return f"{size_bytes} B"


CSS = """
.ctx-list { display: flex; flex-direction: column; gap: 6px; }
.ctx-card { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 6px 8px; }
.ctx-head { font-size: 0.85em; margin-bottom: 2px; }
.ctx-rank { font-weight: 700; }
.ctx-source { font-family: var(--font-mono); }
.ctx-location { opacity: 0.8; margin-left: 4px; }
.ctx-score { float: right; opacity: 0.7; }
.ctx-text { font-size: 0.85em; white-space: pre-wrap; }
.ctx-text mark { background: #fde68a; color: inherit; padding: 0 1px; border-radius: 2px; }
.ctx-around summary { cursor: pointer; font-size: 0.8em; opacity: 0.8; margin-top: 4px; }
.ctx-dim { opacity: 0.6; }
.ctx-focus { border-left: 3px solid var(--color-accent); padding-left: 6px; margin: 4px 0; }
.ctx-empty { opacity: 0.7; font-size: 0.9em; }
"""
