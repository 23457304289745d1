using System.Text;
using System.Text.Json;

namespace EdgeAgent.Agent.Cli;

/// <summary>Writes one indented JSON document to stdout (no reflection: AOT-safe).</summary>
internal static class JsonOutput
{
    public static void Write(Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            body(writer);
        Console.Out.WriteLine(Encoding.UTF8.GetString(stream.ToArray()));
    }
}
