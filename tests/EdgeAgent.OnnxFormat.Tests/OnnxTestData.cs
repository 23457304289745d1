namespace EdgeAgent.OnnxFormat.Tests;

/// <summary>
/// The ONNX backend test data shipped by Debian's libonnx-testdata package (real files written by the
/// onnx Python package). Tests fail, not skip, when it is missing: install it with
/// <c>apt-get install libonnx-testdata</c>.
/// </summary>
internal static class OnnxTestData
{
    public const string Root = "/usr/share/libonnx-testdata/data";

    public static string NodeDir(string test)
    {
        string dir = Path.Combine(Root, "node", test);
        if (!Directory.Exists(dir))
            throw new InvalidOperationException($"{dir} is missing: install the Debian package libonnx-testdata.");
        return dir;
    }

    public static IEnumerable<string> AllModels()
    {
        if (!Directory.Exists(Root))
            throw new InvalidOperationException($"{Root} is missing: install the Debian package libonnx-testdata.");
        return Directory.EnumerateFiles(Root, "*.onnx", SearchOption.AllDirectories).Order(StringComparer.Ordinal);
    }
}
