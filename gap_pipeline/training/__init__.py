"""The bundled trainer: a Llama-style decoder trained with FSDP2 on the corpus shards.

Imports only torch, pyarrow, numpy, safetensors and `schemas` (never Beam, scrapers or transforms),
so a training image needs nothing of the pipeline. Modules: config, model, data, checkpoint,
metrics, export, loop (the training loop; `gap train` calls loop.train).
"""
