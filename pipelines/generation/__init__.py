"""Generation layer (above ``common``, beside ``feedback`` and ``knowledge``): the base model and its LoRA
adapters, batched decoding, the OpenAI-compatible backend, helper chat models, the prompts and the answer
rules. Imports only ``common``."""
