using System.Runtime.InteropServices;
using EdgeAgent.Hub.Provisioning.Identity;

namespace EdgeAgent.Hub.Provisioning.Broker;

/// <summary>
/// Makes a running Mosquitto re-read its configuration, ACL, password file and CRL: SIGHUP to its
/// process (mosquitto(8) "Signals"). Connected clients keep their connection; the new rules apply from
/// their next CONNECT (a revoked certificate is refused at the next handshake) and, for ACLs, to their
/// next publish/subscribe. Thread safe (stateless).
/// </summary>
public static partial class BrokerReload
{
    private const int SigHup = 1;

    /// <summary>Sends SIGHUP to <paramref name="processId"/>.</summary>
    /// <exception cref="ProvisioningException">No such process or not permitted: the message says what to check.</exception>
    public static void Signal(int processId)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(processId, 2);
        if (Kill(processId, SigHup) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new ProvisioningException(errno switch
            {
                3 => $"Cannot reload the broker: no process {processId} (ESRCH). The files are written; start Mosquitto or pass the right pid (or run 'systemctl reload mosquitto').",
                1 => $"Cannot reload the broker: not allowed to signal process {processId} (EPERM). Run edgehub as the broker's user or root, or run 'systemctl reload mosquitto'.",
                _ => $"Cannot reload the broker: kill({processId}, SIGHUP) failed with errno {errno}.",
            });
        }
    }

    /// <summary>Reads a pid file (Mosquitto's <c>pid_file</c>) and signals that process.</summary>
    public static async Task SignalFromPidFileAsync(string pidFile, CancellationToken cancellationToken)
    {
        string text;
        try
        {
            text = (await File.ReadAllTextAsync(pidFile, cancellationToken).ConfigureAwait(false)).Trim();
        }
        catch (IOException e)
        {
            throw new ProvisioningException($"Cannot reload the broker: pid file {pidFile} is unreadable ({e.Message}). Is Mosquitto running with 'pid_file {pidFile}'?", e);
        }

        if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int pid))
        {
            throw new ProvisioningException($"Cannot reload the broker: pid file {pidFile} holds '{text}', not a process id.");
        }

        Signal(pid);
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
