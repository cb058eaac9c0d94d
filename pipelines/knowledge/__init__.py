"""Knowledge layer (above ``common``, beside ``feedback`` and ``generation``): document readers, uploads,
chunking, embeddings, the Weaviate store and server, retrieval, ingestion and the knowledge base that ties
them together. Imports only ``common``."""
