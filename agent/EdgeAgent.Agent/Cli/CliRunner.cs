using System.CommandLine;
using EdgeAgent.Onnx;
using EdgeAgent.OnnxFormat;

namespace EdgeAgent.Agent.Cli;

/// <summary>
/// Runs a verb's body and turns the failures an operator can cause (missing file, corrupt model,
/// wrong input) into one line on stderr and exit code 1, so scripts see a reason, not a stack trace.
/// Anything else is a bug and keeps its stack trace.
/// </summary>
internal static class CliRunner
{
    public const int Ok = 0;
    public const int Failed = 1;

    public static void SetAction(Command command, Func<ParseResult, CancellationToken, Task<int>> body) =>
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                return await body(parse, ct);
            }
            catch (Exception e) when (IsOperatorError(e))
            {
                Console.Error.WriteLine($"edgeagent {command.Name}: {e.Message}");
                return Failed;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                Console.Error.WriteLine($"edgeagent {command.Name}: cancelled");
                return Failed;
            }
        });

    public static void SetAction(Command command, Func<ParseResult, int> body) =>
        SetAction(command, (parse, _) => Task.FromResult(body(parse)));

    private static bool IsOperatorError(Exception e) => e is OnnxRuntimeException or OnnxRuntimeLoadException
        or ModelContractException or OnnxFormatException or FileNotFoundException or DirectoryNotFoundException
        or UnauthorizedAccessException or IOException or InvalidDataException or CliUsageException;
}

/// <summary>A command line that parsed but does not make sense (e.g. an input named twice).</summary>
internal sealed class CliUsageException(string message) : Exception(message);
