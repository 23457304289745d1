using System.Formats.Tar;
using System.Text;
using EdgeAgent.Bundles;
using EdgeAgent.Bundles.Manifest;
using EdgeAgent.Updates.Tests.Infrastructure;

namespace EdgeAgent.Updates.Tests.Bundles;

public sealed class BundleFormatTests
{
    private static byte[] Tar(params (string Name, byte[] Data, TarEntryType Type)[] entries)
    {
        using var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (name, data, type) in entries)
            {
                var e = new PaxTarEntry(type, name);
                if (type == TarEntryType.SymbolicLink) e.LinkName = "/etc/passwd";
                else if (type == TarEntryType.RegularFile) e.DataStream = new MemoryStream(data);
                w.WriteEntry(e);
            }
        }
        return ms.ToArray();
    }

    private static (byte[] Manifest, byte[] Model) Parts()
    {
        var bundle = BundleReader.Read(new MemoryStream(TestModels.Bundle(TestModels.V1, "1.0.0", 1)));
        return (bundle.ManifestJson, bundle.Model);
    }

    [Fact]
    public void A_built_bundle_reads_back_with_its_manifest_and_model()
    {
        var bytes = TestModels.Bundle(TestModels.V1, "1.2.0", 5);
        var bundle = BundleReader.Read(new MemoryStream(bytes));
        Assert.Equal("kws", bundle.Manifest.Name);
        Assert.Equal("1.2.0", bundle.Manifest.Version);
        Assert.Equal(5, bundle.Manifest.ReleaseCounter);
        Assert.Equal(TestModels.V1.OnnxBytes, bundle.Model);
        Assert.Equal(UpdateTestBed.Sha(TestModels.V1.OnnxBytes), bundle.Manifest.Model.Sha256);
        Assert.Equal(8, bundle.Manifest.GoldenVectors.Vectors.Count);
    }

    [Fact]
    public void Building_is_deterministic_so_the_TUF_hash_is_reproducible()
    {
        Assert.Equal(TestModels.Bundle(TestModels.V1, "1.0.0", 1), TestModels.Bundle(TestModels.V1, "1.0.0", 1));
    }

    [Fact]
    public void A_truncated_bundle_is_refused_as_corrupt()
    {
        var bytes = TestModels.Bundle(TestModels.V1, "1.0.0", 1);
        var e = Assert.Throws<BundleException>(() => BundleReader.Read(new MemoryStream(bytes[..(bytes.Length / 2)])));
        Assert.True(e.Failure is BundleFailure.Format or BundleFailure.Entries, e.Message);
    }

    [Fact]
    public void Garbage_is_refused_as_not_a_tar()
    {
        var junk = new byte[4096];
        new Random(3).NextBytes(junk);
        var e = Assert.Throws<BundleException>(() => BundleReader.Read(new MemoryStream(junk)));
        Assert.Equal(BundleFailure.Format, e.Failure);
        Assert.Contains("corrupt", e.Message);
    }

    [Theory]
    [InlineData("../model.onnx")]
    [InlineData("/etc/cron.d/x")]
    [InlineData("sub/manifest.json")]
    [InlineData("./model.onnx")]
    public void Entries_with_paths_are_refused_as_traversal_or_unexpected(string name)
    {
        var (manifest, model) = Parts();
        var e = Assert.Throws<BundleException>(() => BundleReader.Read(new MemoryStream(Tar(
            ("manifest.json", manifest, TarEntryType.RegularFile), (name, model, TarEntryType.RegularFile)))));
        Assert.Equal(BundleFailure.Entries, e.Failure);
        Assert.Contains(name, e.Message);
    }

    [Fact]
    public void A_path_traversal_entry_is_named_as_such()
    {
        var (manifest, model) = Parts();
        var e = Assert.Throws<BundleException>(() => BundleReader.Read(new MemoryStream(Tar(
            ("manifest.json", manifest, TarEntryType.RegularFile), ("../../model.onnx", model, TarEntryType.RegularFile)))));
        Assert.Contains("path traversal", e.Message);
    }

    [Fact]
    public void Symbolic_links_and_directories_are_refused()
    {
        var (manifest, _) = Parts();
        var e = Assert.Throws<BundleException>(() => BundleReader.Read(new MemoryStream(Tar(
            ("manifest.json", manifest, TarEntryType.RegularFile), ("model.onnx", [], TarEntryType.SymbolicLink)))));
        Assert.Equal(BundleFailure.Entries, e.Failure);
        Assert.Contains("SymbolicLink", e.Message);
    }

    [Fact]
    public void Extra_and_duplicate_and_missing_entries_are_refused()
    {
        var (manifest, model) = Parts();
        Assert.Equal(BundleFailure.Entries, Assert.Throws<BundleException>(() => BundleReader.Read(new MemoryStream(Tar(
            ("manifest.json", manifest, TarEntryType.RegularFile), ("model.onnx", model, TarEntryType.RegularFile), ("notes.txt", [1], TarEntryType.RegularFile))))).Failure);
        Assert.Contains("twice", Assert.Throws<BundleException>(() => BundleReader.Read(new MemoryStream(Tar(
            ("model.onnx", model, TarEntryType.RegularFile), ("model.onnx", model, TarEntryType.RegularFile))))).Message);
        Assert.Contains("no 'model.onnx'", Assert.Throws<BundleException>(() => BundleReader.Read(new MemoryStream(Tar(
            ("manifest.json", manifest, TarEntryType.RegularFile))))).Message);
    }

    [Fact]
    public void A_model_that_does_not_match_the_manifest_hash_is_refused()
    {
        var (manifest, model) = Parts();
        var other = (byte[])model.Clone();
        other[^1] ^= 0xFF;
        var e = Assert.Throws<BundleException>(() => BundleReader.Read(new MemoryStream(Tar(
            ("manifest.json", manifest, TarEntryType.RegularFile), ("model.onnx", other, TarEntryType.RegularFile)))));
        Assert.Equal(BundleFailure.ModelHash, e.Failure);
        Assert.Contains("SHA-256", e.Message);
    }

    [Fact]
    public void Entries_above_the_size_cap_are_refused_before_being_read()
    {
        var bytes = TestModels.Bundle(TestModels.V1, "1.0.0", 1);
        var e = Assert.Throws<BundleException>(() => BundleReader.Read(new MemoryStream(bytes), new BundleLimits { MaxModelBytes = 1000 }));
        Assert.Equal(BundleFailure.TooLarge, e.Failure);
        Assert.Contains("1000-byte limit", e.Message);
    }

    [Fact]
    public void Unknown_manifest_fields_are_refused_so_typos_do_not_pass_silently()
    {
        var (manifest, model) = Parts();
        var text = Encoding.UTF8.GetString(manifest).Replace("\"hardwareIds\"", "\"hardwareId\"", StringComparison.Ordinal);
        var e = Assert.Throws<BundleException>(() => BundleReader.Read(new MemoryStream(Tar(
            ("manifest.json", Encoding.UTF8.GetBytes(text), TarEntryType.RegularFile), ("model.onnx", model, TarEntryType.RegularFile)))));
        Assert.Equal(BundleFailure.Manifest, e.Failure);
        Assert.Contains("hardwareId", e.Message);
    }

    [Fact]
    public void Golden_vectors_of_the_wrong_length_are_refused_with_the_shapes_named()
    {
        var m = TestModels.Manifest(TestModels.V1, "1.0.0", 1);
        m.GoldenVectors.Vectors[0].Input = new float[63];
        var e = Assert.Throws<BundleException>(() => BundleBuilder.Build(m, TestModels.V1.OnnxBytes));
        Assert.Contains("expects 64 values, the vector has 63", e.Message);
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("")]
    [InlineData(".hidden")]
    [InlineData("a/b")]
    public void Names_and_versions_must_be_safe_path_segments(string version)
    {
        var m = TestModels.Manifest(TestModels.V1, "1.0.0", 1);
        m.Version = version;
        Assert.Equal(BundleFailure.Manifest, Assert.Throws<BundleException>(() => BundleBuilder.Build(m, TestModels.V1.OnnxBytes)).Failure);
    }

    [Fact]
    public void A_manifest_without_golden_vectors_is_refused()
    {
        var m = TestModels.Manifest(TestModels.V1, "1.0.0", 1);
        m.GoldenVectors.Vectors.Clear();
        Assert.Contains("never activated unchecked", Assert.Throws<BundleException>(() => BundleBuilder.Build(m, TestModels.V1.OnnxBytes)).Message);
    }

    [Fact]
    public void Target_paths_follow_models_name_version_bundle()
    {
        Assert.Equal("models/kws/1.4.0.bundle", BundleLayout.TargetPath("kws", "1.4.0"));
        Assert.True(BundleLayout.TryParseTargetPath("models/kws/1.4.0.bundle", "kws", out var v));
        Assert.Equal("1.4.0", v);
        Assert.False(BundleLayout.TryParseTargetPath("models/kws/../x.bundle", "kws", out _));
        Assert.False(BundleLayout.TryParseTargetPath("models/other/1.bundle", "kws", out _));
    }
}
