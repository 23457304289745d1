using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EdgeAgent.Hub.Dashboard.Tests.Browser;

/// <summary>
/// One tab attached in flat mode. Collects everything the page reports as an error: <c>console.error</c>
/// and <c>console.assert</c> calls, uncaught exceptions, and browser log entries of level error (failed
/// loads, CSP violations, network errors).
/// </summary>
public sealed class BrowserPage
{
    private readonly CdpConnection _cdp;
    private readonly string _targetId;
    private readonly ConcurrentQueue<string> _errors = new();

    internal BrowserPage(CdpConnection cdp, string targetId, string sessionId)
    {
        _cdp = cdp;
        _targetId = targetId;
        SessionId = sessionId;
        cdp.Event += OnEvent;
    }

    public string SessionId { get; }

    /// <summary>Console errors, exceptions and error log entries seen so far, in order.</summary>
    public IReadOnlyList<string> Errors => [.. _errors];

    internal async Task EnableAsync(CancellationToken ct)
    {
        await SendAsync("Page.enable", null, ct);
        await SendAsync("Runtime.enable", null, ct);
        await SendAsync("Log.enable", null, ct);
        await SendAsync("Emulation.setDeviceMetricsOverride", new JsonObject { ["width"] = 1360, ["height"] = 900, ["deviceScaleFactor"] = 1, ["mobile"] = false }, ct);
    }

    private void OnEvent(CdpEvent e)
    {
        if (e.SessionId != SessionId) return;
        switch (e.Method)
        {
            case "Runtime.consoleAPICalled" when e.Params.GetProperty("type").GetString() is "error" or "assert":
                _errors.Enqueue("console." + e.Params.GetProperty("type").GetString() + ": " +
                    string.Join(" ", e.Params.GetProperty("args").EnumerateArray().Select(a =>
                        a.TryGetProperty("value", out var v) ? v.ToString() : a.TryGetProperty("description", out var d) ? d.GetString() : "?")));
                break;
            case "Runtime.exceptionThrown":
                var details = e.Params.GetProperty("exceptionDetails");
                _errors.Enqueue("exception: " + (details.TryGetProperty("exception", out var ex) && ex.TryGetProperty("description", out var desc)
                    ? desc.GetString() : details.GetProperty("text").GetString()));
                break;
            case "Log.entryAdded":
                var entry = e.Params.GetProperty("entry");
                if (entry.GetProperty("level").GetString() == "error")
                    _errors.Enqueue($"log ({entry.GetProperty("source").GetString()}): {entry.GetProperty("text").GetString()}" +
                        (entry.TryGetProperty("url", out var url) ? $" [{url.GetString()}]" : ""));
                break;
        }
    }

    public Task<JsonElement> SendAsync(string method, JsonObject? parameters = null, CancellationToken ct = default) =>
        _cdp.SendAsync(method, parameters, SessionId, ct);

    public async Task NavigateAsync(string url, CancellationToken ct = default)
    {
        var r = await SendAsync("Page.navigate", new JsonObject { ["url"] = url }, ct);
        if (r.TryGetProperty("errorText", out var error)) throw new InvalidOperationException($"navigation to {url} failed: {error.GetString()}");
    }

    /// <summary>Evaluates an expression (awaiting a promise) and returns its JSON value; a thrown error fails the call.</summary>
    public async Task<JsonElement> EvaluateAsync(string expression, CancellationToken ct = default)
    {
        var r = await SendAsync("Runtime.evaluate", new JsonObject
        {
            ["expression"] = expression, ["returnByValue"] = true, ["awaitPromise"] = true, ["userGesture"] = true,
        }, ct);
        if (r.TryGetProperty("exceptionDetails", out var ex))
            throw new InvalidOperationException($"page script '{expression}' threw: {ex}");
        return r.GetProperty("result").TryGetProperty("value", out var v) ? v.Clone() : default;
    }

    public async Task<string> TextAsync(string selector, CancellationToken ct = default)
    {
        var v = await EvaluateAsync($"(document.querySelector({JsonSerializer.Serialize(selector)}) || {{}}).innerText ?? null", ct);
        return v.ValueKind == JsonValueKind.String ? v.GetString()! : throw new InvalidOperationException($"no element matches '{selector}'");
    }

    /// <summary>Polls a boolean expression until true (a liveness bound, not a timing assertion).</summary>
    public async Task WaitForAsync(string condition, string what, int seconds = 30, CancellationToken ct = default)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var v = await EvaluateAsync($"(() => {{ try {{ return !!({condition}); }} catch {{ return false; }} }})()", ct);
            if (v.ValueKind == JsonValueKind.True) return;
            if (DateTime.UtcNow > deadline)
            {
                var body = await EvaluateAsync("document.body ? document.body.innerText.slice(0, 2000) : ''", ct);
                throw new TimeoutException($"gave up waiting for {what} ({condition}); errors: [{string.Join("; ", Errors)}]; page text: {body}");
            }
            await Task.Delay(100, ct);
        }
    }

    /// <summary>PNG of the whole page (not only the viewport).</summary>
    public async Task<byte[]> ScreenshotAsync(CancellationToken ct = default)
    {
        var height = (await EvaluateAsync("Math.ceil(document.documentElement.scrollHeight)", ct)).GetInt32();
        var r = await SendAsync("Page.captureScreenshot", new JsonObject
        {
            ["format"] = "png", ["captureBeyondViewport"] = true,
            ["clip"] = new JsonObject { ["x"] = 0, ["y"] = 0, ["width"] = 1360, ["height"] = Math.Max(height, 200), ["scale"] = 1 },
        }, ct);
        return Convert.FromBase64String(r.GetProperty("data").GetString()!);
    }

    public async Task CloseAsync()
    {
        _cdp.Event -= OnEvent;
        try
        {
            await _cdp.SendAsync("Target.closeTarget", new JsonObject { ["targetId"] = _targetId });
        }
        catch (Exception e) when (e is CdpException or IOException)
        {
            // The browser may already be closing.
        }
    }
}
