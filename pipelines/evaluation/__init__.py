"""Evaluation layer (above ``feedback``, ``knowledge`` and ``generation``, beside ``arena`` and ``training``):
ragas scoring of exchanges, the LLM judge, judge-human agreement and batch evaluation reports. Its command line
(``python -m pipelines.evaluation``, ``__main__``) starts the runtime; the rest never imports it."""
