"""Common layer (the bottom): settings, event types, question sets, correctness measures, sentence
splitting, JSON lines, admin auth, Hugging Face Spaces support, atomic file writes and a quick clean process exit.
Imports nothing else of ``pipelines``."""
