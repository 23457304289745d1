using System.Text.Json;
using EdgeAgent.Agent.Service;
using EdgeAgent.Hosting.Control;
using EdgeAgent.Updates.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeAgent.Updates.Tests.Agent;

/// <summary>The update loop's control commands over a real control socket (what <c>edgeagent update …</c> and <c>models rollback</c> send).</summary>
public sealed class UpdateLoopControlTests
{
    private static async Task<(ControlServer Server, ControlClient Client)> ServeAsync(UpdateLoopTestBed bed)
    {
        var registry = new ControlCommandRegistry();
        bed.Loop.RegisterControl(registry);
        var socket = Path.Combine(bed.Directory, "control.sock");
        var server = new ControlServer(registry, new ControlServerOptions { SocketPath = socket }, NullLogger<ControlServer>.Instance);
        await server.StartAsync(CancellationToken.None);
        return (server, new ControlClient(socket, TimeSpan.FromSeconds(60)));
    }

    private static JsonElement Args(string json) => JsonDocument.Parse(json).RootElement.Clone();

    [Fact]
    public async Task Check_status_and_rollback_answer_over_the_control_socket()
    {
        await using var bed = await UpdateLoopTestBed.CreateAsync();
        await bed.StartAsync();
        var (server, client) = await ServeAsync(bed);
        await using var _ = server;
        var target = bed.Publish("2.0.0", TestModels.Bundle(TestModels.V2, "2.0.0", 2));
        bed.Assign(target);

        var check = await client.SendAsync(UpdateLoop.CheckCommand, Args("""{"wait":true}"""));
        Assert.True(check.Ok);
        Assert.Equal("updated", check.Result!.Value.GetProperty("result").GetString());
        Assert.Equal("committed", check.Result.Value.GetProperty("families")[0].GetProperty("phase").GetString());

        var status = (await client.SendAsync(UpdateLoop.StatusCommand)).Result!.Value;
        Assert.Equal("idle", status.GetProperty("state").GetString());
        Assert.Equal("updated", status.GetProperty("lastCheck").GetProperty("result").GetString());
        Assert.Equal("committed", status.GetProperty("lastEvent").GetProperty("to").GetString());

        var rollback = await client.SendAsync(UpdateLoop.RollbackCommand, Args("""{"family":"kws","reason":"operator test"}"""));
        Assert.True(rollback.Ok);
        Assert.Equal(("rolled-back", "2.0.0", "1.0.0"), (rollback.Result!.Value.GetProperty("phase").GetString(),
            rollback.Result.Value.GetProperty("from").GetString(), rollback.Result.Value.GetProperty("active").GetString()));

        // Nothing further back: a clear refusal, and nothing changes.
        var refused = await client.SendAsync(UpdateLoop.RollbackCommand, Args("""{"family":"kws"}"""));
        Assert.False(refused.Ok);
        Assert.Equal(ControlErrorCodes.Failed, refused.Error!.Code);
        Assert.Contains("has no previous slot to roll back to", refused.Error.Message);
        Assert.Equal("1.0.0", bed.Pointer!.ActiveVersion);
    }

    [Fact]
    public async Task A_check_without_wait_answers_at_once_with_its_id_and_status_follows_it()
    {
        await using var bed = await UpdateLoopTestBed.CreateAsync();
        await bed.StartAsync();
        var (server, client) = await ServeAsync(bed);
        await using var _ = server;

        var requested = (await client.SendAsync(UpdateLoop.CheckCommand)).Result!.Value.GetProperty("requested").GetInt64();
        await UpdateLoopTestBed.WaitUntilAsync(() => bed.Loop.Status.LastCheck?.Id >= requested, TimeSpan.FromSeconds(60), () => "check never ran");
        var status = (await client.SendAsync(UpdateLoop.StatusCommand)).Result!.Value;
        Assert.Equal(requested, status.GetProperty("lastCheck").GetProperty("id").GetInt64());
        Assert.Equal("no-assignment", status.GetProperty("lastCheck").GetProperty("result").GetString());
        Assert.Contains("assignments/dev-1.json", status.GetProperty("lastCheck").GetProperty("detail").GetString());
    }
}
