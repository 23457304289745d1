namespace EdgeAgent.Onnx.Tests.Runtime;

/// <summary>
/// Entry point used when this test assembly is started as a program by <see cref="ProcessWideLoadingTests"/>:
/// <c>dotnet exec EdgeAgent.Onnx.Tests.dll probe-ort</c> loads ONNX Runtime the way the agent does (process-wide,
/// default search) and prints the outcome. The test host never calls it.
/// </summary>
internal static class ProbeProgram
{
    public const int Loaded = 0;
    public const int Usage = 2;
    public const int NotLoaded = 3;

    public static int Main(string[] args)
    {
        if (args is not ["probe-ort"]) return Usage;
        try
        {
            var info = OnnxRuntime.EnsureLoaded();
            Console.WriteLine($"loaded ONNX Runtime {info.Version} from {info.LibraryPath} ({info.FoundBy})");
            return Loaded;
        }
        catch (OnnxRuntimeLoadException e)
        {
            Console.Error.WriteLine(e.Message);
            return NotLoaded;
        }
    }
}
