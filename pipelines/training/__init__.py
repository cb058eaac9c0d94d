"""Training layer (above ``feedback``, ``knowledge`` and ``generation``, beside ``arena`` and ``evaluation``):
training pairs (fact pairs, reading pairs, LLM-written pairs, pair files), QLoRA SFT, DPO from votes,
background jobs and the adapter registry. Its command line is ``python -m pipelines.training`` (``__main__``)."""
