"""The run's feeding order: closed-book pairs every epoch, reading pairs ``reading_epochs`` times over the run."""

from collections import Counter
from pathlib import Path

import pytest

from pipelines.training.config import Example, TrainingConfig
from pipelines.training.examples import build_examples
from pipelines.training.schedule import run_schedule

ROOT = Path(__file__).resolve().parent.parent
CLOSED = [Example(f"closed {i}?", f"fact {i}.", f"cloze:doc@s{i}") for i in range(10)]
READING = [Example(f"read {i}?", f"fact {i}.", f"reading:cloze:doc@s{i}", (f"passage {i}",)) for i in range(6)]


def test_closed_book_pairs_every_epoch_and_reading_pairs_once_spread_over_the_epochs():
    config = TrainingConfig(epochs=3, batch_size=4)
    schedule = run_schedule(CLOSED + READING, config)
    counts = Counter(schedule.order)
    assert all(counts[e] == 3 for e in CLOSED) and all(counts[e] == 1 for e in READING)
    assert schedule.epoch_ends == [12, 24, 36]   # 10 closed-book + 2 reading pairs an epoch
    starts = [0, *schedule.epoch_ends[:-1]]
    for start, end in zip(starts, schedule.epoch_ends, strict=True):   # every fact each epoch
        assert set(CLOSED) <= set(schedule.order[start:end])
    assert len(schedule.order) == 36 and config.planned_steps(16, reading=6) == 9
    assert schedule.epoch_end_steps(config) == [3, 6, 9]
    assert schedule.order[:10] != CLOSED   # shuffled, the reading pairs among the closed-book ones ...
    assert {i % 12 for i, e in enumerate(schedule.order) if e.context} != {10, 11}
    assert run_schedule(CLOSED + READING, config) == schedule   # ... the same way for the same seed


@pytest.mark.parametrize(("epochs", "reading_epochs", "closed_fed", "closed_each", "reading_each"),
                         [(3, 3, 30, 3, 3), (2, 0.5, 20, 2, None), (2.5, 1, 25, None, 1)])
def test_fractional_and_repeated_passes_add_up_to_the_planned_pairs(epochs, reading_epochs, closed_fed, closed_each,
                                                                    reading_each):
    config = TrainingConfig(epochs=epochs, reading_epochs=reading_epochs)
    schedule = run_schedule(CLOSED + READING, config)
    counts = Counter(schedule.order)
    assert config.planned_steps(16, reading=6) == config.pass_steps(len(schedule.order))
    assert sum(counts[e] for e in READING) == round(reading_epochs * len(READING))
    assert sum(counts[e] for e in CLOSED) == closed_fed   # a half epoch feeds half the closed-book pairs
    if closed_each:
        assert {counts[e] for e in CLOSED} == {closed_each}
    if reading_each:
        assert {counts[e] for e in READING} == {reading_each}


def test_the_reading_recipe_reads_every_epoch():
    config = TrainingConfig(epochs=2, recipe="reading")
    assert Counter(run_schedule(READING, config).order) == dict.fromkeys(READING, 2)


def test_reading_pairs_come_one_per_answer_sentence_never_from_a_recital():
    examples = build_examples(ROOT / "assets" / "corpus", None, recipe="both")
    reading = [e for e in examples if e.context]
    answers = [" ".join(e.answer.split()).lower() for e in reading]
    assert len(answers) == len(set(answers)) and reading
    assert not [e for e in reading if e.origin.startswith("reading:recital:")]
    closed_answers = {" ".join(e.answer.split()).lower() for e in examples
                      if not e.context and not e.origin.startswith("recital:")}
    assert set(answers) <= closed_answers and len(answers) > 0.6 * len(closed_answers)
    assert all(len(e.context) == 1 for e in reading)   # the RAG prompt's one passage by default
    assert all(len(e.context) == 2 for e in build_examples(ROOT / "assets" / "corpus", None, recipe="reading",
                                                           reading_passages=3) if not any(
        " ".join(e.answer.split()) in " ".join(c.split()) for c in e.context))
