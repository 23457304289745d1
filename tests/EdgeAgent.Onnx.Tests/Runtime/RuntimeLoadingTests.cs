namespace EdgeAgent.Onnx.Tests.Runtime;

public sealed class RuntimeLoadingTests
{
    [Fact]
    public void Library_next_to_the_test_binaries_loads_and_passes_the_function_table_self_check()
    {
        var info = OnnxRuntime.EnsureLoaded();

        Assert.Equal("1.30.0", info.Version);
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "libonnxruntime.so.1"), info.LibraryPath);
        Assert.StartsWith("next to the executable", info.FoundBy);
        Assert.True(OnnxRuntime.IsLoaded);
    }

    [Fact]
    public void Explicit_locator_reports_the_ok_candidate_and_the_api_version_asked_for()
    {
        var info = new OrtLibraryLocator(AppContext.BaseDirectory, null, useSystemLoader: false).Load();

        Assert.Equal(5u, info.ApiVersion);
        Assert.Contains(info.Searched, s => s.Contains("ONNX Runtime 1.30.0: ok"));
    }

    [Fact]
    public void Default_locator_searches_the_executable_directory_then_EDGEAGENT_ORT_PATH_then_the_system()
    {
        string? saved = Environment.GetEnvironmentVariable(OrtLibraryLocator.PathVariable);
        try
        {
            Environment.SetEnvironmentVariable(OrtLibraryLocator.PathVariable, "/opt/ort/lib");
            var locator = OrtLibraryLocator.Default;

            Assert.Equal(AppContext.BaseDirectory, locator.BaseDirectory);
            Assert.Equal("/opt/ort/lib", locator.EnvironmentPath);
            Assert.True(locator.UseSystemLoader);
        }
        finally
        {
            Environment.SetEnvironmentVariable(OrtLibraryLocator.PathVariable, saved);
        }
    }

    [Fact]
    public void Missing_library_names_every_path_searched_and_the_environment_variable()
    {
        string empty = Directory.CreateTempSubdirectory("edgeagent-no-ort").FullName;
        var locator = new OrtLibraryLocator(empty, "/nonexistent/ort/dir", useSystemLoader: false);

        var e = Assert.Throws<OnnxRuntimeLoadException>(() => locator.Load());

        Assert.Contains(Path.Combine(empty, "libonnxruntime.so.1") + " (does not exist)", e.Message);
        Assert.Contains("EDGEAGENT_ORT_PATH=/nonexistent/ort/dir: /nonexistent/ort/dir (does not exist)", e.Message);
        Assert.Contains("system loader: (not used)", e.Message);
        Assert.Contains("set EDGEAGENT_ORT_PATH", e.Message);
        Assert.Equal(3, e.Searched.Count);
    }

    [Fact]
    public void Environment_path_may_name_the_directory_that_holds_the_library()
    {
        string empty = Directory.CreateTempSubdirectory("edgeagent-no-ort").FullName;
        var locator = new OrtLibraryLocator(empty, AppContext.BaseDirectory, useSystemLoader: false);

        var info = locator.Load();

        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "libonnxruntime.so.1"), info.LibraryPath);
        Assert.StartsWith("EDGEAGENT_ORT_PATH=", info.FoundBy);
    }

    [Fact]
    public void Missing_library_through_the_system_loader_reports_the_loader_error()
    {
        string empty = Directory.CreateTempSubdirectory("edgeagent-no-ort").FullName;
        // The soname is not installed system-wide on build machines; if this process already loaded it, glibc
        // would resolve the bare soname to that copy, so look for a name that exists nowhere instead.
        var locator = new OrtLibraryLocator(empty, Path.Combine(empty, "libonnxruntime.so.1"), useSystemLoader: false);

        var e = Assert.Throws<OnnxRuntimeLoadException>(() => locator.Load());

        Assert.Contains("could not be loaded", e.Message);
    }

    [Fact]
    public void A_shared_library_that_is_not_onnx_runtime_is_rejected_with_the_reason()
    {
        string libm = new[] { "/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6", "/lib/aarch64-linux-gnu/libm.so.6" }
            .First(File.Exists);
        var locator = new OrtLibraryLocator(null, libm, useSystemLoader: false);

        var e = Assert.Throws<OnnxRuntimeLoadException>(() => locator.Load());

        Assert.Contains($"{libm} (loaded, but it has no OrtGetApiBase export: not an ONNX Runtime library)", e.Message);
    }

    [Fact]
    public void A_file_that_is_not_a_shared_library_is_rejected_with_the_loader_message()
    {
        string dir = Directory.CreateTempSubdirectory("edgeagent-bad-ort").FullName;
        string fake = Path.Combine(dir, "libonnxruntime.so.1");
        File.WriteAllText(fake, "this is not an ELF file");
        var locator = new OrtLibraryLocator(dir, null, useSystemLoader: false);

        var e = Assert.Throws<OnnxRuntimeLoadException>(() => locator.Load());

        Assert.Contains($"{fake} (cannot be loaded:", e.Message);
        Assert.Contains("EDGEAGENT_ORT_PATH: (not set)", e.Message);
    }

    [Fact]
    public void A_library_older_than_the_required_api_version_is_reported_as_too_old()
    {
        var locator = new OrtLibraryLocator(AppContext.BaseDirectory, null, useSystemLoader: false, requiredApiVersion: 999);

        var e = Assert.Throws<OnnxRuntimeLoadException>(() => locator.Load());

        Assert.Contains("ONNX Runtime 1.30.0 is too old: it does not offer API version 999", e.Message);
    }
}
