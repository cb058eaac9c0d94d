"""The context panel: inert document text, highlighted query terms, locations and citations."""

from components.rendering import citations_line, context_panel_html, highlight, query_terms
from pipelines.common.events import RetrievedChunk


def chunk(rank: int, text: str, source: str = "a.md", **kw) -> RetrievedChunk:
    return RetrievedChunk(text, source, rank - 1, 0.5, rank, **kw)


def test_query_terms_skip_stopwords_and_short_words():
    assert query_terms("What is the battery life of the T4?") == ["battery", "life"]


def test_highlight_escapes_everything_and_never_breaks_entities():
    out = highlight("<b>amp</b> & battery <script>x</script>", ["amp", "battery"])
    assert out == ("&lt;b&gt;<mark>amp</mark>&lt;/b&gt; &amp; <mark>battery</mark> "
                   "&lt;script&gt;x&lt;/script&gt;")


def test_panel_shows_location_scores_and_surroundings_as_inert_text():
    hits = [chunk(1, "Battery lasts 31 months", "<img src=x onerror=alert(1)>.pdf", page=3, heading="Power",
                  before="before <script>alert(2)</script>", after="after", rerank_score=0.9)]
    html = context_panel_html(hits, query="battery life")
    assert "<img" not in html and "<script>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;.pdf" in html and "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "p. 3, § Power" in html and "<mark>Battery</mark>" in html
    assert "hybrid score 0.500 · rerank 0.900" in html and "Show in document" in html


def test_citations_name_the_cited_passages_or_all_given_ones():
    hits = [chunk(1, "x", "a.md"), chunk(2, "y", "b.pdf", page=2)]
    assert citations_line("The T4 lasts 31 months [2].", hits) == "📎 Cites [2] b.pdf, p. 2"
    assert citations_line("No citation here [7].", hits).startswith("📎 No [n] citation")
    assert citations_line("anything", []) == ""
