"""Gradio UI: one module per tab or panel. No model, database or Weaviate code lives here."""
