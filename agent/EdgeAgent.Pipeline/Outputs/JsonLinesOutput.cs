using System.Text.Json;
using EdgeAgent.Pipeline.Telemetry;

namespace EdgeAgent.Pipeline.Outputs;

/// <summary>
/// Writes each result as one JSON line (<see cref="PipelineJsonContext"/>; JSON Lines) to a <see cref="Stream"/>:
/// standard output (<see cref="ForStdout"/>) or an append-only file (<see cref="ForFile"/>).
/// </summary>
/// <remarks>Not thread-safe (the pipeline calls it from one pump task). Owns the stream it opened for a file.</remarks>
public sealed class JsonLinesOutput : IResultOutput, IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly bool _owns;
    private static readonly ReadOnlyMemory<byte> Newline = new byte[] { (byte)'\n' };
    private readonly Utf8JsonWriter _writer;

    public JsonLinesOutput(Stream stream, string name, bool ownsStream = false)
    {
        _stream = stream;
        _owns = ownsStream;
        Name = name;
        _writer = new Utf8JsonWriter(stream, new JsonWriterOptions { SkipValidation = false });
    }

    public string Name { get; }

    /// <summary>Standard output (journald on a service: one line per result).</summary>
    public static JsonLinesOutput ForStdout() => new(Console.OpenStandardOutput(), "stdout", ownsStream: true);

    /// <summary>Appends to <paramref name="path"/>, creating it; the directory must exist.</summary>
    /// <exception cref="IOException">The file cannot be opened; the message names it.</exception>
    public static JsonLinesOutput ForFile(string path)
    {
        try
        {
            var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, 4096, useAsync: true);
            return new JsonLinesOutput(stream, $"file:{path}", ownsStream: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"outputs.file: cannot open '{path}' for appending: {e.Message}", e);
        }
    }

    public async ValueTask WriteAsync(PipelineResult result, CancellationToken cancellationToken)
    {
        _writer.Reset(_stream);
        JsonSerializer.Serialize(_writer, result, PipelineJsonContext.Default.PipelineResult);
        await _writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        await _stream.WriteAsync(Newline, cancellationToken).ConfigureAwait(false);
        await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken) => await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        await _writer.DisposeAsync().ConfigureAwait(false);
        if (_owns) await _stream.DisposeAsync().ConfigureAwait(false);
    }
}
