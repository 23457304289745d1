using EdgeAgent.Onnx.Native;

namespace EdgeAgent.Onnx;

/// <summary>
/// The process-wide ONNX Runtime: the native library (found by <see cref="OrtLibraryLocator.Default"/>),
/// its checked function table, one <c>OrtEnv</c> and one CPU <c>OrtMemoryInfo</c>. Loaded on first use
/// by any session; call <see cref="EnsureLoaded"/> at start-up to fail early with a clear message.
/// </summary>
/// <remarks>
/// Thread-safe. A failed load is not cached: the next call searches again, so an operator can fix the
/// installation without restarting. Once loaded, the library and the environment live until the process
/// ends (ORT's environment is a process singleton; releasing it while sessions exist is undefined).
/// </remarks>
public static class OnnxRuntime
{
    private static readonly Lock Gate = new();
    private static volatile Loaded? _loaded;

    /// <summary>Loads and checks the library once; returns what was loaded. Throws <see cref="OnnxRuntimeLoadException"/>.</summary>
    public static OnnxRuntimeInfo EnsureLoaded() => Instance.Library.Info;

    /// <summary>True once the library has been loaded successfully in this process.</summary>
    public static bool IsLoaded => _loaded is not null;

    internal static OrtApi Api => Instance.Library.Api;

    internal static Loaded Instance
    {
        get
        {
            var loaded = _loaded;
            return loaded ?? Load();
        }
    }

    private static unsafe Loaded Load()
    {
        lock (Gate)
        {
            if (_loaded is not null) return _loaded;
            var library = OrtLibraryLocator.Default.LoadLibrary();
            var api = library.Api;

            nint env;
            // Log severity 3 = ORT_LOGGING_LEVEL_ERROR: ORT warnings (e.g. unused initializers) would otherwise
            // land on the agent's stderr/journal for every model load.
            fixed (byte* logId = "edgeagent"u8)
                OrtStatus.Check(api, api.CreateEnv(3, logId, &env), "creating the ONNX Runtime environment");

            nint memoryInfo;
            // OrtArenaAllocator (1) / OrtMemTypeDefault (0): the CPU memory description for tensors over our buffers.
            OrtStatus.Check(api, api.CreateCpuMemoryInfo(1, 0, &memoryInfo), "creating the CPU memory info");

            nint allocator;
            OrtStatus.Check(api, api.GetAllocatorWithDefaultOptions(&allocator), "getting the default allocator");

            _loaded = new Loaded(library, env, memoryInfo, allocator);
            return _loaded;
        }
    }

    internal sealed record Loaded(LoadedOrtLibrary Library, nint Env, nint CpuMemoryInfo, nint DefaultAllocator);
}
