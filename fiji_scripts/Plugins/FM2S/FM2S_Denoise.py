#@script(language="Python")
#@ ImagePlus imp
#@ String (label="Preset (microscope)", choices={"confocal", "twophoton", "widefield", "srdtrans", "base"}, value="confocal") preset
#@ String (label="Noise level (avgN = mean of N captures)", choices={"avg1", "avg2", "avg4", "avg8", "avg16"}, value="avg1") noise_level
#@ Integer (label="Seed (-1 = random)", value=0, min=-1) seed
#@ String (label="Device", choices={"auto", "cpu", "cuda", "mps"}, value="auto") device
#@ String (label="Schedule", choices={"fast", "reference", "quick"}, value="fast") schedule
#@output ImagePlus result
"""FM2S Denoise: zero-shot denoising of the current image with fm2s (Plugins > FM2S).

Needs Fiji in Python mode (Edit > Options > Python) with fm2s installed in its Python
environment. Macro: run("FM2S Denoise", "preset=confocal noise_level=avg1 seed=0");
"""
from fm2s.imagej.fiji_script import run_fiji_script

result = run_fiji_script(
    imp,
    preset=preset,
    noise_level=noise_level,
    seed=seed,
    device=device,
    schedule=schedule,
)
