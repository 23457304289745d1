using System.Globalization;
using EdgeAgent.Demo;

// edgeagent-demo: see DemoRun. Options are few on purpose: the demo runs on embedded defaults.
var options = new DemoOptions();
for (int i = 0; i < args.Length; i++)
{
    string Value() => i + 1 < args.Length ? args[++i] : throw new DemoException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--keep": options = options with { Keep = true }; break;
        case "--dir": options = options with { Directory = Path.GetFullPath(Value()) }; break;
        case "--agents": options = options with { Agents = int.Parse(Value(), CultureInfo.InvariantCulture) }; break;
        case "--agent-bin": options = options with { AgentBinary = Path.GetFullPath(Value()) }; break;
        case "--hub-bin": options = options with { HubBinary = Path.GetFullPath(Value()) }; break;
        case "--http-port": options = options with { HttpPort = int.Parse(Value(), CultureInfo.InvariantCulture) }; break;
        case "--mqtt-port": options = options with { MqttPort = int.Parse(Value(), CultureInfo.InvariantCulture) }; break;
        case "-h" or "--help":
            Console.WriteLine("""
                edgeagent-demo [--keep] [--dir DIR] [--agents N] [--http-port P] [--mqtt-port P] --agent-bin EDGEAGENT --hub-bin EDGEHUB
                  Runs Mosquitto (TLS + ACLs), edgehub and N edgeagent daemons on this machine and walks through
                  a release cycle. --keep leaves everything running until Ctrl-C. Logs and data stay in DIR.
                """);
            return 0;
        default:
            Console.Error.WriteLine($"edgeagent-demo: unknown option '{args[i]}' (try --help)");
            return 2;
    }
}
var problems = options.Validate();
if (problems.Count > 0)
{
    foreach (var p in problems) Console.Error.WriteLine($"edgeagent-demo: {p}");
    return 2;
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // First Ctrl-C: stop cleanly (children get SIGTERM). A second one falls through to the default (exit);
    // the children still die with us (setpriv --pdeathsig).
    if (stop.IsCancellationRequested) return;
    e.Cancel = true;
    Console.WriteLine();
    Console.WriteLine("Ctrl-C: stopping the agents, the hub and the broker …");
    stop.Cancel();
};
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx =>
{
    ctx.Cancel = true;
    stop.Cancel();
});
return await new DemoRun(options).RunAsync(stop.Token);
