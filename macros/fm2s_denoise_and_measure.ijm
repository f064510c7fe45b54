// FM2S: denoise, then measure -- a typical lab workflow.
//
// For every TIFF in the input folder: measure the raw image, denoise it with "FM2S Denoise",
// measure the denoised image the same way. Measured per image version (raw / fm2s), over all
// planes: mean, standard deviation, min, max, and the calibrated area above an Otsu threshold
// (computed per plane, summed; its unit in the next column). One row per image and version goes to
// <output>/fm2s_measurements.csv (the table is never overwritten).
// Only dialog-free ImageJ functions are used around "FM2S Denoise", so the macro also runs in
// plain java.awt.headless mode; under Xvfb or in Fiji any ImageJ command could be added.
//
// Headless:  fm2s macro fm2s_denoise_and_measure.ijm --arg "input=/data/raw output=/data/results"
// Options:   options=[preset=confocal noise_level=avg1 seed=0]  (passed to "FM2S Denoise")

arg = getArgument();
input = call("ij.Macro.getValue", arg, "input", "");
output = call("ij.Macro.getValue", arg, "output", "");
options = call("ij.Macro.getValue", arg, "options", "preset=confocal noise_level=avg1 seed=0");
if (input == "" || output == "")
    exit("usage: input=<folder> output=<folder> [options=[preset=... noise_level=... seed=...]]");
if (!File.isDirectory(input))
    exit("input folder not found: " + input);
input = fixDir(input);
output = fixDir(output);
if (!File.exists(output))
    File.makeDirectory(output);
table = output + "fm2s_measurements.csv";
if (File.exists(table))
    exit("will not overwrite " + table + "; move it away first");

setBatchMode(true);
run("Clear Results");
files = getFileList(input);
Array.sort(files);
for (i = 0; i < files.length; i++) {
    name = files[i];
    lower = toLowerCase(name);
    if (!(endsWith(lower, ".tif") || endsWith(lower, ".tiff")))
        continue;
    open(input + name);
    source = getImageID();
    measureImage(name, "raw");
    run("FM2S Denoise", options);
    if (getImageID() == source)
        exit("FM2S Denoise gave no new image for " + name + "; no measurements were saved");
    measureImage(name, "fm2s");
    close("*");
}
updateResults();
partial = output + "fm2s_measurements.partial.csv";
saveAs("Results", partial);
if (!File.rename(partial, table))
    exit("cannot rename " + partial + " to " + table);
print("FM2S measurements: " + nResults + " rows in " + table);

// Append one row of whole-image measurements of the current image to the Results table.
function measureImage(name, version) {
    if (nSlices > 1)
        Stack.getStatistics(count, mean, min, max, std);
    else
        getStatistics(count, mean, min, max, std);
    getVoxelSize(pw, ph, pd, unit);
    area = 0;
    for (s = 1; s <= nSlices; s++) {
        if (nSlices > 1)
            setSlice(s);
        setAutoThreshold("Otsu dark");
        List.setMeasurements("limit");
        planeArea = List.getValue("Area");
        area = area + planeArea;
    }
    resetThreshold();
    row = nResults;
    setResult("Image", row, name);
    setResult("Version", row, version);
    setResult("Title", row, getTitle());
    setResult("Mean", row, mean);
    setResult("StdDev", row, std);
    setResult("Min", row, min);
    setResult("Max", row, max);
    // one column for every image, whatever its unit (a column per unit left zeros in the
    // others), and the unit beside it
    setResult("OtsuArea", row, area);
    setResult("AreaUnit", row, unit + "^2");
    print(name + " (" + version + "): mean " + d2s(mean, 2) + ", sd " + d2s(std, 2)
        + ", Otsu area " + d2s(area, 2) + " " + unit + "^2");
}

function fixDir(path) {
    path = replace(path, "\\\\", "/");
    if (!endsWith(path, "/"))
        path = path + "/";
    return path;
}
