"""Running out of memory gives a MemoryError that names the image and the ways out."""

from __future__ import annotations

from fm2s.out_of_memory import explain_out_of_memory

_TORCH_CPU = ("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
              "memory: you tried to allocate 67108864 bytes. Error code 12 (Cannot allocate memory)")


def test_torch_allocator_failure_is_explained_with_the_size_asked_for():
    err = explain_out_of_memory(RuntimeError(_TORCH_CPU), (3, 4096, 4096))
    assert isinstance(err, MemoryError)
    text = str(err)
    assert text.startswith("out of memory while denoising the 3 x 4096 x 4096 image")
    assert "could not allocate 64.0 MiB" in text and "alloc_cpu" not in text
    assert "--tile 512" in text and "ulimit -v" in text and "2.5 GiB" in text


def test_numpy_memory_error_keeps_its_detail():
    err = explain_out_of_memory(MemoryError("Unable to allocate 64.0 MiB for an array"), (512, 512))
    assert "(Unable to allocate 64.0 MiB for an array)" in str(err)


def test_gpu_out_of_memory_suggests_the_cpu():
    err = explain_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB"),
                                (512, 512), "cuda")
    assert "device='cpu'" in str(err) and "ulimit" not in str(err)


def test_other_errors_are_not_memory_errors():
    assert explain_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"),
                                 (512, 512)) is None
    assert explain_out_of_memory(ValueError("out of memory"), (512, 512)) is None
