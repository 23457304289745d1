using System.Text.RegularExpressions;

namespace EdgeAgent.Hub.Provisioning.Identity;

/// <summary>
/// Validates device ids. A device id becomes an MQTT topic level (<c>edgeagent/v1/{id}/…</c>), the
/// Mosquitto user name (<c>%u</c> in the ACL pattern, the certificate CN) and a directory name, so
/// only <c>[a-z0-9][a-z0-9-]{0,62}</c> is accepted: no MQTT wildcards (<c>+</c>, <c>#</c>), no level
/// separator (<c>/</c>), no path tricks (<c>..</c>), nothing a shell or the password file (<c>:</c>) treats
/// specially. Thread safe (stateless).
/// </summary>
public static partial class DeviceId
{
    /// <summary>
    /// Ids that would collide with a topic the ACL grants to everybody: a device called <c>fleet</c>
    /// would get <c>readwrite edgeagent/v1/fleet/#</c> through the <c>%u</c> pattern and could forge the
    /// fleet hint (DESIGN.md §5).
    /// </summary>
    public static IReadOnlySet<string> Reserved { get; } = new HashSet<string>(StringComparer.Ordinal) { "fleet", "hub", "edgehub", "all", "broker" };

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,62}$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    /// <summary>True when <paramref name="candidate"/> is a usable device id; otherwise <paramref name="problem"/> says why, for an operator.</summary>
    public static bool TryValidate(string? candidate, out string problem)
    {
        problem = Explain(candidate) ?? string.Empty;
        return problem.Length == 0;
    }

    /// <summary>Throws <see cref="InvalidDeviceIdException"/> with an operator-readable reason unless the id is usable.</summary>
    public static string Validate(string? candidate)
    {
        string? problem = Explain(candidate);
        if (problem is not null)
        {
            throw new InvalidDeviceIdException(candidate ?? string.Empty, problem);
        }

        return candidate!;
    }

    private static string? Explain(string? id)
    {
        const string rule = "device ids are 1-63 characters of lower-case letters a-z, digits and '-', starting with a letter or digit";
        if (string.IsNullOrEmpty(id))
        {
            return $"the device id is empty; {rule}";
        }

        if (id.Length > 63)
        {
            return $"the device id has {id.Length} characters, at most 63 are allowed; {rule}";
        }

        if (id.Contains('+') || id.Contains('#'))
        {
            return $"'+' and '#' are MQTT wildcards and would let the device reach other devices' topics; {rule}";
        }

        if (id.Contains('/'))
        {
            return $"'/' separates MQTT topic levels and directories; {rule}";
        }

        if (id.Contains("..", StringComparison.Ordinal))
        {
            return $"'..' would escape the device's directory; {rule}";
        }

        if (!Pattern().IsMatch(id))
        {
            char bad = id.FirstOrDefault(c => !(c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-'));
            return bad != default
                ? $"character '{bad}' (U+{(int)bad:X4}) is not allowed; {rule}"
                : $"'{id}' must start with a letter or digit; {rule}";
        }

        if (Reserved.Contains(id))
        {
            return $"'{id}' is reserved (it names a fleet-wide topic or the hub); choose another id";
        }

        return null;
    }
}

/// <summary>A device id was refused; <see cref="Exception.Message"/> says why and what is allowed.</summary>
public sealed class InvalidDeviceIdException(string deviceId, string reason)
    : ArgumentException($"Device id '{deviceId}' refused: {reason}.")
{
    public string DeviceId { get; } = deviceId;
}
