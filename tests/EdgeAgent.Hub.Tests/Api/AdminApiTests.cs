using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeAgent.Bundles;
using EdgeAgent.Bundles.Manifest;
using EdgeAgent.Hub.Auth;
using EdgeAgent.Hub.Tests.Fixtures;
using EdgeAgent.OnnxFormat.Generators;
using EdgeAgent.TestSupport.Mosquitto;
using Xunit;

namespace EdgeAgent.Hub.Tests.Api;

public sealed class AdminApiTests : IAsyncLifetime
{
    private RunningHub _hub = null!;

    public async Task InitializeAsync() => _hub = await RunningHub.StartAsync();

    public async Task DisposeAsync() => await _hub.DisposeAsync();

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task Calls_without_a_valid_token_get_401_and_the_attempt_is_audited()
    {
        using var anonymous = _hub.Client(null);
        var r = await anonymous.GetAsync("api/v1/devices");
        Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        Assert.Equal("Bearer", r.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Contains("edgehub tokens create", await r.Content.ReadAsStringAsync());

        using var forged = _hub.Client("ehub_not-a-real-token");
        Assert.Equal(HttpStatusCode.Unauthorized, (await forged.PostAsync("api/v1/devices", Json("""{"id":"x"}"""))).StatusCode);

        var audit = await _hub.Store.ListAuditAsync(100);
        var row = Assert.Single(audit, a => a.Action == "POST /api/v1/devices");
        Assert.Equal(("anonymous", 401), (row.Actor, row.Status));
        Assert.Null(await _hub.Store.GetDeviceAsync("x"));
    }

    [Fact]
    public async Task Each_role_may_do_exactly_what_it_is_allowed_to()
    {
        using var reader = _hub.Client(_hub.ReadOnlyToken);
        using var op = _hub.Client(_hub.OperatorToken);
        using var admin = _hub.Client(_hub.AdminToken);

        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("api/v1/devices")).StatusCode);
        var refused = await reader.PostAsync("api/v1/devices", Json("""{"id":"press-1"}"""));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("needs operator", await refused.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.Created, (await op.PostAsync("api/v1/devices", Json("""{"id":"press-1","labels":{"site":"lyon"}}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await op.PostAsync("api/v1/devices", Json("""{"id":"press-1"}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await op.DeleteAsync("api/v1/devices/press-1")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await op.GetAsync("api/v1/audit")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.GetAsync("api/v1/tokens")).StatusCode);

        var device = await reader.GetFromJsonAsync<JsonObject>("api/v1/devices/press-1");
        Assert.Equal("lyon", (string?)device!["labels"]!["site"]);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("api/v1/devices/press-1")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await reader.GetAsync("api/v1/devices/press-1")).StatusCode);
    }

    [Fact]
    public async Task Bad_input_gets_a_clear_400_and_changes_nothing()
    {
        using var op = _hub.Client(_hub.OperatorToken);
        using var admin = _hub.Client(_hub.AdminToken);
        var slash = await op.PostAsync("api/v1/devices", Json("""{"id":"a/b"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, slash.StatusCode);
        Assert.Contains("cannot appear inside one MQTT topic level", await slash.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, (await op.PostAsync("api/v1/devices", Json("{not json"))).StatusCode);
        var role = await admin.PostAsync("api/v1/tokens", Json("""{"name":"x","role":"superuser"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, role.StatusCode);
        Assert.Contains("admin, operator, read-only", await role.Content.ReadAsStringAsync());
        Assert.Empty(await _hub.Store.ListDevicesAsync());
        Assert.Equal(3, (await _hub.Store.ListTokensAsync()).Count);
    }

    [Fact]
    public async Task Every_mutating_call_leaves_an_audit_row_with_who_what_and_outcome()
    {
        using var op = _hub.Client(_hub.OperatorToken);
        using var admin = _hub.Client(_hub.AdminToken);
        var calls = new (HttpClient Client, HttpMethod Method, string Path, HttpContent? Body, HttpStatusCode Expected)[]
        {
            (op, HttpMethod.Post, "api/v1/devices", Json("""{"id":"d-audit"}"""), HttpStatusCode.Created),
            (op, HttpMethod.Put, "api/v1/devices/d-audit/labels", Json("""{"zone":"3"}"""), HttpStatusCode.OK),
            (admin, HttpMethod.Post, "api/v1/tokens", Json("""{"name":"ci","role":"read-only"}"""), HttpStatusCode.Created),
            (admin, HttpMethod.Post, "api/v1/telemetry/retention", Json("""{"olderThanDays":30}"""), HttpStatusCode.OK),
            (op, HttpMethod.Post, "api/v1/models", new MultipartFormDataContent(), HttpStatusCode.BadRequest),
            (admin, HttpMethod.Delete, "api/v1/devices/d-audit", null, HttpStatusCode.NoContent),
        };
        foreach (var (client, method, path, body, expected) in calls)
        {
            var r = await client.SendAsync(new HttpRequestMessage(method, path) { Content = body });
            Assert.Equal(expected, r.StatusCode);
        }
        var audit = (await _hub.Store.ListAuditAsync(100)).Reverse().ToList();
        Assert.Equal(calls.Length, audit.Count);
        for (int i = 0; i < calls.Length; i++)
        {
            Assert.Equal($"{calls[i].Method} /{calls[i].Path}", audit[i].Action);
            Assert.Equal((int)calls[i].Expected, audit[i].Status);
            Assert.StartsWith(calls[i].Client == admin ? "test-admin (tok_" : "test-operator (tok_", audit[i].Actor);
        }
        Assert.Equal("d-audit", audit[0].Target);
        // Reads are not audited; the audit log itself is readable by admins only.
        var listed = await admin.GetFromJsonAsync<JsonArray>("api/v1/audit");
        Assert.Equal(calls.Length, listed!.Count);
    }

    [Fact]
    public async Task The_openapi_document_lists_every_api_endpoint_with_its_role()
    {
        using var anonymous = _hub.Client(null);
        var doc = await anonymous.GetFromJsonAsync<JsonObject>("openapi/v1.json");
        Assert.Equal("3.0.3", (string?)doc!["openapi"]);
        var paths = doc["paths"]!.AsObject();
        Assert.Equal("operator", (string?)paths["/api/v1/devices"]!["post"]!["x-required-role"]);
        Assert.Equal("read-only", (string?)paths["/api/v1/devices"]!["get"]!["x-required-role"]);
        Assert.Equal("admin", (string?)paths["/api/v1/devices/{id}"]!["delete"]!["x-required-role"]);
        Assert.NotNull(paths["/api/v1/models"]!["post"]);
        Assert.NotNull(paths["/api/v1/drift/{model}/{version}"]!["get"]);
        Assert.Equal("bearer", (string?)doc["components"]!["securitySchemes"]!["bearer"]!["scheme"]);
    }

    [Fact]
    public async Task Tokens_create_on_the_command_line_prints_a_working_token_and_stores_only_its_hash()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "edgehub.dll");
        var created = await ChildProcess.RunAsync("dotnet", [dll, "tokens", "create", "--role", "operator", "--name", "deploy-bot", "--store", "sqlite:" + _hub.StorePath]);
        Assert.True(created.ExitCode == 0, created.StandardError);
        var secret = created.StandardOutput.Trim();
        Assert.StartsWith(ApiTokens.Prefix, secret);

        var tokens = await _hub.Store.ListTokensAsync();
        var bot = Assert.Single(tokens, t => t.Name == "deploy-bot");
        Assert.Equal(ApiTokens.Hash(secret), bot.TokenHash);
        foreach (var file in new[] { _hub.StorePath, _hub.StorePath + "-wal" }.Where(File.Exists))
            Assert.DoesNotContain(secret, Encoding.Latin1.GetString(await File.ReadAllBytesAsync(file)));
        Assert.Contains(await _hub.Store.ListAuditAsync(10), a => a.Action == "tokens create" && a.Target == bot.Id);

        using var client = _hub.Client(secret);
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("api/v1/devices", Json("""{"id":"via-cli"}"""))).StatusCode);

        var bad = await ChildProcess.RunAsync("dotnet", [dll, "tokens", "create", "--role", "root", "--store", "sqlite:" + _hub.StorePath]);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("--role 'root' is not one of admin, operator, read-only", bad.StandardError);
    }

    /// <summary>A valid bundle manifest (without its model section) for a generated model, with golden vectors from its C# reference.</summary>
    internal static BundleManifest ManifestFor(GeneratedModel model, string version)
    {
        var samples = model.ReferenceSamples(3);
        return new BundleManifest
        {
            Name = "vib-mlp",
            Version = version,
            ReleaseCounter = 1,
            HardwareIds = ["linux-x64"],
            Inputs = [new TensorDescriptor { Name = model.InputName, ElementType = "float32", Shape = [.. model.InputShape] }],
            Outputs = [new TensorDescriptor { Name = model.OutputName, ElementType = "float32", Shape = [.. model.OutputShape] }],
            Labels = [.. model.Labels],
            Windowing = new WindowingSpec { Length = 64, Stride = 32, Channels = 1, SampleRateHz = 100 },
            ConfidenceThreshold = 0.6,
            LatencyBudgetMs = 5,
            GoldenVectors = new GoldenVectorSet
            {
                Tolerance = model.ProbabilityTolerance,
                Vectors = [.. samples.Select(g => new GoldenVector { Input = (float[])g.Input.Data, Expected = (float[])g.ExpectedOutput.Data })],
            },
        };
    }

    internal static string Json(BundleManifest m) => Encoding.UTF8.GetString(BundleManifestJson.Serialize(m));

    [Fact]
    public async Task Serve_and_migrate_refuse_an_unusable_store_with_one_clear_line()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "edgehub.dll");
        var serve = await ChildProcess.RunAsync("dotnet", [dll, "serve", "--store", "mysql:db", "--urls", "http://127.0.0.1:1"]);
        Assert.Equal(1, serve.ExitCode);
        Assert.Contains("neither 'sqlite:PATH' nor 'postgres:CONNECTION-STRING'", serve.StandardError);
        var missingDir = await ChildProcess.RunAsync("dotnet", [dll, "migrate", "--store", "sqlite:/nonexistent-dir/hub.db"]);
        Assert.Equal(1, missingDir.ExitCode);
        Assert.Contains("directory '/nonexistent-dir' does not exist", missingDir.StandardError);

        var migrate = await ChildProcess.RunAsync("dotnet", [dll, "migrate", "--store", "sqlite:" + _hub.StorePath]);
        Assert.True(migrate.ExitCode == 0, migrate.StandardError);
        var versions = string.Join(",", EdgeAgent.Hub.Storage.SchemaMigrations.For("sqlite").Select(m => m.Version));
        Assert.Contains($"applied now: []; schema versions: [{versions}]", migrate.StandardOutput);
    }

    [Fact]
    public async Task Serve_refuses_half_a_tls_identity_and_missing_pem_files_before_starting()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "edgehub.dll");
        var serve = await ChildProcess.RunAsync("dotnet", [dll, "serve", "--store", "sqlite:" + _hub.StorePath, "--urls", "http://127.0.0.1:1",
            "--mqtt", "127.0.0.1:1", "--mqtt-ca", "/nonexistent/ca.crt", "--mqtt-cert", "/nonexistent/hub.crt"]);
        Assert.Equal(1, serve.ExitCode);
        Assert.Contains("--mqtt-cert and --mqtt-key go together", serve.StandardError);
        Assert.Contains("--mqtt-ca /nonexistent/ca.crt: no such file", serve.StandardError);
    }

    [Fact]
    public async Task A_generated_int8_model_is_registered_after_its_checks_pass_and_its_bundle_is_built()
    {
        var model = QdqMlp.Generate();
        var manifest = ManifestFor(model, "1.0.0");
        using var op = _hub.Client(_hub.OperatorToken);
        var r = await op.PostAsync("api/v1/models", Upload(model.OnnxBytes, Json(manifest)));
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.Created, body);
        var view = JsonNode.Parse(body)!;
        Assert.Equal(model.OnnxBytes.Length, (long)view["sizeBytes"]!);
        Assert.Contains("float32", (string?)view["contract"]);
        Assert.Equal(model.OnnxBytes, await _hub.Store.GetModelOnnxAsync("vib-mlp", "1.0.0"));

        using var reader = _hub.Client(_hub.ReadOnlyToken);
        var bundle = BundleReader.Read(await reader.GetStreamAsync("api/v1/models/vib-mlp/1.0.0/bundle"));
        Assert.Equal(model.OnnxBytes, bundle.Model);
        Assert.Equal(("vib-mlp", "1.0.0", (long)model.OnnxBytes.Length), (bundle.Manifest.Name, bundle.Manifest.Version, bundle.Manifest.Model.Length));
        Assert.Equal(3, bundle.Manifest.GoldenVectors.Vectors.Count);

        var again = await op.PostAsync("api/v1/models", Upload(model.OnnxBytes, Json(manifest)));
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Contains("already registered", await again.Content.ReadAsStringAsync());
        Assert.Contains(await _hub.Store.ListAuditAsync(10), a => a.Target == "vib-mlp@1.0.0" && a.Status == 201);
    }

    [Fact]
    public async Task A_corrupt_model_is_refused_with_a_clear_message_and_not_stored()
    {
        var model = QdqMlp.Generate();
        using var op = _hub.Client(_hub.OperatorToken);
        async Task<string> RefusedAsync(byte[] onnx, string manifest)
        {
            var r = await op.PostAsync("api/v1/models", Upload(onnx, manifest));
            var text = await r.Content.ReadAsStringAsync();
            Assert.True(r.StatusCode == HttpStatusCode.UnprocessableEntity, text);
            return text;
        }

        Assert.Contains("model.onnx is not a valid ONNX model", await RefusedAsync(model.OnnxBytes[..(model.OnnxBytes.Length / 2)], Json(ManifestFor(model, "2"))));
        Assert.Contains("model.onnx is not a valid ONNX model", await RefusedAsync("not an onnx model at all"u8.ToArray(), Json(ManifestFor(model, "2"))));

        var wrongGolden = ManifestFor(model, "3");
        wrongGolden.GoldenVectors.Vectors[0].Expected = [1, 0, 0, 0];
        wrongGolden.GoldenVectors.Tolerance = 1e-4f;
        Assert.Contains("golden vector 0: output 'probabilities'[", await RefusedAsync(model.OnnxBytes, Json(wrongGolden)));

        var wrongName = ManifestFor(model, "4");
        wrongName.Inputs[0].Name = "x";
        Assert.Contains("manifest input 'x' is not in the model", await RefusedAsync(model.OnnxBytes, Json(wrongName)));

        var noHardware = ManifestFor(model, "5");
        noHardware.HardwareIds = [];
        Assert.Contains("hardwareIds must list at least one", await RefusedAsync(model.OnnxBytes, Json(noHardware)));

        Assert.Contains("not a valid bundle manifest", await RefusedAsync(model.OnnxBytes, """{"name":"vib-mlp","hardwareId":["x"]}"""));

        Assert.Empty(await _hub.Store.ListModelsAsync());
    }

    [Fact]
    public async Task A_model_over_the_size_limit_is_refused_before_anything_else()
    {
        await using var small = await RunningHub.StartAsync(maxModelBytes: 1000);
        var model = QdqMlp.Generate();
        using var op = small.Client(small.OperatorToken);
        var r = await op.PostAsync("api/v1/models", Upload(model.OnnxBytes, Json(ManifestFor(model, "1"))));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, r.StatusCode);
        Assert.Contains("over the hub's limit of 1000 bytes", await r.Content.ReadAsStringAsync());
        Assert.Empty(await small.Store.ListModelsAsync());
    }

    [Fact]
    public async Task Reference_data_given_at_registration_becomes_the_bundles_drift_profile()
    {
        var model = QdqMlp.Generate();
        var rows = new StringBuilder("ax,ay,az\n");
        var random = new Random(5);
        for (int i = 0; i < 500; i++)
            rows.Append(FormattableString.Invariant($"{random.NextDouble():F4},{random.NextDouble() * 2:F4},{-random.NextDouble():F4}\n"));
        using var op = _hub.Client(_hub.OperatorToken);
        var form = Upload(model.OnnxBytes, Json(ManifestFor(model, "1.0.0")));
        form.Add(new StringContent(rows.ToString()), "reference", "train.csv");
        var r = await op.PostAsync("api/v1/models", form);
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());

        using var reader = _hub.Client(_hub.ReadOnlyToken);
        var bundle = BundleReader.Read(await reader.GetStreamAsync("api/v1/models/vib-mlp/1.0.0/bundle"));
        var profile = EdgeAgent.Sketches.Profiles.ReferenceProfileJson.FromDocument(bundle.Manifest.DriftProfile!);
        Assert.Equal(["ax", "ay", "az"], profile.Features.Select(f => f.Name));
        Assert.Equal(500, profile["ay"].Statistics.Count);
        Assert.InRange(profile["ay"].Sketch.GetQuantile(0.5), 0.8, 1.2);
        Assert.NotNull((await _hub.Store.GetModelAsync("vib-mlp", "1.0.0"))!.ReferenceProfile);
    }

    [Theory]
    [InlineData("ax,ay\n1,2\n3,NaN\n", "line 3, column 'ay': 'NaN' is not a finite number")]
    [InlineData("ax,ay\n1,2,3\n", "line 2: 3 values, the header has 2")]
    [InlineData("1,2\n3,4\n", "must name every column")]
    [InlineData("ax,ay\n1,2\n", "has 1 rows; at least 100 are needed")]
    [InlineData("", "reference CSV is empty")]
    public async Task Unusable_reference_data_is_refused_with_the_place_of_the_problem(string csv, string expected)
    {
        var model = QdqMlp.Generate();
        using var op = _hub.Client(_hub.OperatorToken);
        var form = Upload(model.OnnxBytes, Json(ManifestFor(model, "1.0.0")));
        form.Add(new ByteArrayContent(Encoding.UTF8.GetBytes(csv)), "reference", "train.csv");
        var r = await op.PostAsync("api/v1/models", form);
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.UnprocessableEntity, text);
        Assert.Contains(expected, text);
        Assert.Empty(await _hub.Store.ListModelsAsync());
    }

    [Fact]
    public async Task A_npy_reference_needs_its_feature_names()
    {
        var model = QdqMlp.Generate();
        var data = new float[200 * 2];
        for (int i = 0; i < data.Length; i++) data[i] = i % 7;
        var npy = EdgeAgent.OnnxFormat.NpyFormat.Write(EdgeAgent.OnnxFormat.OnnxTensor.Create("", [200, 2], data));
        using var op = _hub.Client(_hub.OperatorToken);
        var form = Upload(model.OnnxBytes, Json(ManifestFor(model, "1.0.0")));
        form.Add(new ByteArrayContent(npy), "reference", "train.npy");
        var refused = await op.PostAsync("api/v1/models", form);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        Assert.Contains("give as many names in 'referenceFeatures'", await refused.Content.ReadAsStringAsync());

        form = Upload(model.OnnxBytes, Json(ManifestFor(model, "1.0.0")));
        form.Add(new ByteArrayContent(npy), "reference", "train.npy");
        form.Add(new StringContent("x0, x1"), "referenceFeatures");
        var ok = await op.PostAsync("api/v1/models", form);
        Assert.True(ok.StatusCode == HttpStatusCode.Created, await ok.Content.ReadAsStringAsync());
    }

    internal static MultipartFormDataContent Upload(byte[] onnx, string manifest)
    {
        var form = new MultipartFormDataContent();
        var model = new ByteArrayContent(onnx);
        model.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(model, "model", "model.onnx");
        var m = new StringContent(manifest, Encoding.UTF8, "application/json");
        form.Add(m, "manifest", "manifest.json");
        return form;
    }
}
