"""Creating a collection: bad names (empty, injection-like, path-like, too long, non-ASCII) and taken names get
a clear refusal and nothing is created. The name rule as a unit test; the knowledge base and the Knowledge tab's
Create button on the real Weaviate server."""

from __future__ import annotations

import pytest

from components.knowledge import build_knowledge_tab
from pipelines.common.auth import AdminAuth
from pipelines.knowledge.base import KnowledgeError
from pipelines.knowledge.store import MAX_COLLECTION_NAME, collection_name
from tests.tab_handlers import tab_handlers, value_with_id

BAD_NAMES = {
    "empty": "",
    "blank": "   ",
    "injection": "Docs'); DROP TABLE votes;--",
    "graphql": "Docs{ Get { Secret } }",
    "path": "../../etc/passwd",
    "slash": "Docs/Private",
    "space": "My Docs",
    "digit first": "9Lives",
    "underscore first": "_Hidden",
    "non-ASCII letter": "Ωmega",
    "superscript digit": "Docs²",
    "too long": "D" * (MAX_COLLECTION_NAME + 1),
}


@pytest.mark.parametrize("name", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
def test_bad_names_are_refused_by_the_name_rule(name: str):
    with pytest.raises(ValueError, match="Collection names"):
        collection_name(name.strip())


def test_good_names_are_stored_capitalised():
    assert collection_name("harbourDocs") == "HarbourDocs"
    assert collection_name("Docs_2") == "Docs_2"
    assert collection_name("d" * MAX_COLLECTION_NAME) == "D" + "d" * (MAX_COLLECTION_NAME - 1)  # the longest


def test_bad_and_taken_names_create_nothing(knowledge_base):
    client = knowledge_base.client
    before = set(client.collections.list_all(simple=True))
    for label, name in BAD_NAMES.items():
        with pytest.raises(KnowledgeError, match="name") as refused:
            knowledge_base.create_collection(name)
        assert len(str(refused.value)) < 200, label  # a sentence, not the whole name or a server dump
    default = knowledge_base.default_collection
    for taken in (default, default.lower(), default.upper(), f"  {default}  "):
        with pytest.raises(KnowledgeError, match=f"{default} exists already"):
            knowledge_base.create_collection(taken)
    assert set(client.collections.list_all(simple=True)) == before
    assert knowledge_base.store(default).count() > 0  # the taken collection was left as it was


def test_the_create_button_says_why_and_creates_a_good_name(knowledge_base):
    handlers = tab_handlers(lambda: build_knowledge_tab(knowledge_base, AdminAuth(None), arena=None))
    client = knowledge_base.client
    before = set(client.collections.list_all(simple=True))
    for name in (BAD_NAMES["too long"], BAD_NAMES["non-ASCII letter"], knowledge_base.default_collection.upper()):
        report = value_with_id(handlers["do_create"]("", name), "kb-report")
        assert report.startswith("⚠️") and ("Collection names" in report or "exists already" in report)
    assert set(client.collections.list_all(simple=True)) == before

    created = "ArenaCreateTest"
    try:
        update = handlers["do_create"]("", "arenaCreateTest")
        assert f"**{created}** created" in value_with_id(update, "kb-report")
        assert created in knowledge_base.collections() and knowledge_base.store(created).count() == 0
    finally:
        if client.collections.exists(created):
            client.collections.delete(created)
            knowledge_base._stores.pop(created, None)
