using System.Runtime.InteropServices;
using EdgeAgent.Onnx.Native;

namespace EdgeAgent.Onnx;

/// <summary>
/// Finds and loads the ONNX Runtime native library (<c>libonnxruntime.so.1</c>) explicitly with
/// <see cref="NativeLibrary"/>, in this order (DESIGN.md §4):
/// <list type="number">
/// <item>next to the executable (<see cref="AppContext.BaseDirectory"/>), where the build places the pinned copy;</item>
/// <item><c>EDGEAGENT_ORT_PATH</c>: the library file itself or the directory holding it;</item>
/// <item>the system loader (<c>dlopen("libonnxruntime.so.1")</c>: LD_LIBRARY_PATH, ld.so.cache, /usr/lib).</item>
/// </list>
/// The first candidate that loads, exports <c>OrtGetApiBase</c>, offers API version
/// <see cref="RequiredApiVersion"/> and passes the function-table self-check wins. When none does, an
/// <see cref="OnnxRuntimeLoadException"/> lists every candidate and why it was rejected.
/// </summary>
/// <remarks>
/// The process-wide library used by sessions comes from <see cref="OnnxRuntime.EnsureLoaded"/> with
/// <see cref="Default"/>. Other instances (explicit paths) are for diagnostics (<c>edgeagent doctor</c>)
/// and tests; loading through them does not change the process-wide library.
/// </remarks>
public sealed class OrtLibraryLocator
{
    /// <summary>The environment variable naming the library file or its directory.</summary>
    public const string PathVariable = "EDGEAGENT_ORT_PATH";

    /// <summary>File name of the library on this OS (<c>libonnxruntime.so.1</c> on Linux).</summary>
    public static string LibraryFileName { get; } =
        OperatingSystem.IsWindows() ? "onnxruntime.dll" :
        OperatingSystem.IsMacOS() ? "libonnxruntime.dylib" : "libonnxruntime.so.1";

    public OrtLibraryLocator(string? baseDirectory, string? environmentPath, bool useSystemLoader,
        uint requiredApiVersion = OrtApi.MinimumApiVersion)
    {
        BaseDirectory = string.IsNullOrEmpty(baseDirectory) ? null : baseDirectory;
        EnvironmentPath = string.IsNullOrWhiteSpace(environmentPath) ? null : environmentPath;
        UseSystemLoader = useSystemLoader;
        RequiredApiVersion = requiredApiVersion;
    }

    /// <summary>The executable's directory, <c>EDGEAGENT_ORT_PATH</c> as currently set, then the system loader.</summary>
    public static OrtLibraryLocator Default =>
        new(AppContext.BaseDirectory, Environment.GetEnvironmentVariable(PathVariable), useSystemLoader: true);

    public string? BaseDirectory { get; }

    public string? EnvironmentPath { get; }

    public bool UseSystemLoader { get; }

    /// <summary>The <c>OrtApi</c> version asked from <c>GetApi</c>; a library that cannot provide it is "too old".</summary>
    public uint RequiredApiVersion { get; }

    /// <summary>Loads the first usable candidate; throws <see cref="OnnxRuntimeLoadException"/> listing all tried.</summary>
    public OnnxRuntimeInfo Load() => LoadLibrary().Info;

