"""Training one FM2S model (fm2s.engine.methods.fm2s.train): the number and shape of optimizer steps, repeatability, learning, bfloat16, the noise thread."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from fm2s.engine.methods.fm2s.model import build_model
from fm2s.engine.methods.fm2s.schedules import (
    FAST,
    REFERENCE,
    Schedule,
)
from fm2s.engine.methods.fm2s.train import TrainingData, train_model
from fm2s.presets import resolve_params

CPU = torch.device("cpu")



def _data(n: int = 1, h: int = 40, w: int = 36, seed: int = 0) -> TrainingData:
    gen = torch.Generator().manual_seed(seed)
    raw = torch.rand(n, h, w, generator=gen)
    return TrainingData.from_planes(raw, raw.clamp(0.2, 0.8), stride=16)



def _train(schedule: Schedule, data: TrainingData, n_chan: int = 2, seed: int = 0,
           model=None, on_step=None):
    gen = torch.Generator().manual_seed(seed)
    params = resolve_params("confocal", n_chan=n_chan)
    return train_model(data, params, schedule, cpu_generator=gen, device_generator=gen,
                       model=model, on_step=on_step)



@pytest.mark.parametrize("schedule", [
    Schedule("a", stage1_steps=3, noise_draws=4, steps_per_draw=2),
    Schedule("b", stage1_steps=0, noise_draws=5, steps_per_draw=1, crop=16, batch=3,
             lr=4e-3, lr_final=1e-4),
    dataclasses.replace(REFERENCE, stage1_steps=2, noise_draws=3),
])
def test_on_step_counts_every_optimizer_step(schedule):
    calls = []
    _train(schedule, _data(), on_step=lambda done, total: calls.append((done, total)))
    n = schedule.total_steps
    assert calls == [(i, n) for i in range(1, n + 1)]



def _record_inputs(model) -> list[tuple[int, ...]]:
    shapes: list[tuple[int, ...]] = []
    model.register_forward_pre_hook(lambda _m, args: shapes.append(tuple(args[0].shape)))
    return shapes



def test_reference_like_schedule_trains_on_whole_planes():
    schedule = dataclasses.replace(REFERENCE, stage1_steps=2, noise_draws=2)
    data = _data(n=1, h=40, w=36)
    model = build_model(2, torch.Generator().manual_seed(0), CPU)
    shapes = _record_inputs(model)
    _train(schedule, data, model=model)
    assert len(shapes) == schedule.total_steps
    # whole plane plus the reflect-padded rim of RECEPTIVE_RADIUS (5) on every side
    assert set(shapes) == {(1, 2, 50, 46)}



def test_crop_schedule_trains_on_batches_of_crops():
    schedule = Schedule("c", stage1_steps=2, noise_draws=3, steps_per_draw=1, crop=24, batch=5)
    model = build_model(2, torch.Generator().manual_seed(0), CPU)
    shapes = _record_inputs(model)
    _train(schedule, _data(n=4, h=256, w=256), model=model)  # 512 x 512 pixels in all
    assert shapes == [(5, 2, 24, 24)] * 5


@pytest.mark.parametrize(("n", "side", "batch"), [
    (1, 512, 8), (2, 512, 8), (1, 384, 4), (1, 256, 2), (1, 128, 2), (3, 40, 2), (2, 256, 4),
])
def test_the_crops_per_step_follow_the_amount_of_image(n, side, batch):
    schedule = Schedule("c", stage1_steps=0, noise_draws=1, steps_per_draw=1, crop=24, batch=8)
    assert schedule.batch_for(n * side * side) == batch
    model = build_model(1, torch.Generator().manual_seed(0), CPU)
    shapes = _record_inputs(model)
    _train(schedule, _data(n=n, h=side, w=side), n_chan=1, model=model)
    assert shapes == [(batch, 1, 24, 24)]
    assert Schedule("d", 0, 1, 1, crop=24, batch=1).batch_for(16) == 1  # never above batch



def test_crop_larger_than_plane_falls_back_to_whole_planes():
    schedule = Schedule("c", stage1_steps=1, noise_draws=2, steps_per_draw=1, crop=64, batch=4)
    model = build_model(1, torch.Generator().manual_seed(0), CPU)
    shapes = _record_inputs(model)
    _train(schedule, _data(n=2, h=40, w=36), n_chan=1, model=model)
    assert shapes == [(1, 1, 50, 46)] * 3  # whole (reflect-padded) planes



def test_training_changes_weights_and_returns_eval_model():
    model = build_model(2, torch.Generator().manual_seed(0), CPU)
    before = [p.detach().clone() for p in model.parameters()]
    trained = _train(Schedule("t", 2, 3, 1, lr=1e-2), _data(), model=model)
    assert trained is model  # warm start trains in place
    assert not trained.training
    assert any(not torch.equal(a, b) for a, b in zip(before, trained.parameters()))



def test_training_is_repeatable_for_a_seed():
    schedule = Schedule("t", 2, 4, 1, crop=24, batch=2)
    a = _train(schedule, _data(), seed=5)
    b = _train(schedule, _data(), seed=5)
    c = _train(schedule, _data(), seed=6)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))



def _loss_before_and_after(schedule: Schedule):
    """Train on a random plane; return (loss before, loss after, the model)."""
    data = _data(h=48, w=48, seed=3)
    params = resolve_params("confocal")
    gen = torch.Generator().manual_seed(0)
    model = build_model(params.n_chan, gen, CPU)

    def loss() -> float:
        with torch.no_grad():
            out = model(data.raw.expand(-1, 2, -1, -1))
            return torch.mean((out - data.target) ** 2).item()

    start = loss()
    train_model(data, params, schedule, cpu_generator=gen, device_generator=gen, model=model)
    return start, loss(), model



def test_training_reduces_the_loss_towards_the_target():
    start, end, _ = _loss_before_and_after(Schedule("t", 30, 0, 1, lr=5e-3))
    assert end < 0.5 * start



def test_crop_too_small_for_the_loss_margin_is_rejected(noisy_u8):
    import fm2s

    with pytest.raises(ValueError):
        fm2s.denoise(noisy_u8, schedule=Schedule("c", 2, 3, 1, crop=10, batch=2), seed=0)



def test_background_batches_train_the_same_model_as_inline_batches(monkeypatch):
    import fm2s.engine.methods.fm2s.train as train_module

    schedule = Schedule("t", 2, 6, 2, crop=24, batch=3, lr=4e-3, lr_final=1e-4)
    threaded = _train(schedule, _data(n=2), seed=9)
    monkeypatch.setattr(train_module, "prefetch", lambda items, depth=2: items)
    inline = _train(schedule, _data(n=2), seed=9)
    for a, b in zip(threaded.parameters(), inline.parameters()):
        assert torch.equal(a, b)



def test_default_schedule_trains_in_bf16_and_reference_in_float32():
    assert FAST.bf16 is True
    assert REFERENCE.bf16 is False  # the authors' numerics



def _forward_dtypes(schedule: Schedule, monkeypatch) -> tuple[set[torch.dtype], set[torch.dtype]]:
    """dtypes of the hidden (conv2) and output (conv3) activations seen in training."""
    import fm2s.engine.methods.fm2s.model as model_module
    import fm2s.engine.methods.fm2s.train as train_module

    hidden: set[torch.dtype] = set()
    output: set[torch.dtype] = set()
    real_conv = model_module.conv2d
    real_output = train_module.conv_from_reference

    def conv(layer, x, valid):
        out = real_conv(layer, x, valid)
        (output if layer.out_channels == 2 else hidden).add(out.dtype)
        return out

    def bf16_output(*args, **kwargs):
        out = real_output(*args, **kwargs)
        output.add(out.dtype)
        return out

    monkeypatch.setattr(model_module, "conv2d", conv)
    monkeypatch.setattr(train_module, "conv_from_reference", bf16_output)
    model = build_model(2, torch.Generator().manual_seed(0), CPU)
    _train(schedule, _data(), model=model)
    return hidden, output



def test_bf16_schedule_runs_convolutions_in_bf16_only_where_native(monkeypatch):
    import fm2s.engine.methods.fm2s.train as train_module

    f32, bf16 = {torch.float32}, {torch.bfloat16}
    schedule = Schedule("t", 1, 2, 1, crop=24, batch=2, bf16=True)
    monkeypatch.setattr(train_module, "native_bf16", lambda device: True)
    # The output reaches the loss in float32 (conv_from_reference), never rounded to bf16.
    assert _forward_dtypes(schedule, monkeypatch) == (bf16, f32)
    monkeypatch.setattr(train_module, "native_bf16", lambda device: False)
    assert _forward_dtypes(schedule, monkeypatch) == (f32, f32)
    assert _forward_dtypes(dataclasses.replace(schedule, bf16=False), monkeypatch) == (f32, f32)



def test_training_scores_the_same_pixels_as_a_padded_forward(monkeypatch):
    """Valid convolutions in training give the loss of the padded network on the scored rim."""
    import fm2s.engine.methods.fm2s.train as train_module

    losses: list[float] = []
    real = train_module.F.mse_loss

    def spy(output, target):
        loss = real(output, target)
        losses.append(loss.item())
        return loss

    monkeypatch.setattr(train_module.F, "mse_loss", spy)
    data = _data(h=30, w=30)
    params = resolve_params("confocal")
    model = build_model(2, torch.Generator().manual_seed(0), CPU)
    with torch.no_grad():
        expected = real(model(data.raw.expand(-1, 2, -1, -1))[..., 5:-5, 5:-5],
                        data.target.expand(-1, 2, -1, -1)[..., 5:-5, 5:-5]).item()
    gen = torch.Generator().manual_seed(0)
    train_model(data, params, Schedule("t", 1, 0, 1), cpu_generator=gen, device_generator=gen,
                model=model)
    assert losses == pytest.approx([expected], rel=1e-5)



def test_bf16_training_keeps_float32_weights_and_learns(monkeypatch):
    import fm2s.engine.methods.fm2s.train as train_module

    monkeypatch.setattr(train_module, "native_bf16", lambda device: True)
    start, end, model = _loss_before_and_after(Schedule("t", 30, 0, 1, lr=5e-3, bf16=True))
    assert end < 0.5 * start
    assert {p.dtype for p in model.parameters()} == {torch.float32}



def test_native_bf16_answers_for_every_device_type():
    from fm2s.engine.runtime import native_bf16

    assert isinstance(native_bf16(CPU), bool)
    assert native_bf16(torch.device("meta")) is False



def test_cpu_training_leaves_one_core_to_the_noise_thread():
    model = build_model(2, torch.Generator().manual_seed(0), CPU)
    seen: list[int] = []
    model.register_forward_pre_hook(lambda _m, _a: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        _train(Schedule("t", 1, 2, 1, crop=24, batch=2), _data(), model=model)
        assert set(seen) == {2}
        assert torch.get_num_threads() == 3  # restored
        seen.clear()
        torch.set_num_threads(1)
        _train(Schedule("t", 1, 2, 1, crop=24, batch=2), _data(), model=model)
        assert set(seen) == {1}
    finally:
        torch.set_num_threads(before)



def test_a_failing_step_stops_the_noise_thread_even_while_the_traceback_lives():
    import threading

    def cancel(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt("cancelled")

    with pytest.raises(KeyboardInterrupt) as caught:
        _train(Schedule("t", 1, 50, 1, crop=24, batch=2), _data(), on_step=cancel)
    assert caught.value is not None  # the traceback (and train_model's frame) are still held
    assert not [t for t in threading.enumerate() if t.name == "fm2s-prefetch"]

