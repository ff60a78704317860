"""Helpers that tests/ and benchmarks/ share, so that neither imports the other: the 127.0.0.1 fixture
HTTP server (`server`), synthetic token shards (`synthetic`), evaluation sets read from ../shared/realdata
(`labelled_set`, `langid_set`, `html_eval`, `quality_sets`; read, never copied), hand-written mixed-language
texts (`mixed_texts`) and the `make bench-gpu` driver (`gpu_bench`). Also what tests in several folders
share: the pipeline tail on given documents (`tail_build`), their synthetic documents (`shard_docs`) and
Hugging Face tokenizer.json files made with `tokenizers` (`hf_tokenizers`).

Part of the source tree, not of the installed package (setup.cfg lists only gap_pipeline, scrapers,
transforms and schemas): like tests/, it is imported from the repository root.
"""