    internal LoadedOrtLibrary LoadLibrary()
    {
        var searched = new List<string>();
        Exception? lastError = null;

        if (BaseDirectory is not null)
        {
            var r = TryFile(Path.Combine(BaseDirectory, LibraryFileName), "next to the executable", searched);
            if (r.Library is not null) return r.Library;
            lastError ??= r.Error;
        }
        else
        {
            searched.Add("next to the executable: (no base directory)");
        }

        if (EnvironmentPath is not null)
        {
            string path = Directory.Exists(EnvironmentPath) ? Path.Combine(EnvironmentPath, LibraryFileName) : EnvironmentPath;
            var r = TryFile(path, $"{PathVariable}={EnvironmentPath}", searched);
            if (r.Library is not null) return r.Library;
            lastError = r.Error ?? lastError;
        }
        else
        {
            searched.Add($"{PathVariable}: (not set)");
        }

        if (UseSystemLoader)
        {
            var r = TryLoad(LibraryFileName, $"system loader '{LibraryFileName}'", searched);
            if (r.Library is not null) return r.Library;
            lastError = r.Error ?? lastError;
        }
        else
        {
            searched.Add("system loader: (not used)");
        }

        string message =
            $"ONNX Runtime (API version {RequiredApiVersion} or later, i.e. release 1.{RequiredApiVersion} or later) could not be loaded. " +
            $"Searched, in order:{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", searched) + Environment.NewLine +
            $"Fix: install {LibraryFileName} next to the edgeagent executable (build.sh does this), or set {PathVariable} " +
            "to the library file or its directory.";
        throw new OnnxRuntimeLoadException(message, searched, lastError);
    }

    private (LoadedOrtLibrary? Library, Exception? Error) TryFile(string path, string label, List<string> searched)
    {
        if (!File.Exists(path))
        {
            searched.Add($"{label}: {path} (does not exist)");
            return (null, null);
        }
        return TryLoad(path, $"{label}: {path}", searched);
    }

    private unsafe (LoadedOrtLibrary? Library, Exception? Error) TryLoad(string nameOrPath, string label, List<string> searched)
    {
        nint handle;
        try
        {
            handle = NativeLibrary.Load(nameOrPath);
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            searched.Add($"{label} (cannot be loaded: {OneLine(e.Message)})");
            return (null, e);
        }

        try
        {
            if (!NativeLibrary.TryGetExport(handle, "OrtGetApiBase", out nint getApiBase))
            {
                searched.Add($"{label} (loaded, but it has no OrtGetApiBase export: not an ONNX Runtime library)");
                NativeLibrary.Free(handle);
                return (null, null);
            }

            // struct OrtApiBase { const OrtApi* (*GetApi)(uint32_t); const char* (*GetVersionString)(void); }
            nint* apiBase = ((delegate* unmanaged<nint*>)getApiBase)();
            if (apiBase == null)
            {
                searched.Add($"{label} (OrtGetApiBase returned null)");
                NativeLibrary.Free(handle);
                return (null, null);
            }
            var getApi = (delegate* unmanaged<uint, nint>)apiBase[0];
            var getVersionString = (delegate* unmanaged<byte*>)apiBase[1];
            string version = OrtApi.ReadUtf8(getVersionString()) ?? "unknown";

            nint table = getApi(RequiredApiVersion);
            if (table == 0)
            {
                searched.Add($"{label} (ONNX Runtime {version} is too old: it does not offer API version {RequiredApiVersion})");
                NativeLibrary.Free(handle);
                return (null, null);
            }

            var api = new OrtApi(table);
            string? problem = SelfCheck(api);
            if (problem is not null)
            {
                searched.Add($"{label} (ONNX Runtime {version} failed the function-table self-check: {problem})");
                NativeLibrary.Free(handle);
                return (null, null);
            }

            string path = nameOrPath;
            searched.Add($"{label} (ONNX Runtime {version}: ok)");
            var info = new OnnxRuntimeInfo(version, path, RequiredApiVersion, label, searched.ToArray());
            return (new LoadedOrtLibrary(handle, api, info), null);
        }
        catch
        {
            NativeLibrary.Free(handle);
            throw;
        }
    }

    /// <summary>
    /// Proves the slot numbers line up with this library before anything else is called through them:
    /// <c>CreateStatus(ORT_INVALID_ARGUMENT, "probe")</c> must come back through <c>GetErrorCode</c> (slot 1)
    /// and <c>GetErrorMessage</c> (slot 2) unchanged, then is released through <c>ReleaseStatus</c> (slot 93).
    /// </summary>
    internal static unsafe string? SelfCheck(OrtApi api)
    {
        byte* probe = stackalloc byte[] { (byte)'p', (byte)'r', (byte)'o', (byte)'b', (byte)'e', 0 };
        nint status = api.CreateStatus((int)OrtErrorCode.InvalidArgument, probe);
        if (status == 0) return "CreateStatus returned null";
        try
        {
            int code = api.GetErrorCode(status);
            if (code != (int)OrtErrorCode.InvalidArgument) return $"GetErrorCode returned {code}, expected 2";
            string? message = OrtApi.ReadUtf8(api.GetErrorMessage(status));
            if (message != "probe") return $"GetErrorMessage returned '{message}', expected 'probe'";
            return null;
        }
        finally
        {
            api.ReleaseStatus(status);
        }
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();
}

/// <summary>What was loaded: ORT's version string, where from, and the API version in use.</summary>
/// <param name="Version">ORT's <c>GetVersionString()</c>, e.g. "1.30.0".</param>
/// <param name="LibraryPath">The path (or loader name) that was loaded.</param>
/// <param name="ApiVersion">The <c>OrtApi</c> version requested from <c>GetApi</c>.</param>
/// <param name="FoundBy">Which search step found it, e.g. "next to the executable".</param>
/// <param name="Searched">Every candidate tried, with its outcome.</param>
public sealed record OnnxRuntimeInfo(string Version, string LibraryPath, uint ApiVersion, string FoundBy, IReadOnlyList<string> Searched);

internal sealed record LoadedOrtLibrary(nint Handle, OrtApi Api, OnnxRuntimeInfo Info);
