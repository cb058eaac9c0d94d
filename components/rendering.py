"""Turn pipeline results into display text. Every document or model string is escaped: it is untrusted."""

from __future__ import annotations

import html

from pipelines.events import RetrievedChunk, Timings


def context_panel_html(chunks: list[RetrievedChunk], error: str | None = None) -> str:
    """Cards for the retrieved chunks: rank, source, hybrid score and the (escaped) text."""
    if error:
        return f'<div class="ctx-empty">{html.escape(error)}</div>'
    if not chunks:
        return '<div class="ctx-empty">Retrieved passages appear here.</div>'
    cards = []
    for chunk in chunks:
        cards.append(
            '<div class="ctx-card">'
            f'<div class="ctx-head"><span class="ctx-rank">[{chunk.rank}]</span> '
            f'<span class="ctx-source">{html.escape(chunk.source)}</span> '
            f'<span class="ctx-score">hybrid score {chunk.score:.3f}</span></div>'
            f'<div class="ctx-text">{html.escape(chunk.text)}</div>'
            "</div>"
        )
    return '<div class="ctx-list">' + "".join(cards) + "</div>"


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


CSS = """
.ctx-list { display: flex; flex-direction: column; gap: 6px; }
.ctx-card { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 6px 8px; }
.ctx-head { font-size: 0.85em; margin-bottom: 2px; }
.ctx-rank { font-weight: 700; }
.ctx-source { font-family: var(--font-mono); }
.ctx-score { float: right; opacity: 0.7; }
.ctx-text { font-size: 0.85em; white-space: pre-wrap; }
.ctx-empty { opacity: 0.7; font-size: 0.9em; }
"""
