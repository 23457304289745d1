using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace EdgeAgent.Demo;

/// <summary>
/// The hub's admin API as the demo and the fleet simulation (tests/EdgeAgent.FleetSim links this file) use it:
/// bearer token, JSON in and out, a refusal becomes a <see cref="HubApiException"/> with the hub's own message.
/// </summary>
internal sealed class HubApi(Uri baseUri, string token) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(30), DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", token) } };

    public Uri BaseUri => baseUri;

    public async Task<JsonNode?> GetAsync(string path, CancellationToken ct)
    {
        using var r = await _http.GetAsync(path, ct);
        return await ReadAsync(r, "GET " + path, ct);
    }

    /// <summary>GET that answers null for 404 instead of throwing.</summary>
    public async Task<JsonNode?> TryGetAsync(string path, CancellationToken ct)
    {
        using var r = await _http.GetAsync(path, ct);
        return r.StatusCode == HttpStatusCode.NotFound ? null : await ReadAsync(r, "GET " + path, ct);
    }

    public async Task<JsonNode?> PostAsync(string path, JsonNode? body, CancellationToken ct)
    {
        using var content = new StringContent(body?.ToJsonString() ?? "{}", Encoding.UTF8, "application/json");
        using var r = await _http.PostAsync(path, content, ct);
        return await ReadAsync(r, "POST " + path, ct);
    }

    public async Task<JsonNode?> RegisterModelAsync(byte[] onnx, byte[] manifest, byte[]? referenceCsv, CancellationToken ct)
    {
        using var form = new MultipartFormDataContent();
        var model = new ByteArrayContent(onnx);
        model.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(model, "model", "model.onnx");
        form.Add(new ByteArrayContent(manifest) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } }, "manifest", "manifest.json");
        if (referenceCsv is not null) form.Add(new ByteArrayContent(referenceCsv), "reference", "reference.csv");
        using var r = await _http.PostAsync("api/v1/models", form, ct);
        return await ReadAsync(r, "POST api/v1/models", ct);
    }

    private static async Task<JsonNode?> ReadAsync(HttpResponseMessage r, string what, CancellationToken ct)
    {
        var text = await r.Content.ReadAsStringAsync(ct);
        if (!r.IsSuccessStatusCode)
        {
            string message = text;
            try { message = (string?)JsonNode.Parse(text)?["error"] ?? text; } catch (System.Text.Json.JsonException) { }
            throw new HubApiException($"hub refused {what}: {(int)r.StatusCode} {message}");
        }
        return text.Length == 0 ? null : JsonNode.Parse(text);
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>The hub answered an admin API call with an error; the message carries the hub's reason.</summary>
internal sealed class HubApiException(string message) : Exception(message);
