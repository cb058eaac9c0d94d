from pipelines.feedback.ratings_summary import rating_summary


def _rating(exchange, pipeline, session, score=None, tags=(), user=None):
    return {"exchange_id": exchange, "pipeline": pipeline, "session_id": session, "user_name": user,
            "score": score, "tags": list(tags)}


def test_summary_counts_each_raters_latest_rating_once():
    ratings = [
        _rating("e1", "rag", "s1", 2, ["hallucination"]),
        _rating("e1", "rag", "s1", 4, ["correct"]),          # s1 changed their mind: only this one counts
        _rating("e1", "rag", "s2", 5, ["correct", "good citation"]),
        _rating("e1", "finetuned", "s1", None, ["off-topic"]),  # a tag without a score
        _rating("e2", "finetuned", "s9", 1, [], user="alice"),
        _rating("e2", "finetuned", "s10", 3, [], user="alice"),  # same signed-in user, new tab: replaces
    ]
    rows = {row["pipeline"]: row for row in rating_summary(ratings)}
    assert rows["rag"]["ratings"] == 2 and rows["rag"]["mean score"] == 4.5
    assert rows["rag"]["correct"] == 2 and rows["rag"]["hallucination"] == 0 and rows["rag"]["good citation"] == 1
    assert rows["finetuned"]["ratings"] == 2 and rows["finetuned"]["mean score"] == 3.0
    assert rows["finetuned"]["off-topic"] == 1


def test_no_ratings_no_rows():
    assert rating_summary([]) == []
