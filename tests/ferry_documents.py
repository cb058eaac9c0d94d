"""The three hand-checkable ferry documents of the model question generator's tests, and the run whose output must
be the same in any process: a module of its own, so that a child interpreter computing it imports no more than
the generator (the test module's conftest imports pull in the model backend and Weaviate).

    from tests.ferry_documents import DOCUMENTS, generated_twice
    text = generated_twice(embeddings, seed=3)
"""

from __future__ import annotations

import dataclasses
import json

from pipelines.evaluation.question_generation import SourceDocument
from pipelines.evaluation.question_generation_model import generate_with_model, ragas_samples
from tests.scripted_writer import ScriptedWriter

FERRIES = SourceDocument("ferries.md", "# Ferries\n\nMV Annick Marrow can carry 24 cars and 180 passengers. "
                                       "MV Annick Marrow was built in 1998 at Harlow Yard. The crossing from "
                                       "Kestrel Pier to Orla Point takes 35 minutes.\n")
PIERS = SourceDocument("piers.md", "# Piers\n\nKestrel Pier opens at 06:00 every day. Kestrel Pier has 3 berths "
                                   "for MV Annick Marrow. Orla Point has a waiting room with 40 seats.\n")
FARES = SourceDocument("fares.txt", "Fares\n\nA single ticket on MV Annick Marrow costs 7.80 drell. A return "
                                    "ticket from Orla Point costs 14 drell. The Harbour Board approved the fares on "
                                    "3 March 2024.\n")
DOCUMENTS = [FERRIES, PIERS, FARES]


def generated_twice(embeddings, seed: int) -> str:
    """What ragas wrote (every sample, in its order) and the set made of it, as one text to compare."""
    samples = ragas_samples(sorted(DOCUMENTS, key=lambda d: d.name), llm=ScriptedWriter(), embeddings=embeddings,
                            size=18, seed=seed)
    generated = generate_with_model(DOCUMENTS, llm=ScriptedWriter(), embeddings=embeddings, count=12, seed=seed)
    return json.dumps([dataclasses.asdict(sample) for sample in samples]) + "\n" + generated.to_jsonl()
