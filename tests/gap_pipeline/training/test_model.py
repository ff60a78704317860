"""The decoder against transformers' LlamaForCausalLM, parameter counting, the LR schedule."""
from __future__ import annotations

import json
import math

import pytest
import torch

from gap_pipeline.training.config import ModelConfig, load_train_config, model_config_from_hf
from gap_pipeline.training.export import read_hf_weights, write_hf_export
from gap_pipeline.training.loop import lr_factor
from gap_pipeline.training.model import Llama, count_params, flops_per_token


def _model(tie: bool, kv: int = 2) -> Llama:
    cfg = ModelConfig(dim=48, n_layers=2, n_heads=4, n_kv_heads=kv, ffn_dim=96, vocab_size=101,
                      rope_theta=5000.0, max_seq_len=64, tie_embeddings=tie)
    torch.manual_seed(0)
    model = Llama(cfg)
    model.init_weights()
    with torch.no_grad():  # make the norm weights non-trivial so a mix-up of names would show
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    return model.eval()


@pytest.mark.parametrize("tie,kv", [(False, 2), (True, 1), (False, 4)])
def test_exported_weights_give_the_same_logits_in_transformers(tmp_path, tie, kv):
    from transformers import LlamaForCausalLM

    model = _model(tie, kv)
    write_hf_export(model.state_dict(), model.cfg, tmp_path, bos_id=1, eos_id=2, tokenizer_path=None)
    hf = LlamaForCausalLM.from_pretrained(tmp_path).eval()
    ids = torch.randint(0, model.cfg.vocab_size, (2, 40), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, theirs = model(ids), hf(ids).logits
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    # And back: the export read as --init-from gives our exact weights.
    back = read_hf_weights(tmp_path, model_config_from_hf(json.loads((tmp_path / "config.json").read_text())))
    for name, value in model.state_dict().items():
        assert torch.equal(back[name], value), name


def test_hf_config_maps_back_to_the_same_shape(tmp_path):
    model = _model(False)
    write_hf_export(model.state_dict(), model.cfg, tmp_path, bos_id=1, eos_id=2, tokenizer_path=None)
    assert model_config_from_hf(json.loads((tmp_path / "config.json").read_text())) == model.cfg


def test_export_shards_large_checkpoints_with_an_index(tmp_path):
    from transformers import LlamaForCausalLM

    model = _model(False)
    write_hf_export(model.state_dict(), model.cfg, tmp_path, bos_id=1, eos_id=2, tokenizer_path=None,
                    max_shard_bytes=20_000)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1
    hf = LlamaForCausalLM.from_pretrained(tmp_path).eval()
    ids = torch.arange(10).unsqueeze(0)
    with torch.no_grad():
        torch.testing.assert_close(model(ids), hf(ids).logits, atol=1e-5, rtol=1e-5)


def test_count_params_matches_the_module():
    for tie in (False, True):
        model = _model(tie)
        assert count_params(model.cfg) == sum(p.numel() for p in model.parameters())
    cfg = load_train_config("1b").model
    n = count_params(cfg.replace(vocab_size=32000))
    assert 1.0e9 < n < 1.4e9
    # 6N plus attention grows with sequence length
    assert flops_per_token(cfg.replace(vocab_size=32000), 4096) > flops_per_token(cfg.replace(vocab_size=32000), 2048)


def test_lr_schedule_warms_up_then_decays_to_the_minimum():
    f = [lr_factor(s, warmup=10, total=100, min_ratio=0.1) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[10:], f[11:]))
    assert lr_factor(100, warmup=10, total=100, min_ratio=0.1) == pytest.approx(0.1)
    assert lr_factor(55, warmup=10, total=100, min_ratio=0.1) == pytest.approx(0.1 + 0.9 * 0.5)
    assert math.isclose(lr_factor(500, warmup=10, total=100, min_ratio=0.1), 0.1)


def test_activation_checkpointing_gives_the_same_gradients():
    model = _model(False).train()
    ids = torch.randint(0, 101, (2, 16), generator=torch.Generator().manual_seed(3))
    model(ids).sum().backward()
    plain = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    model.set_activation_checkpointing(True)
    model(ids).sum().backward()
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, plain[n])


def test_training_package_needs_no_pipeline_modules():
    """DESIGN.md: gap_pipeline/training imports neither Beam nor scrapers nor transforms."""
    import subprocess
    import sys

    code = ("import sys, gap_pipeline.training.loop, gap_pipeline.training.export, gap_pipeline.training.__main__\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('apache_beam', 'scrapers', 'transforms'))\n"
            "print(bad[:5]); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
