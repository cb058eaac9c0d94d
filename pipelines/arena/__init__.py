"""Arena layer (above ``feedback``, ``knowledge`` and ``generation``, beside ``evaluation`` and ``training``):
the answering pipelines (RAG, fine-tuned, RAG + fine-tuned, base), the arena that runs them side by side and
records votes, the programs' API and the knowledge-update demo."""
