"""Common layer (the bottom): settings, event types, question sets, correctness measures, sentence
splitting, JSON lines, admin auth and Hugging Face Spaces support. Imports nothing else of ``pipelines``."""
