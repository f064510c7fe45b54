// FM2S: denoise every TIFF in a folder into an output folder.
//
// Each <name>.tif(f) in the input folder becomes <name>_fm2s.tif in the output folder, with
// the source's calibration, LUTs and properties plus the FM2S parameters in its info.
// Finished outputs are skipped, so re-running after an interruption resumes where it stopped;
// each result is written to a temporary file first and renamed when complete.
//
// Headless:  fm2s macro fm2s_denoise_folder.ijm --arg "input=/data/raw output=/data/fm2s"
// Options:   options=[preset=confocal noise_level=avg1 seed=0]  (passed to "FM2S Denoise")
// In Fiji:   runMacro("/path/to/fm2s_denoise_folder.ijm", "input=[...] output=[...]");

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
if (!File.isDirectory(output))
    exit("cannot create the output folder: " + output);

setBatchMode(true);
files = getFileList(input);
Array.sort(files);
// two inputs of one name (a.tif, a.tiff) would share one output: the second would be
// skipped as done; stop before anything is written
for (i = 0; i < files.length; i++) {
    if (!isInput(files[i]))
        continue;
    stem = stemOf(files[i]);
    for (j = 0; j < i; j++) {
        if (isInput(files[j])) {
            other = stemOf(files[j]);
            if (other == stem)
                exit(files[j] + " and " + files[i] + " would both be written to " + stem
                     + "_fm2s.tif; rename one of them");
        }
    }
}
done = 0; skipped = 0;
for (i = 0; i < files.length; i++) {
    name = files[i];
    if (!isInput(name))
        continue;
    stem = stemOf(name);
    target = output + stem + "_fm2s.tif";
    if (File.exists(target)) {
        print("skip (done): " + name);
        skipped++;
        continue;
    }
    print("FM2S " + (i + 1) + "/" + files.length + ": " + name);
    open(input + name);
    source = getImageID();
    run("FM2S Denoise", options);
    if (getImageID() == source)
        exit("FM2S Denoise gave no new image for " + name + "; nothing was saved for it");
    partial = output + stem + "_fm2s.partial.tif";
    saveAs("Tiff", partial);
    close();
    selectImage(source);
    close();
    if (!File.rename(partial, target))
        exit("cannot rename " + partial + " to " + target);
    done++;
}
print("FM2S folder: " + done + " denoised, " + skipped + " already done, output in " + output);

function isInput(name) {
    lower = toLowerCase(name);
    if (!(endsWith(lower, ".tif") || endsWith(lower, ".tiff")))
        return false;
    // our own outputs, when input and output are the same folder
    return !(endsWith(lower, "_fm2s.tif") || endsWith(lower, "_fm2s.partial.tif"));
}

function stemOf(name) {
    return substring(name, 0, lastIndexOf(name, "."));
}

function fixDir(path) {
    path = replace(path, "\\\\", "/");
    if (!endsWith(path, "/"))
        path = path + "/";
    return path;
}
