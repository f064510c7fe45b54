// Test harness of fm2s (tests/imagej/harness.py): stands where Fiji's imagej-legacy intercepts
// IJ.runPlugIn for a SciJava script command, after ij.Executer has asked its CommandListeners.
// Compiled by the tests into a temporary folder; never shipped.
public class Fm2sSciJavaHarness implements ij.plugin.PlugIn {
    /** What runs the command (set from Python: the module service of harness.py). */
    public static Runnable module;

    public void run(String arg) {
        if (module != null)
            module.run();
    }
}
