"""Logic of the RAG vs Fine-Tune Arena. Nothing in this package imports Gradio."""
