"""Logic of the RAG vs Fine-Tune Arena, in capability packages with one-way layers. Nothing here imports Gradio.

Top to bottom: ``runtime`` (starts and wires everything) → ``arena``, ``evaluation``, ``training`` →
``feedback``, ``knowledge``, ``generation`` → ``common``. A module imports only its own package or a lower
layer, never a sibling package of its layer; a ``__main__`` CLI counts as the top layer
(``tests/test_layers.py`` checks this; ``docs/architecture.md`` draws it). These ``__init__`` files
import nothing: import the module you need.
"""
