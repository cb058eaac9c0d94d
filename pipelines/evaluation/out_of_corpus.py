"""Out-of-corpus questions: in the documents' domain, about what they never state, to test abstention.

Each template asks for something organisations and the things they run usually have (a booking email, a Wi-Fi
password, the website's designer, last year's revenue) about a name the documents use often, so the question
reads as belonging to them (a template about a place is used for up to five places when more questions are asked
for than there are templates). A template is used only when none of the words its answer depends on occurs in the
corpus (``"email"`` for the email address: a corpus that mentions an email might answer it), and, when a
retriever is given, only when no passage it returns for the question holds an answer candidate (the template's
own pattern, e.g. an address with an ``@``, else one of its words).

Example::

    questions, dropped = out_of_corpus_questions(documents_text, 6, seed=0)
    questions[0].question   # "What is the email address for bookings at the Varrowind Ferrymen's Cooperative?"
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pipelines.evaluation.question_facts import NAME, fact_spans, is_noun

Retrieve = Callable[[str], list[str]]


@dataclass(frozen=True)
class Template:
    """A question about ``{org}`` (the corpus's most named organisation) or ``{place}`` (another name it uses
    often), the words its answer depends on, and what an answer to it looks like in a passage."""

    text: str
    words: tuple[str, ...]
    candidate: str = ""  # a regular expression; "" means: any of ``words``


TEMPLATES: tuple[Template, ...] = (
    Template("What is the email address for bookings at {org}?", ("email", "e-mail"), r"[\w.+-]+@[\w-]+\.\w+"),
    Template("What is the Wi-Fi password at {place}?", ("wi-fi", "wifi", "password")),
    Template("Which company designed the website of {org}?", ("website", "web", "designed")),
    Template("What was the total revenue of {org} last year?", ("revenue", "revenues")),
    Template("What salary does the head of {org} receive?", ("salary", "salaries", "paid")),
    Template("Which football club does {org} sponsor?", ("football", "sponsor", "sponsors", "sponsorship")),
    Template("What is the name of the cat that lives at {place}?", ("cat", "cats")),
    Template("Which film was shot at {place}?", ("film", "films", "movie", "filmed")),
    Template("On which stock exchange is {org} listed?", ("stock", "exchange", "shares", "listed")),
    Template("Which accounting firm audits the books of {org}?", ("audit", "audits", "auditor", "auditors")),
    Template("What is the VAT number of {org}?", ("vat",)),
    Template("How many followers does {org} have on social media?", ("followers", "social", "media")),
    Template("Which mobile app does {org} use for its tickets?", ("app", "apps", "mobile", "smartphone")),
    Template("Which insurance company insures {org}?", ("insurance", "insurer", "insures", "insured")),
    Template("Which architect designed the buildings at {place}?", ("architect", "architects", "designed")),
    Template("What is the name of the newsletter {org} sends out?", ("newsletter", "newsletters")),
    Template("Which charity does {org} donate to?", ("charity", "charities", "donate", "donation", "donations")),
    Template("What is the name of the mascot of {org}?", ("mascot",)),
    Template("Which software does {org} use for its accounts?", ("software", "computer", "computers")),
    Template("Which law firm represents {org}?", ("law", "lawyer", "lawyers", "solicitor", "legal")),
    Template("Which hotel chain has a partnership with {org}?", ("hotel", "hotels", "partnership")),
    Template("What is the name of the podcast produced by {org}?", ("podcast", "podcasts")),
    Template("What is the annual marketing budget of {org}?", ("marketing", "budget", "advertising")),
    Template("Which brand of computers does {org} use in its offices?", ("brand", "computers", "computer")),
    Template("What is the postcode of {place}?", ("postcode", "postal", "zip")),
    Template("Which celebrity opened {place}?", ("celebrity", "famous", "opened")),
    # More templates since the default set grew to 300 (a 15% share is then about 35 questions, more than the first
    # 25 templates gave on a corpus that uses some of their words).
    Template("Who painted the mural at {place}?", ("mural", "murals", "painted", "painting")),
    Template("What is the name of the café at {place}?", ("café", "cafe", "cafés", "cafes", "coffee")),
    Template("How many parking spaces are there at {place}?", ("parking", "spaces", "car")),
    Template("What colour is the logo of {org}?", ("logo", "logos", "colour", "color")),
    Template("Which radio station sponsors {org}?", ("radio", "station", "sponsor", "sponsors")),
    Template("How many trees were planted at {place} last year?", ("tree", "trees", "planted", "planting")),
    Template("What is the name of the choir connected with {org}?", ("choir", "choirs", "singing")),
    Template("Which electricity supplier provides the power at {place}?", ("electricity", "supplier", "energy")),
    Template("Which magazine reviewed {org} last year?", ("magazine", "magazines", "review", "reviewed")),
    Template("What is the name of the dog that lives at {place}?", ("dog", "dogs")),
    Template("Which university does {org} run research projects with?", ("university", "universities", "research")),
    Template("Which television series was filmed at {place}?", ("television", "tv", "series", "episode", "filmed")),
    Template("What is the name of the pub nearest to {place}?", ("pub", "pubs", "inn", "tavern")),
    Template("Which beekeeper keeps hives at {place}?", ("bee", "bees", "hive", "hives", "beekeeper", "honey")),
    Template("Which artist painted the portrait of the founder of {org}?", ("portrait", "portraits", "artist")),
    Template("Which chess club meets at {place}?", ("chess",)),
    Template("Which poet wrote a poem about {place}?", ("poet", "poets", "poem", "poems", "poetry")),
    Template("What is the name of the allotment society next to {place}?", ("allotment", "allotments")),
    Template("What was the name of the first horse that worked at {place}?", ("horse", "horses", "pony")),
)


@dataclass(frozen=True)
class OutOfCorpusQuestion:
    """A question the documents do not answer, with the words it was checked on."""

    question: str
    words: tuple[str, ...]


def corpus_words(text: str) -> frozenset[str]:
    """Every word of the corpus, lower case ("wi-fi" kept whole, and as "wi" and "fi")."""
    words = set(re.findall(r"[\w-]+", text.casefold()))
    return frozenset(words | {part for word in words for part in word.split("-")})


def _absent(words: Sequence[str], vocabulary: frozenset[str]) -> bool:
    return not any(word in vocabulary or f"{word}s" in vocabulary for word in words)


_ORGANISATIONS = ("cooperative", "company", "railway", "society", "trust", "council", "association", "authority",
                  "group", "institute", "university", "agency", "club", "guild", "ltd", "inc", "corporation")
#: Last words of names that are bodies, meetings or stretches of land and track, not a place with a door (a Wi-Fi
#: password "at the Annual Assembly" or "at Gorlen Viaduct" reads oddly).
_NOT_PLACES = frozenset([*_ORGANISATIONS, "assembly", "board", "stewards", "alliance", "tramway", "committee",
                         "festival", "meeting", "service", "ferry", "line", "route", "viaduct", "tunnel", "alp",
                         "highlands", "hills", "fells", "mountains", "river", "valley", "sea", "lake", "forest",
                         "card", "pass", "ticket", "rover", "charter", "manual", "act", "rules", "chest", "works",
                         "yard", "survey", "exchange", "house"])


def domain_names(texts: Sequence[str]) -> tuple[str, list[str]]:
    """The organisation (the multi-word name the corpus uses most, one that ends like an organisation's if any)
    and the places it names most: names after "at" that do not end like a body, a meeting or a stretch of land
    ("the Annual Assembly", "Gorlen Viaduct" are not places a question about a Wi-Fi password fits)."""
    counts: Counter[str] = Counter()
    places: Counter[str] = Counter()
    for text in texts:
        for sentence in re.split(r"(?<=[.!?])\s+|\n", text):
            for span in fact_spans(sentence):
                if span.kind == NAME and " " in span.text:
                    counts[span.text] += 1
                    last = span.text.split()[-1].lower()
                    modifies = re.match(r"\s+([a-z]+)\b", sentence[span.start + len(span.text):])
                    if re.search(r"\bat\s+(?:the\s+)?$", sentence[: span.start]) and not re.search(
                            r" (?:of|and) ", span.text) and last not in _NOT_PLACES and not (
                            modifies and is_noun(modifies.group(1))):  # "the Brisk and Hallowell yard"
                        places[span.text] += 1
    ranked = [name for name, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
    if not ranked:
        return "the organisation", ["the main site"]
    org = next((name for name in ranked if name.split()[-1].lower() in _ORGANISATIONS), ranked[0])
    named = [name for name, _ in sorted(places.items(), key=lambda item: (-item[1], item[0]))]
    return org, [name for name in named[:10] if name not in org and org not in name] or [org]


def _with_article(name: str) -> str:
    """"Varrowind Ferrymen's Cooperative" -> "the Varrowind Ferrymen's Cooperative" (a possessive or plural-looking
    organisation reads better with "the"); names of one person or place are left as they are."""
    last = name.split()[-1].lower()
    if last in ("cooperative", "company", "railway", "board", "society", "trust", "council", "association",
                "authority", "service", "group", "institute", "university", "office", "agency", "club"):
        return f"the {name}"
    return name


def out_of_corpus_questions(texts: Sequence[str], count: int, *, seed: int = 0, retrieve: Retrieve | None = None
                            ) -> tuple[list[OutOfCorpusQuestion], Counter[str]]:
    """Up to ``count`` out-of-corpus questions for the corpus ``texts`` and the templates dropped, by reason."""
    vocabulary = corpus_words("\n".join(texts))
    org, places = domain_names(texts)
    order = list(TEMPLATES)
    random.Random(f"out-of-corpus:{seed}").shuffle(order)
    dropped: Counter[str] = Counter()
    questions: list[OutOfCorpusQuestion] = []
    fitting = []
    for template in order:
        if _absent(template.words, vocabulary):
            fitting.append(template)
        else:
            dropped["out-of-corpus: the corpus uses a word its answer depends on"] += 1
    # First every fitting template once; then the templates about a place again, for the next places.
    again = [template for template in fitting if "{place}" in template.text]
    passes = [(template, 0) for template in fitting] + [
        (template, turn) for turn in range(1, min(len(places), 5)) for template in again]
    for number, (template, turn) in enumerate(passes):
        if len(questions) >= count:
            break
        place = places[(number + turn) % len(places)]
        question = template.text.format(org=_with_article(org), place=_with_article(place))
        if any(q.question == question for q in questions):
            continue
        if retrieve is not None:
            pattern = re.compile(template.candidate or r"\b(?:" + "|".join(map(re.escape, template.words)) + r")\b",
                                 re.IGNORECASE)
            if any(pattern.search(passage) for passage in retrieve(question)):
                dropped["out-of-corpus: a retrieved passage holds an answer candidate"] += 1
                continue
        questions.append(OutOfCorpusQuestion(question, template.words))
    return questions, dropped
